/**
 * `npm run bench`: the benchmark suite of issue #13 (not part of npm test).
 *
 *   npm run bench                    full run, writes bench/results.json
 *   npm run bench -- --quick         smoke run (CI): small sizes, one repetition
 *   npm run bench -- --only bulk     one scenario (repeatable, or comma-separated)
 *
 * Only a full run writes bench/results.json; --quick / --only write
 * bench/results.partial.json. A missed target is reported, never an error:
 * the exit code is non-zero only when something crashes.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bigUpdate } from './scenarios/big-update.js';
import { bulk } from './scenarios/bulk.js';
import { drain } from './scenarios/drain.js';
import { forward } from './scenarios/forward.js';
import { latency } from './scenarios/latency.js';
import { liveViews } from './scenarios/live-views.js';
import { memory } from './scenarios/memory.js';
import { migration } from './scenarios/migration.js';
import { pgbenchTpcb } from './scenarios/pgbench.js';
import { singleRow } from './scenarios/single-row.js';
import { staleStats } from './scenarios/stale-stats.js';
import { sseFanout } from './scenarios/sse-fanout.js';
import { subscriptionScale } from './scenarios/subscription-scale.js';
import { workers } from './scenarios/workers.js';
import { createBenchDatabase } from './support/database.js';
import { machineInfo } from './support/machine.js';
import { EMPTY_RESULTS, type ResultKeys, type ResultRow } from './support/results.js';
import type { Scenario } from './support/scenario.js';
import { formatTable } from './support/table.js';

const SCENARIOS: Scenario[] = [singleRow, bulk, pgbenchTpcb, subscriptionScale, bigUpdate, staleStats, drain, latency, memory, workers, forward,
  sseFanout, liveViews, migration];


function options(): { quick: boolean; only: Set<string> | null } {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string', multiple: true } },
    strict: true,
  });
  const only = values.only?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (only) {
    const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
    if (unknown.length > 0) {
      throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    }
  }
  return { quick: values.quick ?? false, only: only ? new Set(only) : null };
}

async function main(): Promise<void> {
  const { quick, only } = options();
  const started = Date.now();
  const log = (message: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
  const db = await createBenchDatabase();
  log(`bench database ${db.name} on ${db.description}${quick ? ' (quick)' : ''}`);
  const rows: ResultRow[] = [];
  const results: ResultKeys = { ...EMPTY_RESULTS };
  const details: Record<string, unknown> = {};
  const pendingNotes: Record<string, string> = {};
  try {
    const machine = await machineInfo(db.pool);
    for (const scenario of SCENARIOS) {
      if (only && !only.has(scenario.name)) continue;
      log(`${scenario.title} …`);
      const outcome = await scenario.run({ db, quick, log });
      rows.push(...outcome.rows);
      Object.assign(results, outcome.results);
      if (outcome.details) details[scenario.name] = outcome.details;
      if (outcome.pending) pendingNotes[scenario.name] = outcome.pending;
    }
    console.log(formatTable(rows));
    const missed = rows.filter((r) => r.met === false);
    console.log(missed.length === 0 ? '\nall measured targets met' : `\n${missed.length} target(s) missed (see docs/benchmarks.md)`);
    const file = join(dirname(fileURLToPath(import.meta.url)), quick || only ? 'results.partial.json' : 'results.json');
    const document = {
      ...results,
      pending: pendingNotes,
      run: { date: new Date().toISOString(), quick, only: only ? [...only] : null, seconds: Math.round((Date.now() - started) / 1000), machine },
      table: rows,
      details,
    };
    await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);
    log(`wrote ${file}`);
  } finally {
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
