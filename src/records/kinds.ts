import type { RecordKind } from './record-store.js';
import { CONFIGURATIONS, OFFERINGS } from './publication.js';
import { STORED_DATA } from './stored-data.js';
import { UPLOADS } from './uploads.js';

/** Every kind of record the server keeps; a record store opens them all at start-up. */
export const RECORD_KINDS: ReadonlyArray<RecordKind<object>> = [
  STORED_DATA,
  CONFIGURATIONS,
  OFFERINGS,
  UPLOADS,
] as unknown as ReadonlyArray<RecordKind<object>>;
