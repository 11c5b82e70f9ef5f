// Every command's --help, as a subprocess: durations are shown as people write them (30s), never as bare milliseconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../src/duration.js';
import { runCli } from './support/cli.js';

/** The subcommand names listed under "Commands:" in a help text (without "help"). */
function subcommands(help: string): string[] {
  const section = /\nCommands:\n([\s\S]*?)(?:\n\n|$)/.exec(help)?.[1] ?? '';
  return section.split('\n').map((line) => /^ {2}([a-z][\w-]*)/.exec(line)?.[1]).filter((name): name is string => !!name && name !== 'help');
}

/** Each option of a help text with its whole (wrapped) description. */
function options(help: string): string[] {
  const section = /\nOptions:\n([\s\S]*?)(?:\n\n|$)/.exec(help)?.[1] ?? '';
  return section.split(/\n(?= {2}-)/).map((block) => block.replace(/\s+/g, ' ').trim());
}

async function helpOf(path: string[]): Promise<string> {
  const result = await runCli([...path, '--help'], {}, 90_000);
  assert.equal(result.code, 0, `${path.join(' ')} --help: ${result.stderr}`);
  return result.stdout;
}

/** The help of every command and subcommand, found from the top-level help; two processes at a time (the suite runs beside it). */
async function allHelp(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const top = await helpOf([]);
  found.set('aqevent', top);
  const queue: string[][] = subcommands(top).map((name) => [name]);
  const worker = async () => {
    for (let path = queue.shift(); path; path = queue.shift()) {
      const help = await helpOf(path);
      found.set(path.join(' ') || 'aqevent', help);
      queue.push(...subcommands(help).map((name) => [...path!, name]));
    }
  };
  await Promise.all([worker(), worker()]);
  return found;
}

const BARE_NUMBER_DEFAULT = /\(default:? (\d+)\)/;

test('no --help shows a duration as a bare number of milliseconds', async () => {
  const helps = await allHelp();
  for (const expected of ['tail', 'drain', 'nack', 'session create', 'embedded status']) assert.ok(helps.has(expected), `found ${expected}`);
  let durationOptions = 0;
  for (const [command, help] of helps) {
    for (const option of options(help)) {
      const bare = BARE_NUMBER_DEFAULT.exec(option);
      if (/<duration>/.test(option)) {
        durationOptions++;
        assert.equal(bare, null, `aqevent ${command}: ${option}`);
        const shown = /\(default: ([^)]+)\)/.exec(option)?.[1];
        if (shown && shown !== 'now' && !shown.startsWith('the ')) {
          assert.match(shown, /^\d+(\.\d+)?(ms|s|m|h|d|w)$/, `aqevent ${command}: ${option}`);
          assert.ok(parseDuration(shown) >= 0);
        }
      } else if (bare && !/<port>/.test(option)) {
        assert.ok(Number(bare[1]) < 1000, `aqevent ${command}: a default of ${bare[1]} looks like milliseconds: ${option}`);
      }
    }
  }
  assert.ok(durationOptions >= 6, `saw ${durationOptions} duration options`);
  assert.match(helps.get('tail')!, /--lease <duration>\s+with --ack: lease per batch \(default: 30s\)/);
  assert.match(helps.get('nack')!, /--delay <duration>\s+deliver again after this long \(default: now\)/);
});
