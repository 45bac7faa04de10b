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
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0 (so the mode below is read)
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(0x21, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(packed.length, 20);
    header.writeUInt32LE(data.length, 24);
    header.writeUInt16LE(nameBytes.length, 28);
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    header.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    central.push(header, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(out, Buffer.concat([...locals, directory, end]));
  return files.map((f) => f.name);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = buildPluginZip();
  console.log(`${PLUGIN_ZIP}: ${names.length} files (${names.join(', ')})`);
}
