/**
 * System libraries called natively through koffi (a maintained FFI with prebuilt binaries): TurboJPEG for
 * JPEG tiles (src/rok4/turbojpeg.ts), libdeflate for Deflate source blocks (src/raster/inflate.ts). Each is
 * optional: without it, its caller takes a slower path to the same bytes.
 */
import { createRequire } from 'node:module';

export type Koffi = typeof import('koffi');
export type KoffiLibrary = ReturnType<Koffi['load']>;

/**
 * Binds the first of `names` that loads (or the file named by the environment variable `variable`; `off`
 * there means none) with `bind`, which declares the functions it needs and may answer null (a handle it
 * could not create): the next name is then tried. Answers null when koffi or every library is missing.
 */
export function loadNativeLibrary<T>(variable: string, names: string[], bind: (lib: KoffiLibrary, koffi: Koffi) => T | null): T | null {
  const wanted = process.env[variable];
  if (wanted === 'off') return null;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch {
    return null;
  }
  for (const name of wanted ? [wanted] : names) {
    try {
      const bound = bind(koffi.load(name), koffi);
      if (bound) return bound;
    } catch {
      // Not this name (absent, or too old to export the functions `bind` declares): the next one, else none.
    }
  }
  return null;
}
