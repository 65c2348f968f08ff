import type { EventEmitter } from 'node:events';
import type { ChangeEvent, DatastoreEvents, DatastoreStats } from './model.ts';
import type { Logger } from './logger.ts';

/**
 * Emits a change. A listener that throws is a bug downstream; it is logged, and must not unwind
 * into the informer or file reader that delivered the change (that would stop the datastore).
 */
export function emitChange(emitter: EventEmitter<DatastoreEvents>, log: Logger, event: ChangeEvent): void {
  counters(emitter).changes++;
  try {
    emitter.emit('change', event);
  } catch (err) {
    log.error({ err: err instanceof Error ? err.stack : String(err), kind: event.kind, key: event.key, type: event.type }, 'change listener threw');
  }
}

/** Per-datastore counters, kept beside the emitter so both datastores count the same way. */
const COUNTERS = new WeakMap<object, DatastoreStats>();

export function counters(datastore: object): DatastoreStats {
  let c = COUNTERS.get(datastore);
  if (!c) {
    c = { changes: 0, resyncs: 0, problems: 0 };
    COUNTERS.set(datastore, c);
  }
  return c;
}
