/**
 * TIFF PackBits (TIFF 6.0 §9; rok4.md §5.2): ROK4 encodes each tile row separately and concatenates
 * the results, so no run crosses a row boundary.
 */

function packRow(row: Uint8Array, out: number[]): void {
  let i = 0;
  const n = row.length;
  while (i < n) {
    // Length of the run of equal bytes starting at i (max 128).
    let run = 1;
    while (i + run < n && run < 128 && row[i + run] === row[i]) run++;
    if (run >= 2) {
      out.push(257 - run, row[i]);
      i += run;
      continue;
    }
    // Literal block: up to the next run of 2+ equal bytes (max 128 bytes).
    let lit = 1;
    while (i + lit < n && lit < 128 && !(i + lit + 1 < n && row[i + lit] === row[i + lit + 1])) lit++;
    out.push(lit - 1);
    for (let k = 0; k < lit; k++) out.push(row[i + k]);
    i += lit;
  }
}

/** PackBits of `data` cut in rows of `rowBytes` bytes. */
export function packBitsEncode(data: Uint8Array, rowBytes: number): Buffer {
  if (rowBytes <= 0 || data.length % rowBytes !== 0) throw new Error('PackBits: data is not a whole number of rows');
  const out: number[] = [];
  for (let start = 0; start < data.length; start += rowBytes) packRow(data.subarray(start, start + rowBytes), out);
  return Buffer.from(out);
}

/** Decodes PackBits into exactly `expectedLength` bytes (rows do not matter to the decoder). */
export function packBitsDecode(input: Uint8Array, expectedLength: number): Uint8Array {
  const out = new Uint8Array(expectedLength);
  let i = 0;
  let o = 0;
  while (i < input.length && o < expectedLength) {
    const header = input[i++];
    if (header < 128) {
      const count = header + 1;
      for (let k = 0; k < count && i < input.length; k++) {
        if (o < expectedLength) out[o++] = input[i];
        i++;
      }
    } else if (header > 128) {
      const count = 257 - header;
      const value = input[i++];
      for (let k = 0; k < count && o < expectedLength; k++) out[o++] = value;
    }
    // 128 is a no-op.
  }
  return out;
}
