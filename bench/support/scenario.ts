/** The contract between bench/run.ts and the files in bench/scenarios/. */
import type { BenchDatabase } from './database.js';
import type { ScenarioOutcome } from './results.js';

export interface BenchContext {
  db: BenchDatabase;
  /** --quick: a smoke run, small sizes, one repetition. */
  quick: boolean;
  log(message: string): void;
}

export interface Scenario {
  /** The --only key. */
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioOutcome>;
}
