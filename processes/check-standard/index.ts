import { uploadCheckProcess } from '../../src/process/upload-check.js';
import { checkUploadPath } from '../../src/uploads/upload-path.js';

/**
 * The file a `.md5` file vouches for: the name `md5sum` wrote after the digest, else the `.md5` file's
 * own name without its suffix (`scan.tif.md5` → `scan.tif`, `scan.md5` → the one file named `scan.*`).
 */
function md5Target(md5Path: string, named: string | undefined, files: Map<string, number>): string | undefined {
  const dir = md5Path.includes('/') ? md5Path.slice(0, md5Path.lastIndexOf('/') + 1) : '';
  if (named) return `${dir}${named.replace(/^\*/, '')}`;
  const base = md5Path.slice(0, -'.md5'.length);
  if (files.has(base)) return base;
  const same = [...files.keys()].filter((f) => f !== md5Path && f.startsWith(`${base}.`) && !f.endsWith('.md5'));
  return same.length === 1 ? same[0] : undefined;
}

/**
 * The standard check of deliveries (issue 11): the files are listed with their sizes, none is empty,
 * every name is safe, and every `*.md5` file the user sent (as `md5sum` writes them) matches its file.
 * MD5s sent with the files (Content-MD5, `md5`) were checked when each file arrived.
 */
export default uploadCheckProcess({
  id: 'check-standard',
  name: 'standard',
  title: 'Upload check: standard',
  description:
    'Lists the files of an upload and their sizes; fails on an empty file, an unsafe name, or a `*.md5` file that does not match.',
  async run(check) {
    const files = [...check.files].sort(([a], [b]) => a.localeCompare(b));
    const total = files.reduce((n, [, s]) => n + s, 0);
    check.info(`${files.length} file(s), ${total} bytes`);
    if (files.length === 0) check.error('the upload holds no file');
    let done = 0;
    for (const [relPath, size] of files) {
      check.signal.throwIfAborted();
      check.info(`${relPath}: ${size} bytes`);
      if (size === 0) check.error(`${relPath} is empty`);
      try {
        checkUploadPath(relPath);
      } catch (err) {
        check.error(`${relPath}: unsafe name: ${(err as Error).message}`);
      }
      if (relPath.toLowerCase().endsWith('.md5') && size > 0 && size < 65536) {
        const text = (await check.read(relPath)).toString('utf8').trim();
        const m = /^([0-9a-fA-F]{32})(?:\s+(.+))?$/.exec(text.split('\n')[0].trim());
        const target = m ? md5Target(relPath, m[2]?.trim(), check.files) : undefined;
        if (!m) check.error(`${relPath} holds no MD5 (expected '<32 hex digits>  <file name>' as md5sum writes)`);
        else if (!target || !check.files.has(target)) check.error(`${relPath} names no file of the upload (${m[2] ?? 'no name'})`);
        else {
          const actual = await check.md5(target);
          if (actual !== m[1].toLowerCase()) check.error(`${target}: its MD5 is ${actual}, ${relPath} says ${m[1].toLowerCase()}`);
          else check.info(`${target}: MD5 matches ${relPath}`);
        }
      }
      done++;
      check.progress((100 * done) / files.length, `${done}/${files.length} files`);
    }
    return undefined;
  },
});
