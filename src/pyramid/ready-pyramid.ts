/** Loading a READY pyramid a process reads (an ancestor to update, an input of a merge, a layer to publish). */
import { invalidInput } from '../errors.js';
import type { Datastore, StoredData } from '../records/stored-data.js';
import { PYRAMID_TYPE } from '../records/pyramid-infos.js';
import { parseDescriptor, type PyramidDescriptor } from '../rok4/descriptor.js';
import { SlabList } from '../rok4/list.js';
import { Rok4Reader } from '../rok4/reader.js';
import { type NamedStorages, requireSameStorage } from '../storage/of-record.js';
import type { Storage } from '../storage/storage.js';
import { descriptorKey, listKey, locationOfRecord, type PyramidLocation } from './location.js';

export interface ReadyPyramid {
  record: StoredData;
  location: PyramidLocation;
  descriptor: PyramidDescriptor;
}

/** The record of a READY pyramid, or a 400 naming `input` (missing, another type, not READY). */
export async function requireReadyRecord(datastore: Datastore, id: string, input: string): Promise<StoredData> {
  const record = await datastore.get(id);
  if (!record || record.status === 'DELETED') throw invalidInput(input, `no stored data with id '${id}'`);
  if (record.type !== PYRAMID_TYPE) throw invalidInput(input, `'${record.name}' is a ${record.type}, not a ${PYRAMID_TYPE}`);
  if (record.status !== 'READY') throw invalidInput(input, `'${record.name}' is ${record.status}, not READY`);
  return record;
}

/** A READY pyramid with its descriptor, or a 400 naming `input`. */
export async function loadReadyPyramid(
  datastore: Datastore,
  storage: Storage,
  id: string,
  input: string,
  writeOn?: Pick<NamedStorages, 'defaultStorage'> & { storageName: string },
): Promise<ReadyPyramid> {
  const record = await requireReadyRecord(datastore, id, input);
  // A product referencing this pyramid is written on its storage (issue 13): else a 400 naming `storage`.
  if (writeOn) requireSameStorage([record], writeOn);
  try {
    const location = locationOfRecord(record);
    const descriptor = parseDescriptor((await storage.read(descriptorKey(location))).toString('utf8'));
    return { record, location, descriptor };
  } catch (err) {
    throw invalidInput(input, `the descriptor of '${record.name}' cannot be read: ${(err as Error).message}`);
  }
}

/** The list of a loaded pyramid (rok4.md §6). */
export async function readPyramidList(storage: Storage, pyramid: ReadyPyramid): Promise<SlabList> {
  return SlabList.parse((await storage.read(listKey(pyramid.location))).toString('utf8'));
}

/** A reader of a loaded pyramid (publication, backgrounds of updates). */
export function openPyramidReader(storage: Storage, pyramid: Pick<ReadyPyramid, 'location'>): Promise<Rok4Reader> {
  return Rok4Reader.open(storage, pyramid.location.name, pyramid.location.folder);
}
