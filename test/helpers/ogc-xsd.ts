import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inCI, sharedDir } from './env.js';

/**
 * The OGC XML schemas (WMS 1.3.0, WMTS 1.0, OWS 1.1, xlink) in the layout of schemas.opengis.net, with
 * relative imports: DALLAGE_OGC_XSD_DIR, ../shared/ogc-xml-schemas, or the copy Debian's python3-mapproxy
 * ships for its own tests (mapproxy/test/schemas; .ci/run installs it), the first that holds `probe`.
 */
export function ogcXsdDir(probe: string): string | undefined {
  const candidates = [
    process.env.DALLAGE_OGC_XSD_DIR,
    path.join(sharedDir() ?? '/nonexistent', 'ogc-xml-schemas'),
    '/usr/lib/python3/dist-packages/mapproxy/test/schemas',
  ];
  return candidates.find((dir): dir is string => dir !== undefined && existsSync(path.join(dir, probe)));
}

/** Skip reason when no schema folder holds `probe` (e.g. 'wms/1.3.0/capabilities_1_3_0.xsd'); throws under CI. */
export function skipUnlessOgcXsd(probe: string): string | false {
  if (ogcXsdDir(probe)) return false;
  const missing = `no OGC XML schemas holding ${probe} (DALLAGE_OGC_XSD_DIR, ../shared/ogc-xml-schemas or python3-mapproxy)`;
  if (inCI) throw new Error(`required by the tests under CI: ${missing}`);
  return missing;
}

/**
 * Validates XML files with lxml (/usr/bin/python3) against schemas of {@link ogcXsdDir}; returns one line
 * per document, `valid` or the first errors. `ignore` drops errors matching it (a known schema defect).
 */
export async function validateXml(docs: Array<{ file: string; xsd: string }>, ignore?: RegExp): Promise<string[]> {
  const dir = ogcXsdDir(docs[0].xsd);
  if (!dir) throw new Error(`no OGC XML schemas holding ${docs[0].xsd}`);
  const script = `
import sys, re
from lxml import etree
ignore = sys.argv[2]
args = sys.argv[3:]
for doc, xsd in zip(args[0::2], args[1::2]):
    schema = etree.XMLSchema(etree.parse(sys.argv[1] + '/' + xsd))
    schema.validate(etree.parse(doc))
    errors = [str(e) for e in schema.error_log if not (ignore and re.search(ignore, str(e)))]
    print(doc, ('INVALID ' + ' | '.join(errors[:5])) if errors else 'valid')
`;
  const args = docs.flatMap((d) => [d.file, d.xsd]);
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, dir, ignore?.source ?? '', ...args]);
  return stdout.trim().split('\n');
}
