/**
 * The WebAssembly modules `npm run build` compiles from assembly/ (AssemblyScript) into dist/assembly/: the
 * warp kernels and the PNG filter. One instance per thread (each caller keeps a module-level singleton, and
 * every worker thread has its own), memory grown to the largest call and kept.
 */
import { readFileSync } from 'node:fs';

/**
 * The exports of dist/assembly/`file` instantiated, or null when it cannot be (not built — tsc alone — or
 * no WebAssembly SIMD): the caller then does the work in JavaScript.
 */
export function instantiateBuilt<T>(file: string): T | null {
  try {
    const bytes = readFileSync(new URL(`../../assembly/${file}`, import.meta.url));
    return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as T;
  } catch {
    return null;
  }
}

/** The module's memory, grown to at least `bytes` (a grown memory has a new ArrayBuffer: views are made after). */
export function memoryOf(memory: WebAssembly.Memory, bytes: number): ArrayBuffer {
  const missing = bytes - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
  return memory.buffer;
}
