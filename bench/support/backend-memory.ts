/**
 * A server backend's memory, read from /proc/<pid>/status of the backend
 * process (pg_backend_pid()): works when the server runs on this machine
 * and its processes are readable; otherwise every figure is null.
 *
 * VmHWM is the kernel's peak resident set of the process since it started:
 * its private memory (work areas, tuplestores, caches) plus every page of
 * shared memory (shared_buffers) and of mapped files it touched. RssAnon is
 * the private part now; sampled, its maximum is the private peak (to the
 * sampling interval).
 */
import { readFile } from 'node:fs/promises';

export interface BackendMemory {
  /** Peak resident set since the backend started, MB. */
  hwmMb: number;
  /** Private (anonymous) resident memory now, MB. */
  anonMb: number;
  /** Shared memory resident in this process now, MB. */
  shmemMb: number;
}

export async function backendMemory(pid: number): Promise<BackendMemory | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const m = { hwmMb: kb('VmHWM'), anonMb: kb('RssAnon'), shmemMb: kb('RssShmem') };
  return Number.isFinite(m.hwmMb) ? m : null;
}

/** Samples the backend every `everyMs` until stopped; resolves to the largest private memory seen, MB. */
export function sampleAnon(pid: number, everyMs = 20): { stop(): Promise<number | null> } {
  let running = true;
  let max: number | null = null;
  const loop = (async () => {
    while (running) {
      const m = await backendMemory(pid);
      if (m) max = Math.max(max ?? 0, m.anonMb);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}
