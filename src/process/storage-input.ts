import type { ProcessDescription } from './types.js';

/**
 * The `storage` input of the processes that write products (issue 13; the platform's `storage_tags`): the
 * name of a configured storage (config.yml `storages`). The registry limits its schema to the configured
 * names, default the default storage ({@link withStorageNames}).
 */
export const STORAGE_INPUT = {
  title: 'Storage',
  description:
    'Name of the configured storage the product is written to (default: the default storage). A pyramid that references others (an update, a merge) must be written on the storage of the pyramids it references: ROK4 references point inside one storage.',
  schema: { type: 'string' },
  minOccurs: 0,
  maxOccurs: 1,
} as const;

/** The description with its `storage` input (if any) limited to the configured storage names. */
export function withStorageNames(description: ProcessDescription, names: string[], defaultName: string): ProcessDescription {
  const input = description.inputs?.storage;
  if (!input) return description;
  return {
    ...description,
    inputs: { ...description.inputs, storage: { ...input, schema: { type: 'string', enum: names, default: defaultName } } },
  };
}
