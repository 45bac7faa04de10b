import type { RecordKind } from './record-store.js';
import { STORED_DATA } from './stored-data.js';

/** Every kind of record the server keeps; a record store opens them all at start-up. */
export const RECORD_KINDS: ReadonlyArray<RecordKind<object>> = [STORED_DATA as unknown as RecordKind<object>];
