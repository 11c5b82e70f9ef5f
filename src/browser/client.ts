/**
 * aqevent in the browser: one ES module, no dependencies, no bundler
 * (served by `aqevent serve` at /client.js, and the package's "aqevent/browser").
 *
 *   import { liveTable, bindTable } from '/client.js';
 *   const live = liveTable({ url: '', token, table: 'public.person', onChange: (change) => … });
 *   bindTable(live, document.querySelector('table'));
 *
 * The stream is read with fetch() rather than EventSource, so the token goes
 * in a header and the reconnect (with backoff and Last-Event-ID) is its own.
 */

export type Row = Record<string, unknown>;
export type Grain = 'table' | 'row' | 'field' | 'column';

export interface Change {
  type: 'snapshot' | 'insert' | 'update' | 'delete' | 'truncate' | 'overflow';
  /** The row's key (single-column keys: the value as text; composite: a JSON array of texts). */
  key?: string;
  row?: Row;
  /** The event as the server sent it (absent for the snapshot). */
  event?: Record<string, any>;
}

export type Status = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'error';

export interface LiveTableOptions {
  /** Server base URL ('' for the page's own origin). */
  url: string;
  /** A JWT for the server (Authorization: Bearer). */
  token?: string;
  /** An existing session (already subscribed); without it one is created and subscribed. */
  session?: string;
  /** "schema.table". */
  table: string;
  /** Grain of the subscription made when no session is given (default 'table'). */
  grain?: Grain;
  /** The subscription target for the row, field and column grains (see docs/http.md), e.g. ['public.person', '3']. */
  target?: unknown;
  /** Passed on to the subscription (the server refuses it until live views exist). */
  filter?: unknown;
  /** Key column(s); default: the table's primary key. */
  key?: string | string[];
  /** Session ttl when one is created (default '1d'). */
  ttl?: string;
  onChange?: (change: Change, rows: Map<string, Row>) => void;
  onStatus?: (status: Status, detail?: string) => void;
  /** Acknowledge processed events this often (ms) besides Last-Event-ID on reconnect; 0: never. Default 2000. */
  ackEvery?: number;
  /** Longest wait between reconnects (ms). Default 30000. */
  maxBackoff?: number;
}

export interface LiveTable {
  readonly rows: Map<string, Row>;
  /** The session id, once known. */
  readonly session: Promise<string>;
  /** Resolves when the initial rows are in. */
  readonly ready: Promise<void>;
  /** The id of the last event applied. */
  readonly lastEventId: string | undefined;
  close(): void;
}

class HttpFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Keeps a Map of a table's rows in sync: initial rows, then the session's events, across reconnects. */
export function liveTable(options: LiveTableOptions): LiveTable {
  const base = options.url.replace(/\/$/, '');
  const rows = new Map<string, Row>();
  let keyColumns: string[] = typeof options.key === 'string' ? [options.key] : options.key ?? [];
  let lastId: string | undefined;
  let closed = false;
  let abort: AbortController | undefined;
  const toAck: string[] = [];
  const status = (s: Status, detail?: string) => options.onStatus?.(s, detail);
  const change = (c: Change) => options.onChange?.(c, rows);

  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...extra,
  });

  async function call(method: string, path: string, body?: unknown): Promise<any> {
    const response = await fetch(base + path, {
      method,
      headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) : {};
    if (!response.ok) throw new HttpFailure(response.status, json.code ?? String(response.status), json.error ?? response.statusText);
    return json;
  }

  const keyOf = (values: unknown[]): string => (values.length === 1 ? String(values[0]) : JSON.stringify(values.map(String)));
  const rowKey = (row: Row) => keyOf(keyColumns.map((column) => row[column]));
  const eventKey = (event: Record<string, any>): string | undefined => {
    const pk = event.row_id?.pk_value;
    if (pk === undefined || pk === null) return undefined;
    return Array.isArray(pk) ? keyOf(pk) : String(pk);
  };
  /** For row and field grains, the one key the page follows. */
  const only = (() => {
    if (options.grain !== 'row' && options.grain !== 'field') return undefined;
    const key = (options.target as unknown[] | undefined)?.[1];
    return key === undefined ? undefined : Array.isArray(key) ? keyOf(key) : String(key);
  })();

  const session = (async () => {
    if (options.session) return options.session;
    const { id } = await call('POST', '/sessions', { ttl: options.ttl ?? '1d' });
    const target = options.target ?? options.table;
    await call('POST', `/sessions/${id}/subscriptions`, {
      grain: options.grain ?? 'table', target, ...(options.filter === undefined ? {} : { filter: options.filter }),
    });
    return id as string;
  })();

  async function loadRows(): Promise<void> {
    await session; // subscribed first: events from here on replay over the rows and converge
    const snapshot = await call('GET', `/tables/${encodeURIComponent(options.table)}/rows`);
    if (keyColumns.length === 0) keyColumns = snapshot.key;
    rows.clear();
    for (const row of snapshot.rows as Row[]) {
      const key = rowKey(row);
      if (only === undefined || key === only) rows.set(key, row);
    }
    change({ type: 'snapshot' });
  }

  function apply(event: Record<string, any>): void {
    const key = eventKey(event);
    switch (event.operation) {
      case 'row_insert':
        if (key === undefined) return;
        rows.set(key, { ...event.payload });
        return change({ type: 'insert', key, row: rows.get(key), event });
      case 'row_delete':
        if (key === undefined) return;
        rows.delete(key);
        return change({ type: 'delete', key, event });
      case 'field_update': {
        if (key === undefined) return;
        const row = { ...(rows.get(key) ?? {}), ...event.payload };
        rows.set(key, row);
        return change({ type: 'update', key, row, event });
      }
      case 'truncate':
        rows.clear();
        return change({ type: 'truncate', event });
      case 'overflow':
        change({ type: 'overflow', event });
        void loadRows().catch(() => {});
    }
  }

  async function readStream(id: string): Promise<void> {
    abort = new AbortController();
    const response = await fetch(`${base}/sessions/${id}/events`, {
      headers: headers({ accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) }),
      signal: abort.signal,
    });
    if (!response.ok || !response.body) {
      const json = await response.json().catch(() => ({}));
      throw new HttpFailure(response.status, json.code ?? String(response.status), json.error ?? response.statusText);
    }
    status('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let message: { id?: string; event?: string; data: string[] } = { data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (message.data.length > 0) dispatch(message);
          message = { data: [] };
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') message.id = text;
          else if (field === 'event') message.event = text;
          else if (field === 'data') message.data.push(text);
        }
      }
    }
  }

  function dispatch(message: { id?: string; event?: string; data: string[] }): void {
    const data = JSON.parse(message.data.join('\n'));
    if (message.event === 'error') throw new HttpFailure(404, data.code, data.error);
    apply(data);
    if (message.id) {
      lastId = message.id;
      toAck.push(message.id);
    }
  }

  const ackTimer = (options.ackEvery ?? 2000) > 0
    ? setInterval(() => {
      if (toAck.length === 0) return;
      const ids = toAck.splice(0);
      session.then((id) => call('POST', `/sessions/${id}/ack`, { ids })).catch(() => {});
    }, options.ackEvery ?? 2000)
    : undefined;

  const ready = loadRows();

  (async () => {
    let delay = 500;
    status('connecting');
    try {
      await ready;
    } catch (error) {
      status('error', (error as Error).message);
      return;
    }
    const id = await session;
    while (!closed) {
      try {
        await readStream(id);
        delay = 500;
      } catch (error) {
        if (closed) break;
        if (error instanceof HttpFailure && [400, 401, 403, 404].includes(error.status)) {
          status('error', `${error.status} ${error.code}: ${error.message}`);
          return;
        }
      }
      if (closed) break;
      status('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay * (0.75 + Math.random() / 2)));
      delay = Math.min(delay * 2, options.maxBackoff ?? 30_000);
    }
  })();

  return {
    rows,
    session,
    ready,
    get lastEventId() {
      return lastId;
    },
    close() {
      closed = true;
      if (ackTimer) clearInterval(ackTimer);
      abort?.abort();
      status('closed');
    },
  };
}

/**
 * Shows a live table's rows in a <table>: a header of the columns, one
 * <tr data-key> per row, updated in place on each change. Returns the
 * liveTable's onChange to chain, or call it yourself.
 */
export function bindTable(live: LiveTable, table: HTMLTableElement, options: { columns?: string[] } = {}): (change: Change) => void {
  const body = table.tBodies[0] ?? table.createTBody();
  let columns = options.columns;
  const rowsByKey = new Map<string, HTMLTableRowElement>();
  const fill = (tr: HTMLTableRowElement, row: Row) => {
    tr.replaceChildren(...columns!.map((column) => {
      const td = document.createElement('td');
      const value = row[column];
      td.textContent = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
      return td;
    }));
  };
  const header = () => {
    const head = table.tHead ?? table.createTHead();
    const tr = document.createElement('tr');
    tr.replaceChildren(...columns!.map((column) => Object.assign(document.createElement('th'), { textContent: column })));
    head.replaceChildren(tr);
  };
  const put = (key: string, row: Row) => {
    let tr = rowsByKey.get(key);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.key = key;
      rowsByKey.set(key, tr);
      body.append(tr);
    }
    fill(tr, row);
  };
  return (change: Change) => {
    if (!columns) {
      const first = live.rows.values().next().value as Row | undefined;
      columns = Object.keys(first ?? change.row ?? {});
      if (columns.length > 0) header();
      else columns = undefined;
    }
    if (change.type === 'snapshot' || change.type === 'truncate') {
      body.replaceChildren();
      rowsByKey.clear();
      if (columns) for (const [key, row] of live.rows) put(key, row);
    } else if (change.type === 'delete' && change.key !== undefined) {
      rowsByKey.get(change.key)?.remove();
      rowsByKey.delete(change.key);
    } else if (change.key !== undefined && change.row && columns) {
      put(change.key, change.row);
    }
  };
}
