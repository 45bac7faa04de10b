import { ApiError } from '../errors.js';

/**
 * The `path` of a file in an upload (issue 11, Safety): relative, '/'-separated, staying inside the
 * upload. Refused rather than normalised: a client sending `a/../b` or `C:\x` has a bug we should name.
 * @returns the path as the Storage key suffix (no leading './', no empty segment).
 */
export function checkUploadPath(raw: unknown): string {
  const bad = (why: string): never => {
    throw new ApiError('invalid-parameter', `path ${JSON.stringify(raw)} ${why}`, { parameter: 'path' });
  };
  if (typeof raw !== 'string' || raw === '') return bad('is required: the file name inside the upload, e.g. data/scan.tif');
  if (raw.length > 1024) bad('is longer than 1024 characters');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(raw)) bad('contains a control character');
  if (raw.includes('\\')) bad("contains a backslash; separate folders with '/'");
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) bad('is absolute; give a path relative to the upload');
  const parts = raw.split('/');
  if (parts.some((p) => p === '..')) bad("contains '..'");
  if (parts.some((p) => p === '' || p === '.')) bad("has an empty or '.' segment");
  return parts.join('/');
}
