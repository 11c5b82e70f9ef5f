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
