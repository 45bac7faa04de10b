/**
 * Byte arrays kept per thread and used again call after call, by work that is done with them before its
 * next await (a WMS strip's window and warp result, a map's RGB composite, its PNG scanlines): maps drawn
 * into fresh arrays kept V8's collector threads busy (issue 10). Arrays above SCRATCH_MAX_BYTES are not
 * kept: a huge map gets its own, freed with it.
 */
const SCRATCH_MAX_BYTES = 8 * 1024 * 1024;
const arrays = new Map<string, Uint8Array>();

/** Whether an array of `bytes` is small enough to be kept by this thread. */
export function keptScratch(bytes: number): boolean {
  return bytes <= SCRATCH_MAX_BYTES;
}

/** `length` bytes of this thread's array `slot` (holding whatever was left in it), or a new array when too big. */
export function threadScratch(slot: string, length: number): Uint8Array {
  if (!keptScratch(length)) return new Uint8Array(length);
  let a = arrays.get(slot);
  if (!a || a.length < length) arrays.set(slot, (a = new Uint8Array(Math.max(length, (a?.length ?? 0) * 2))));
  return a.subarray(0, length);
}
