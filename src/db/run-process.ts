import { spawn } from 'node:child_process';

export interface RunAs {
  uid: number;
  gid: number;
}

export interface ProcessResult {
  /** Exit code; null when the program could not be started (then `error` says why). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why the program could not be started (EACCES, ENOENT…). */
  error?: NodeJS.ErrnoException;
}

/** Runs a program to completion; never throws, never leaves an unhandled 'error' event. */
export function runProcess(file: string, args: string[], options: { user?: RunAs; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let child;
    try {
      child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd ?? '/', ...(options.user ?? {}) });
    } catch (error) {
      resolve({ code: null, stdout, stderr, error: error as NodeJS.ErrnoException });
      return;
    }
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', (error) => resolve({ code: null, stdout, stderr, error }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The last non-empty lines of a program's output, joined on one line. */
export function lastLines(text: string, count = 2): string {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).slice(-count).join(' ');
}
