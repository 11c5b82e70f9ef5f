import type { Command } from 'commander';
import { mintToken } from '../../index.js';
import { durationOption, UsageError } from '../arguments.js';
import type { GlobalOptions } from '../context.js';
import { out } from '../format.js';

/** aqevent token --role R [--ttl 1h]: a development JWT for aqevent serve. */
export function registerToken(program: Command): void {
  program
    .command('token')
    .description('print a development JWT (HS256, secret AQEVENT_JWT_SECRET) that makes aqevent serve act as a role')
    .requiredOption('--role <role>', 'the database role the token stands for (claim "role")')
    .addOption(durationOption('--ttl <duration>', 'how long the token is valid (e.g. 15m, 1h, 7d)', 3_600_000))
    .action(async (flags: { role: string; ttl: number }, command: Command) => {
      const secret = process.env.AQEVENT_JWT_SECRET;
      if (!secret) throw new UsageError('AQEVENT_JWT_SECRET is not set: the token is signed with it (and aqevent serve checks it)');
      if (flags.ttl <= 0) throw new UsageError('--ttl must be longer than 0');
      const token = await mintToken({ secret, role: flags.role, ttlMs: flags.ttl });
      out(command.optsWithGlobals<GlobalOptions>().json ? JSON.stringify({ token }) : token);
    });
}
