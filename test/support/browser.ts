/**
 * Debian's chromium (/usr/bin/chromium, installed by .ci/run when missing)
 * driven by playwright-core, which downloads no browser of its own.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.AQEVENT_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export interface LivePageOptions {
  token: string;
  table: string;
  session?: string;
}

/**
 * A tab on the server's origin running liveTable from /client.js, bound to a
 * <table id="rows">; its status goes to body[data-status], its session id to
 * body[data-session].
 */
export async function openLivePage(browser: Browser, baseUrl: string, options: LivePageOptions): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/healthz`);
  // A script as text: functions compiled by tsx carry helpers (__name) that the page does not have.
  await page.evaluate(`(async (options) => {
    document.documentElement.innerHTML = '<head></head><body><table id="rows"></table></body>';
    const { liveTable, bindTable } = await import('/client.js');
    let render;
    const live = liveTable({
      url: '', ...options,
      onStatus: (status, detail) => {
        document.body.dataset.status = status;
        if (detail) document.body.dataset.detail = detail;
      },
      onChange: (change) => render?.(change),
    });
    render = bindTable(live, document.getElementById('rows'));
    window.live = live;
    live.session.then((id) => (document.body.dataset.session = id));
  })(${JSON.stringify(options)})`);
  return page;
}

/** The rows the page shows: data-key → cell texts. */
export async function shownRows(page: Page): Promise<Array<{ key: string; cells: string[] }>> {
  return page.$$eval('#rows tbody tr', (trs) => trs.map((tr) => ({
    key: (tr as HTMLElement).dataset.key ?? '',
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''),
  })));
}
