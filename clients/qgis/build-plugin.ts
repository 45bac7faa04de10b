/**
 * `npm run build:qgis-plugin`: packs clients/qgis/dallage into dist/dallage-qgis-plugin.zip, the archive QGIS's
 * Plugins › Install from ZIP takes (the plugin folder at the archive's root, PKWARE APPNOTE 6.3 §4.3 layout:
 * local headers and data, then the central directory). Python caches are left out.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const PLUGIN_DIR = path.join(ROOT, 'clients', 'qgis', 'dallage');
export const PLUGIN_ZIP = path.join(ROOT, 'dist', 'dallage-qgis-plugin.zip');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A header field: its size in bytes and its value, little-endian (APPNOTE §4.4). */
type Field = [2 | 4, number];

function littleEndian(fields: Field[]): Buffer {
  const out = Buffer.alloc(fields.reduce((n, [size]) => n + size, 0));
  let at = 0;
  for (const [size, value] of fields) at = size === 2 ? out.writeUInt16LE(value, at) : out.writeUInt32LE(value, at);
  return out;
}

/** Files of the plugin folder, as archive names (dallage/…), sorted: the same archive for the same files. */
function pluginFiles(dir: string, prefix: string): Array<{ name: string; file: string }> {
  const out: Array<{ name: string; file: string }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name === '__pycache__' || entry.name.endsWith('.pyc')) continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...pluginFiles(file, `${prefix}${entry.name}/`));
    else if (entry.isFile()) out.push({ name: `${prefix}${entry.name}`, file });
  }
  return out;
}

/** Writes the plugin archive; returns the names it holds. */
export function buildPluginZip(dir = PLUGIN_DIR, out = PLUGIN_ZIP): string[] {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const files = pluginFiles(dir, `${path.basename(dir)}/`);
  for (const { name, file } of files) {
    const data = readFileSync(file);
    const packed = zlib.deflateRawSync(data, { level: 9 });
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    // Version 2.0, flag bit 11 (UTF-8 names), method 8 (deflate), DOS time/date 1980-01-01 00:00 (reproducible).
    const common: Field[] = [
      [2, 20],
      [2, 0x0800],
      [2, 8],
      [2, 0],
      [2, 0x21],
      [4, crc],
      [4, packed.length],
      [4, data.length],
      [2, nameBytes.length],
    ];
    const local = littleEndian([[4, 0x04034b50], ...common, [2, 0]]);
    // Made by Unix 2.0, so that the mode in the external attributes (regular file, 0644) is read.
    const unixMode = (0o100644 << 16) >>> 0;
    const header = littleEndian([[4, 0x02014b50], [2, 0x0314], ...common, [2, 0], [2, 0], [2, 0], [2, 0], [4, unixMode], [4, offset]]);
    locals.push(local, nameBytes, packed);
    central.push(header, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const directory = Buffer.concat(central);
  const end = littleEndian([[4, 0x06054b50], [2, 0], [2, 0], [2, files.length], [2, files.length], [4, directory.length], [4, offset], [2, 0]]);
  writeFileSync(out, Buffer.concat([...locals, directory, end]));
  return files.map((f) => f.name);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = buildPluginZip();
  console.log(`${PLUGIN_ZIP}: ${names.length} files (${names.join(', ')})`);
}
