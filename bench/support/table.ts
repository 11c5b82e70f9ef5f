/** The readable table printed on stdout. */
import type { ResultRow } from './results.js';

const HEADERS = ['scenario', 'measure', 'baseline', 'subject', 'value', 'floor', 'target', 'met'] as const;

function cell(row: ResultRow, header: (typeof HEADERS)[number]): string {
  if (header === 'met') return row.met === null ? '-' : row.met ? 'yes' : 'MISSED';
  return row[header];
}

export function formatTable(rows: readonly ResultRow[]): string {
  const widths = HEADERS.map((h) => Math.max(h.length, ...rows.map((r) => cell(r, h).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    line([...HEADERS]),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(HEADERS.map((h) => cell(r, h)))),
  ].join('\n');
}

/** The same table as Markdown, for docs/benchmarks.md. */
export function formatMarkdown(rows: readonly ResultRow[]): string {
  const esc = (v: string) => v.replace(/\|/g, '\\|');
  return [
    `| ${HEADERS.join(' | ')} |`,
    `| ${HEADERS.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${HEADERS.map((h) => esc(cell(r, h))).join(' | ')} |`),
  ].join('\n');
}
