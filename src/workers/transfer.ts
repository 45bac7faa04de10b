import { move, transferableSymbol, valueSymbol } from 'piscina';

/**
 * Returns `value` from a worker task with `buffers` moved, not copied (DESIGN §6: pixels cross
 * threads as transferred ArrayBuffers). Each buffer must be owned by one view only.
 */
export function moveWith<T>(value: T, buffers: ArrayBufferLike[]): T {
  const list = [...new Set(buffers)];
  return move({
    get [transferableSymbol]() {
      return list;
    },
    get [valueSymbol]() {
      return value;
    },
  } as never) as unknown as T;
}
