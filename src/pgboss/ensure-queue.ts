import type PgBoss from 'pg-boss';

/** SQLSTATEs of two processes creating one pg-boss queue (its partition) at once. */
const RACE = new Set(['40P01', '23505', '42P07']);

/**
 * Creates a pg-boss queue unless it exists. pg-boss's createQueue is not
 * safe against a concurrent creator (it deadlocks attaching the partition),
 * so a lost race is retried: several `aqevent` processes start together.
 */
export async function ensureQueue(boss: PgBoss, name: string, options: Omit<PgBoss.Queue, 'name'> = {}): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (await boss.getQueue(name)) return;
    try {
      await boss.createQueue(name, { ...options, name });
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !RACE.has(code) || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
    }
  }
}
