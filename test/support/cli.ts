import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/aqevent', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `aqevent …` as a real subprocess (needs `npm run build`); `bin` may be another copy's bin/aqevent. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000, bin = BIN): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CLI process that keeps running (tail): its stdout lines as they come. */
export interface RunningCli {
  child: ReturnType<typeof spawn>;
  /** Lines printed so far. */
  lines: string[];
  /** Everything on stderr so far. */
  stderr(): string;
  /** Resolves with the first line (counting from index `from`) that matches, or rejects after timeoutMs. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number, from?: number): Promise<{ line: string; index: number; at: number }>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const arrivals: number[] = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const now = performance.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      arrivals.push(now);
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    for (const wake of waiters) wake();
    resolve(code);
  }));
  return {
    child,
    lines,
    stderr: () => stderr,
    waitForLine(match, timeoutMs = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const index = lines.findIndex((line, i) => i >= from && match(line));
          if (index >= 0) {
            done();
            resolve({ line: lines[index]!, index, at: arrivals[index]! });
          } else if (child.exitCode !== null) {
            done();
            reject(new Error(`aqevent exited (${child.exitCode}) before the line came; stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching line within ${timeoutMs} ms; stdout: ${lines.join('\n')}; stderr: ${stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
