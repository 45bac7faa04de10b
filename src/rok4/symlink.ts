/**
 * Object-storage references (rok4.md §7.2): a small object whose whole content is
 * `SYMLINK#<bucket>/<object name of the target>`. Readers recognise one because it is shorter than a slab's
 * header + index and starts with `SYMLINK#` (§5.4).
 */

export const SYMLINK_PREFIX = 'SYMLINK#';

/** True when `bytes`, read from the start of an object expected to be `expected` bytes at least, are a reference. */
export function isSymlinkObject(bytes: Uint8Array, expected = 2048): boolean {
  return (
    bytes.length < expected &&
    bytes.length >= SYMLINK_PREFIX.length &&
    Buffer.from(bytes.buffer, bytes.byteOffset, SYMLINK_PREFIX.length).toString('latin1') === SYMLINK_PREFIX
  );
}

/**
 * The storage key a reference object points to. Its target is `<bucket>/<object>`; a key of the storage is
 * what follows the storage root (`<bucket>` or `<bucket>/<key prefix>`). A target outside the storage is an
 * error naming the reference.
 */
export function symlinkTargetKey(bytes: Uint8Array, storageRoot: string, from: string): string {
  const target = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').slice(SYMLINK_PREFIX.length).trim();
  const root = storageRoot.replace(/\/+$/, '');
  if (target.startsWith(`${root}/`)) return target.slice(root.length + 1);
  throw new Error(`slab ${from}: reference to ${target}, outside storage ${root}`);
}
