/** Wall-clock timing and the statistics every scenario reports. */

/** Milliseconds taken by fn. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Runs baseline and subject `repeats` times each, interleaved and in
 * alternating order (B S, S B, …) so that drift on a shared machine hits
 * both alike. Returns the medians and the median of the per-pair ratios
 * subject / baseline (robust against a noisy pair).
 */
export async function interleaved(
  repeats: number,
  baseline: () => Promise<number>,
  subject: () => Promise<number>,
): Promise<{ baseline: number; subject: number; ratio: number; baselines: number[]; subjects: number[] }> {
  const baselines: number[] = [];
  const subjects: number[] = [];
  for (let i = 0; i < repeats; i++) {
    if (i % 2 === 0) {
      baselines.push(await baseline());
      subjects.push(await subject());
    } else {
      subjects.push(await subject());
      baselines.push(await baseline());
    }
  }
  const ratios = subjects.map((s, i) => s / baselines[i]!);
  return { baseline: median(baselines), subject: median(subjects), ratio: median(ratios), baselines, subjects };
}

/**
 * Runs every variant once per round, `rounds` times, the order rotated by
 * one each round (A B C, B C A, C A B, …) so that drift on a shared machine
 * hits all alike. Returns each variant's figures, one per round, in round
 * order: compare variants round by round (pairRatio).
 */
export async function rotated<K extends string>(
  rounds: number,
  variants: Record<K, () => Promise<number>>,
): Promise<Record<K, number[]>> {
  const names = Object.keys(variants) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      out[name].push(await variants[name]());
    }
  }
  return out;
}

/** The median of the per-round ratios subject / baseline. */
export function pairRatio(subject: readonly number[], baseline: readonly number[]): number {
  return median(subject.map((s, i) => s / baseline[i]!));
}
