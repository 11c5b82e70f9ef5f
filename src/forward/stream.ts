import { type JetStreamManager, JetStreamApiCodes, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { AqeventError } from '../errors.js';
import { describe } from './nats-connection.js';
import { subjectMatches } from './subject.js';

/** JetStream's error code for "stream name already in use" (two forwarders creating one stream). */
const STREAM_NAME_IN_USE = 10058;

export interface StreamFacts {
  subjects: string[];
  duplicateWindowMs: number;
  created: boolean;
}

/**
 * The stream, created when missing: file storage, the given subjects
 * (the template's first token and '>': 'aqevent.>'). Streams of one account
 * may not share subjects, so two streams need two first tokens.
 */
export async function ensureStream(jsm: JetStreamManager, name: string, subjects: string[], duplicateWindowMs: number): Promise<StreamFacts> {
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(name);
      return { subjects: info.config.subjects ?? [], duplicateWindowMs: Number(info.config.duplicate_window) / 1e6, created: false };
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound) throw error;
    }
    try {
      const info = await jsm.streams.add({
        name, subjects, storage: StorageType.File, duplicate_window: nanos(duplicateWindowMs),
      });
      return { subjects: info.config.subjects ?? [], duplicateWindowMs: Number(info.config.duplicate_window) / 1e6, created: true };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE && attempt < 3) continue;
      throw new AqeventError('invalid_argument', `cannot create stream "${name}" with subjects ${subjects.join(', ')}: ${describe(error)} `
        + '(streams may not share subjects: give --subject another first token, or --stream the stream that has them)', { cause: error });
    }
  }
}

/** Refuses a subject the stream would not store: its publishes would never be acknowledged. */
export function assertStreamTakes(stream: string, facts: StreamFacts, sampleSubject: string): void {
  if (!facts.subjects.some((filter) => subjectMatches(filter, sampleSubject))) {
    throw new AqeventError('invalid_argument',
      `stream "${stream}" does not take subject "${sampleSubject}" (its subjects: ${facts.subjects.join(', ') || 'none'}); `
      + 'choose a --subject under them, or another --stream');
  }
}
