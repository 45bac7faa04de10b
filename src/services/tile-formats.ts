/**
 * The tile formats a layer offers, from its pyramid format (rok4.md §3.2, §5.4): the stored bytes as they
 * are when the format matches (JPEG, PNG, BIL), or the stored tile wrapped in a one-strip TIFF (the
 * compressed payload untouched: TIFF's own LZW, PackBits and zlib are what the slab holds). Float32
 * (DTM) pyramids offer their raw tiles as `image/x-bil;bits=32` and TIFF.
 */
import type { FormatInfo } from '../rok4/formats.js';

export interface OfferedFormat {
  /** Media type, as in WMTS `<Format>` and the Content-Type sent. */
  mime: string;
  /** File extensions of RESTful and XYZ/TMS URLs; the first is announced. */
  extensions: readonly string[];
  /** How a stored tile becomes this format. */
  from: 'stored' | 'tiff';
  /** Content-Encoding of a stored tile sent as is (ZIP_FLOAT32: the zlib stream, rok4.md §5.4). */
  contentEncoding?: string;
}

const TIFF: OfferedFormat = { mime: 'image/tiff', extensions: ['tif', 'tiff'], from: 'tiff' };

/** Formats of a layer; the first is its native one. */
export function offeredFormats(format: FormatInfo): OfferedFormat[] {
  switch (format.mimeType) {
    case 'image/jpeg':
      return [{ mime: 'image/jpeg', extensions: ['jpeg', 'jpg'], from: 'stored' }];
    case 'image/png':
      return [{ mime: 'image/png', extensions: ['png'], from: 'stored' }];
    case 'image/x-bil;bits=32':
      return [
        {
          mime: 'image/x-bil;bits=32',
          extensions: format.contentEncoding ? ['zbil', 'bil'] : ['bil'],
          from: 'stored',
          contentEncoding: format.contentEncoding,
        },
        TIFF,
      ];
    default:
      return [TIFF];
  }
}

/** The offered format with this media type (parameters compared without spaces, case-insensitively). */
export function formatByMime(formats: readonly OfferedFormat[], mime: string): OfferedFormat | undefined {
  const key = (m: string): string => m.replace(/\s+/g, '').toLowerCase();
  return formats.find((f) => key(f.mime) === key(mime));
}

export function formatByExtension(formats: readonly OfferedFormat[], ext: string): OfferedFormat | undefined {
  const e = ext.toLowerCase();
  return formats.find((f) => f.extensions.includes(e));
}
