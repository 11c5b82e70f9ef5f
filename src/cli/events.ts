import type { DeliveredEvent, PeekedEvent } from '../index.js';
import { eventLine, out, toJson } from './format.js';

/** One event on stdout: its stored JSON (--json, one per line) or a line for people. */
export function printEvent(event: DeliveredEvent | PeekedEvent, json: boolean): void {
  out(json ? toJson(event) : eventLine(event));
}
