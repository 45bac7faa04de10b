/**
 * TIFF LZW (TIFF 6.0 §13, as libtiff writes it; rok4.md §5.2): MSB-first codes from 9 to 12 bits,
 * Clear = 256, EOI = 257, "early change" (the code width grows one code before the table fills).
 */

const CLEAR = 256;
const EOI = 257;
const FIRST_FREE = 258;
/** libtiff clears the table when the next free code reaches 4094 (CODE_MAX - 1). */
const ENCODER_LIMIT = 4094;

// The encoder dictionary (prefix code, next byte) → code lives in flat tables reused across calls;
// a generation stamp invalidates them on Clear without refilling 1M entries.
const dictCode = new Uint16Array(4096 * 256);
const dictStamp = new Uint32Array(4096 * 256);
let generation = 0;

class BitWriter {
  private chunks: Buffer[] = [];
  private buf = Buffer.allocUnsafe(65536);
  private pos = 0;
  private acc = 0;
  private accBits = 0;

  put(code: number, bits: number): void {
    this.acc = (this.acc << bits) | code;
    this.accBits += bits;
    while (this.accBits >= 8) {
      this.accBits -= 8;
      this.byte((this.acc >>> this.accBits) & 0xff);
    }
    this.acc &= (1 << this.accBits) - 1;
  }

  private byte(b: number): void {
    if (this.pos === this.buf.length) {
      this.chunks.push(this.buf);
      this.buf = Buffer.allocUnsafe(this.buf.length * 2);
      this.pos = 0;
    }
    this.buf[this.pos++] = b;
  }

  finish(): Buffer {
    if (this.accBits > 0) this.byte((this.acc << (8 - this.accBits)) & 0xff);
    this.chunks.push(this.buf.subarray(0, this.pos));
    return Buffer.concat(this.chunks);
  }
}

function nextGeneration(): number {
  generation = (generation + 1) >>> 0;
  if (generation === 0) {
    dictStamp.fill(0);
    generation = 1;
  }
  return generation;
}

/** Encodes bytes as one TIFF LZW strip/tile (starts with Clear, ends with EOI). */
export function lzwEncode(input: Uint8Array): Buffer {
  const out = new BitWriter();
  let bits = 9;
  let next = FIRST_FREE;
  let stamp = nextGeneration();
  out.put(CLEAR, bits);
  if (input.length === 0) {
    out.put(EOI, bits);
    return out.finish();
  }
  let w = input[0];
  for (let i = 1; i < input.length; i++) {
    const c = input[i];
    const slot = (w << 8) | c;
    if (dictStamp[slot] === stamp) {
      w = dictCode[slot];
      continue;
    }
    out.put(w, bits);
    dictStamp[slot] = stamp;
    dictCode[slot] = next++;
    if (next === ENCODER_LIMIT) {
      out.put(CLEAR, bits);
      stamp = nextGeneration();
      next = FIRST_FREE;
      bits = 9;
    } else if (next > (1 << bits) - 1) {
      bits++;
    }
    w = c;
  }
  out.put(w, bits);
  // The decoder adds a table entry after this last code too: follow its width for EOI (libtiff does).
  next++;
  if (next !== ENCODER_LIMIT && next > (1 << bits) - 1) bits++;
  out.put(EOI, Math.min(bits, 12));
  return out.finish();
}

/**
 * Decodes a TIFF LZW stream into exactly `expectedLength` bytes (missing bytes stay 0; extra
 * output is dropped). Stops at EOI or at the end of the input.
 */
export function lzwDecode(input: Uint8Array, expectedLength: number): Uint8Array {
  const out = new Uint8Array(expectedLength);
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let i = 0; i < 256; i++) {
    suffix[i] = i;
    length[i] = 1;
    prefix[i] = -1;
  }
  let bits = 9;
  let next = FIRST_FREE;
  let old = -1;
  let outPos = 0;

  const write = (code: number): number => {
    // Writes the string of `code` at outPos (backwards from its end); returns its first byte.
    const len = length[code];
    let p = outPos + len - 1;
    let c = code;
    while (c >= 0) {
      if (p < expectedLength) out[p] = suffix[c];
      p--;
      if (prefix[c] < 0) break;
      c = prefix[c];
    }
    outPos += len;
    return suffix[c];
  };

  let acc = 0;
  let accBits = 0;
  let inPos = 0;
  while (outPos < expectedLength) {
    // Read `bits` bits MSB-first.
    while (accBits < bits && inPos < input.length) {
      acc = ((acc << 8) | input[inPos++]) & 0xffffff;
      accBits += 8;
    }
    if (accBits < bits) break;
    accBits -= bits;
    const code = (acc >>> accBits) & ((1 << bits) - 1);
    if (code === EOI) break;
    if (code === CLEAR) {
      bits = 9;
      next = FIRST_FREE;
      old = -1;
      continue;
    }
    if (old < 0) {
      if (code > 255) throw new Error(`LZW: invalid first code ${code}`);
      write(code);
      old = code;
      continue;
    }
    let first: number;
    if (code < next) {
      first = write(code);
    } else if (code === next) {
      // KwKwK case: the string of old followed by its own first byte.
      first = write(old);
      if (outPos < expectedLength) out[outPos] = first;
      outPos++;
    } else {
      throw new Error(`LZW: code ${code} beyond table size ${next}`);
    }
    if (next < 4096) {
      prefix[next] = old;
      suffix[next] = first;
      length[next] = length[old] + 1;
      next++;
    }
    if (next >= (1 << bits) - 1 && bits < 12) bits++;
    old = code;
  }
  return out;
}
