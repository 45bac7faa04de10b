/**
 * A zlib stream (RFC 1950) of Huffman-coded DEFLATE blocks (RFC 1951) without match search: what zlib writes
 * at level 1 with Z_HUFFMAN_ONLY, the compression PNG maps use (src/raster/png-encoder.ts), at a fraction of
 * its cost. zlib tallies every byte into a symbol buffer, then walks it again to emit codes; here each block
 * is one histogram pass and one coding pass over the bytes, two codes per bit-buffer check.
 *
 * Each block of up to BLOCK input bytes gets its own code (zlib's Huffman-only blocks hold 16 Ki symbols),
 * so the code follows the image's statistics down the rows; a block that would not shrink is stored.
 */

/** Input bytes per block: below 65,536 so that a block that does not shrink fits in one stored block. */
export const BLOCK: i32 = 32768;

/** Longest literal code (RFC 1951 §3.2.7) and longest code-length code (its 3-bit lengths). */
const MAX_LIT_LEN: i32 = 15;
const MAX_CL_LEN: i32 = 7;

/** RFC 1951 §3.2.7: the order in which the code-length code's lengths are sent. */
const CL_ORDER = memory.data<u8>([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

// Static scratch (the module is single-threaded: one instance per thread).
const HIST4 = memory.data(4 * 256 * 4, 16); // four interleaved byte histograms (u32), summed into LIT_FREQ
const LIT_FREQ = memory.data(4 * 257, 16); // literals 0–255 and end-of-block 256 (u32)
const LIT_LEN = memory.data(257, 16); // their code lengths (u8)
const LIT_TAB = memory.data(4 * 257, 16); // their codes, bit-reversed, | length << 16 (u32)
const CL_FREQ = memory.data(4 * 19, 16);
const CL_LEN = memory.data(19, 16);
const CL_TAB = memory.data(4 * 19, 16);
const CL_SEQ = memory.data(2 * 259, 16); // the lengths run-length coded: symbol | extra bits << 8 (u16)
const SORTED = memory.data(4 * 257, 16); // symbols by ascending frequency (i32)
const WORK = memory.data(4 * 257, 16); // weights, then code lengths, in that order (i32)
const COUNT = memory.data(4 * 16, 16); // codes per length (i32)
const NEXT = memory.data(4 * 16, 16); // next canonical code per length (i32)

// The bit writer (RFC 1951 §3.1.1: codes packed from the least significant bit): bits not yet stored.
let out: usize = 0;
let bitBuf: u64 = 0;
let bitCount: u32 = 0;

/** Stores 32 bits once that many are pending: at most 31 stay, so two codes of up to 15 bits fit before the next check. */
// @ts-ignore: decorator
@inline
function flush32(): void {
  if (bitCount >= 32) {
    store<u32>(out, <u32>bitBuf);
    out += 4;
    bitBuf >>= 32;
    bitCount -= 32;
  }
}

// @ts-ignore: decorator
@inline
function put(value: u32, length: u32): void {
  bitBuf |= <u64>value << <u64>bitCount;
  bitCount += length;
  flush32();
}

/** Stores the bits left, the last byte padded with zeros (a byte boundary: stored blocks, the trailer). */
function alignToByte(): void {
  while (bitCount > 0) {
    store<u8>(out, <u8>bitBuf);
    out++;
    bitBuf >>= 8;
    bitCount = bitCount > 8 ? bitCount - 8 : 0;
  }
  bitBuf = 0;
}

/**
 * Code lengths for `n` symbols of frequencies `freq` (u32) into `lens` (u8), none longer than `maxLen`: a
 * Huffman code computed in place on the sorted weights (Moffat & Katajainen, "In-place calculation of
 * minimum-redundancy codes", 1995), then lengths over `maxLen` folded back while keeping the code complete
 * (each step moves one leaf up: the Kraft sum drops by one unit of 2^-maxLen). A code is always complete:
 * RFC 1951 decoders such as zlib refuse an incomplete code-length code, so a lone symbol gets a partner.
 */
function buildLengths(freq: usize, n: i32, lens: usize, maxLen: i32): void {
  let m = 0;
  for (let s = 0; s < n; s++) {
    store<u8>(lens + <usize>s, 0);
    if (load<u32>(freq + (<usize>s << 2)) > 0) {
      store<i32>(SORTED + (<usize>m << 2), s);
      m++;
    }
  }
  if (m < 2) {
    // One symbol (or none): two codes of one bit, the other one unused.
    const only = m == 1 ? load<i32>(SORTED) : 0;
    store<u8>(lens + <usize>only, 1);
    store<u8>(lens + <usize>(only == 0 ? 1 : 0), 1);
    return;
  }
  // Insertion sort by frequency: at most 257 symbols, once per block.
  for (let i = 1; i < m; i++) {
    const s = load<i32>(SORTED + (<usize>i << 2));
    const f = load<u32>(freq + (<usize>s << 2));
    let j = i - 1;
    while (j >= 0 && load<u32>(freq + (<usize>load<i32>(SORTED + (<usize>j << 2)) << 2)) > f) {
      store<i32>(SORTED + (<usize>(j + 1) << 2), load<i32>(SORTED + (<usize>j << 2)));
      j--;
    }
    store<i32>(SORTED + (<usize>(j + 1) << 2), s);
  }
  for (let i = 0; i < m; i++) store<i32>(WORK + (<usize>i << 2), <i32>load<u32>(freq + (<usize>load<i32>(SORTED + (<usize>i << 2)) << 2)));
  inPlaceLengths(WORK, m);
  // WORK[i] is now the length for the i-th least frequent symbol (non-increasing in i). Count per length.
  for (let l = 0; l < 16; l++) store<i32>(COUNT + (<usize>l << 2), 0);
  let over = false;
  for (let i = 0; i < m; i++) {
    let l = load<i32>(WORK + (<usize>i << 2));
    if (l > maxLen) {
      l = maxLen;
      over = true;
    }
    store<i32>(COUNT + (<usize>l << 2), load<i32>(COUNT + (<usize>l << 2)) + 1);
  }
  if (over) {
    let kraft: u32 = 0;
    for (let l = 1; l <= maxLen; l++) kraft += <u32>load<i32>(COUNT + (<usize>l << 2)) << <u32>(maxLen - l);
    while (kraft > <u32>1 << <u32>maxLen) {
      // A leaf at maxLen leaves; a shorter leaf becomes a node with two leaves one level down.
      store<i32>(COUNT + (<usize>maxLen << 2), load<i32>(COUNT + (<usize>maxLen << 2)) - 1);
      for (let l = maxLen - 1; l > 0; l--) {
        const c = load<i32>(COUNT + (<usize>l << 2));
        if (c > 0) {
          store<i32>(COUNT + (<usize>l << 2), c - 1);
          store<i32>(COUNT + (<usize>(l + 1) << 2), load<i32>(COUNT + (<usize>(l + 1) << 2)) + 2);
          break;
        }
      }
      kraft--;
    }
  }
  // The least frequent symbols take the longest codes.
  let i = 0;
  for (let l = maxLen; l > 0; l--)
    for (let c = load<i32>(COUNT + (<usize>l << 2)); c > 0; c--) {
      store<u8>(lens + <usize>load<i32>(SORTED + (<usize>i << 2)), <u8>l);
      i++;
    }
}

/**
 * Moffat & Katajainen's algorithm: `a` holds `n` ≥ 2 weights in ascending order; on return, `a[i]` is the
 * Huffman code length of the i-th. Three passes: build the tree's internal weights and parent links in
 * place, turn parent links into node depths, then count leaves per depth from the root down.
 */
function inPlaceLengths(a: usize, n: i32): void {
  store<i32>(a, load<i32>(a) + load<i32>(a, 4));
  let root = 0;
  let leaf = 2;
  for (let next = 1; next < n - 1; next++) {
    // First child: the lighter of the next internal node and the next leaf.
    if (leaf >= n || load<i32>(a + (<usize>root << 2)) < load<i32>(a + (<usize>leaf << 2))) {
      store<i32>(a + (<usize>next << 2), load<i32>(a + (<usize>root << 2)));
      store<i32>(a + (<usize>root << 2), next);
      root++;
    } else {
      store<i32>(a + (<usize>next << 2), load<i32>(a + (<usize>leaf << 2)));
      leaf++;
    }
    // Second child, the same way.
    if (leaf >= n || (root < next && load<i32>(a + (<usize>root << 2)) < load<i32>(a + (<usize>leaf << 2)))) {
      store<i32>(a + (<usize>next << 2), load<i32>(a + (<usize>next << 2)) + load<i32>(a + (<usize>root << 2)));
      store<i32>(a + (<usize>root << 2), next);
      root++;
    } else {
      store<i32>(a + (<usize>next << 2), load<i32>(a + (<usize>next << 2)) + load<i32>(a + (<usize>leaf << 2)));
      leaf++;
    }
  }
  // Internal node depths: the root (n − 2) at 0, each node one below its parent.
  store<i32>(a + (<usize>(n - 2) << 2), 0);
  for (let next = n - 3; next >= 0; next--)
    store<i32>(a + (<usize>next << 2), load<i32>(a + (<usize>load<i32>(a + (<usize>next << 2)) << 2)) + 1);
  // Leaves per depth: the nodes available at a depth not used by internal nodes are leaves.
  let available = 1;
  let used = 0;
  let depth = 0;
  let r = n - 2;
  let next = n - 1;
  while (available > 0) {
    while (r >= 0 && load<i32>(a + (<usize>r << 2)) == depth) {
      used++;
      r--;
    }
    while (available > used) {
      store<i32>(a + (<usize>next << 2), depth);
      next--;
      available--;
    }
    available = 2 * used;
    depth++;
    used = 0;
  }
}

/** Canonical codes (RFC 1951 §3.2.2) for `n` lengths, bit-reversed for LSB-first packing, | length << 16. */
function canonicalCodes(lens: usize, n: i32, table: usize): void {
  for (let l = 0; l < 16; l++) store<i32>(COUNT + (<usize>l << 2), 0);
  for (let s = 0; s < n; s++) {
    const l = <i32>load<u8>(lens + <usize>s);
    store<i32>(COUNT + (<usize>l << 2), load<i32>(COUNT + (<usize>l << 2)) + 1);
  }
  store<i32>(COUNT, 0);
  let code = 0;
  for (let l = 1; l < 16; l++) {
    code = (code + load<i32>(COUNT + (<usize>(l - 1) << 2))) << 1;
    store<i32>(NEXT + (<usize>l << 2), code);
  }
  for (let s = 0; s < n; s++) {
    const l = <i32>load<u8>(lens + <usize>s);
    if (l == 0) {
      store<u32>(table + (<usize>s << 2), 0);
      continue;
    }
    const c = load<i32>(NEXT + (<usize>l << 2));
    store<i32>(NEXT + (<usize>l << 2), c + 1);
    const reversed = <u32>(reverseBits(<u32>c) >> <u32>(32 - l));
    store<u32>(table + (<usize>s << 2), reversed | (<u32>l << 16));
  }
}

/** `x` with its 32 bits in reverse order. */
function reverseBits(x: u32): u32 {
  x = ((x >> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  return bswap<u32>(x);
}

/**
 * The literal and distance code lengths run-length coded with the code-length alphabet (RFC 1951 §3.2.7:
 * 16 repeats the previous length 3–6 times, 17 and 18 repeat zero 3–10 and 11–138 times), counted in
 * CL_FREQ. The distance code is two codes of one bit, none used: zlib does the same for literal-only
 * blocks, since some decoders refuse a block without a distance code. Returns the number of entries.
 */
function codeLengthSequence(): i32 {
  for (let s = 0; s < 19; s++) store<u32>(CL_FREQ + (<usize>s << 2), 0);
  let count = 0;
  let i = 0;
  while (i < 259) {
    const l = lengthAt(i);
    let run = 1;
    while (i + run < 259 && lengthAt(i + run) == l) run++;
    i += run;
    if (l == 0) {
      while (run >= 11) {
        const r = min(run, 138);
        count = emitLength(count, 18, r - 11);
        run -= r;
      }
      if (run >= 3) {
        count = emitLength(count, 17, run - 3);
        run = 0;
      }
    } else {
      count = emitLength(count, l, 0);
      run--;
      while (run >= 3) {
        const r = min(run, 6);
        count = emitLength(count, 16, r - 3);
        run -= r;
      }
    }
    for (; run > 0; run--) count = emitLength(count, l, 0);
  }
  return count;
}

function lengthAt(i: i32): i32 {
  return i < 257 ? <i32>load<u8>(LIT_LEN + <usize>i) : 1;
}

function emitLength(count: i32, symbol: i32, extra: i32): i32 {
  store<u16>(CL_SEQ + (<usize>count << 1), <u16>(symbol | (extra << 8)));
  store<u32>(CL_FREQ + (<usize>symbol << 2), load<u32>(CL_FREQ + (<usize>symbol << 2)) + 1);
  return count + 1;
}

/** Extra bits after a code-length symbol (16: 2, 17: 3, 18: 7). */
function extraBits(symbol: i32): u32 {
  return symbol == 16 ? 2 : symbol == 17 ? 3 : symbol == 18 ? 7 : 0;
}

/** Counts the bytes of [src, src + n) into LIT_FREQ (end-of-block once); four tables, so runs of one byte do not stall. */
function histogram(src: usize, n: i32): void {
  memory.fill(HIST4, 0, 4 * 256 * 4);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = load<u32>(src + <usize>i);
    const p0 = HIST4 + ((<usize>(w & 0xff)) << 2);
    store<u32>(p0, load<u32>(p0) + 1);
    const p1 = HIST4 + 1024 + ((<usize>((w >> 8) & 0xff)) << 2);
    store<u32>(p1, load<u32>(p1) + 1);
    const p2 = HIST4 + 2048 + ((<usize>((w >> 16) & 0xff)) << 2);
    store<u32>(p2, load<u32>(p2) + 1);
    const p3 = HIST4 + 3072 + ((<usize>(w >> 24)) << 2);
    store<u32>(p3, load<u32>(p3) + 1);
  }
  for (; i < n; i++) {
    const p = HIST4 + (<usize>load<u8>(src + <usize>i) << 2);
    store<u32>(p, load<u32>(p) + 1);
  }
  for (let s = 0; s < 256; s++) {
    const o = <usize>s << 2;
    store<u32>(LIT_FREQ + o, load<u32>(HIST4 + o) + load<u32>(HIST4 + 1024 + o) + load<u32>(HIST4 + 2048 + o) + load<u32>(HIST4 + 3072 + o));
  }
  store<u32>(LIT_FREQ + 1024, 1);
}

/** One block of the `n` bytes at `src`: Huffman-coded with its own code, or stored when that is not smaller. */
function block(src: usize, n: i32, final: u32): void {
  histogram(src, n);
  buildLengths(LIT_FREQ, 257, LIT_LEN, MAX_LIT_LEN);
  const entries = codeLengthSequence();
  buildLengths(CL_FREQ, 19, CL_LEN, MAX_CL_LEN);
  let hclen = 19;
  while (hclen > 4 && load<u8>(CL_LEN + <usize>load<u8>(CL_ORDER + <usize>(hclen - 1))) == 0) hclen--;
  // Size of each choice, in bits (the stored one counts its worst-case padding).
  let coded: u64 = 3 + 5 + 5 + 4 + 3 * <u64>hclen;
  for (let e = 0; e < entries; e++) {
    const sym = <i32>(load<u16>(CL_SEQ + (<usize>e << 1)) & 0xff);
    coded += <u64>load<u8>(CL_LEN + <usize>sym) + <u64>extraBits(sym);
  }
  for (let s = 0; s < 257; s++) coded += <u64>load<u32>(LIT_FREQ + (<usize>s << 2)) * <u64>load<u8>(LIT_LEN + <usize>s);
  if (coded >= 3 + 7 + 32 + 8 * <u64>n) {
    put(final, 3); // BTYPE 00
    alignToByte();
    store<u16>(out, <u16>n);
    store<u16>(out, <u16>~n, 2);
    memory.copy(out + 4, src, <usize>n);
    out += 4 + <usize>n;
    return;
  }
  canonicalCodes(LIT_LEN, 257, LIT_TAB);
  canonicalCodes(CL_LEN, 19, CL_TAB);
  put(final | (2 << 1), 3); // BFINAL, BTYPE 10 (dynamic codes)
  put(0, 5); // HLIT: 257 literal/length codes
  put(1, 5); // HDIST: 2 distance codes
  put(<u32>(hclen - 4), 4);
  for (let k = 0; k < hclen; k++) put(<u32>load<u8>(CL_LEN + <usize>load<u8>(CL_ORDER + <usize>k)), 3);
  for (let e = 0; e < entries; e++) {
    const entry = <u32>load<u16>(CL_SEQ + (<usize>e << 1));
    const sym = entry & 0xff;
    const t = load<u32>(CL_TAB + (<usize>sym << 2));
    put(t & 0xffff, t >> 16);
    const x = extraBits(<i32>sym);
    if (x > 0) put(entry >> 8, x);
  }
  // The bytes, two codes (at most 30 bits) per check of the bit buffer.
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const t0 = load<u32>(LIT_TAB + (<usize>load<u8>(src + <usize>i) << 2));
    const t1 = load<u32>(LIT_TAB + (<usize>load<u8>(src + <usize>i, 1) << 2));
    const l0 = t0 >> 16;
    bitBuf |= <u64>((t0 & 0xffff) | ((t1 & 0xffff) << l0)) << <u64>bitCount;
    bitCount += l0 + (t1 >> 16);
    flush32();
  }
  if (i < n) {
    const t = load<u32>(LIT_TAB + (<usize>load<u8>(src + <usize>i) << 2));
    put(t & 0xffff, t >> 16);
  }
  const eob = load<u32>(LIT_TAB + (256 << 2));
  put(eob & 0xffff, eob >> 16);
}

// The running Adler-32 of the bytes written (RFC 1950 §8.2).
let adlerA: u32 = 1;
let adlerB: u32 = 0;

/** Adds the `n` bytes at `src` to the Adler-32 sums, reduced every 5,552 bytes so that they stay in 32 bits. */
function adlerUpdate(src: usize, n: i32): void {
  let a = adlerA;
  let b = adlerB;
  let i = 0;
  while (i < n) {
    const end = min(n, i + 5552);
    for (; i + 4 <= end; i += 4) {
      const w = load<u32>(src + <usize>i);
      a += w & 0xff;
      b += a;
      a += (w >> 8) & 0xff;
      b += a;
      a += (w >> 16) & 0xff;
      b += a;
      a += w >> 24;
      b += a;
    }
    for (; i < end; i++) {
      a += <u32>load<u8>(src + <usize>i);
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  adlerA = a;
  adlerB = b;
}

/** The most bytes a stream of `n` input bytes written in `writes` calls of {@link zlibWrite} takes. */
export function zlibBound(n: i32, writes: i32): i32 {
  // Each block at worst stored: 5 bytes of header and one of padding; a write makes at least one block.
  return n + 6 * (n / BLOCK + writes) + 2 + 4;
}

/**
 * Starts a zlib stream at `dst`: header 78 01 (deflate, 32 KiB window, fastest level). Then
 * {@link zlibWrite} the bytes, then {@link zlibEnd}.
 */
export function zlibStart(dst: usize): void {
  out = dst;
  bitBuf = 0;
  bitCount = 0;
  adlerA = 1;
  adlerB = 0;
  store<u8>(out, 0x78);
  store<u8>(out, 0x01, 1);
  out += 2;
}

/** Compresses the `n` bytes at `src` as blocks of at most BLOCK bytes; `last`: the final block is among them. */
export function zlibWrite(src: usize, n: i32, last: bool): void {
  adlerUpdate(src, n);
  let at = 0;
  do {
    const size = min(BLOCK, n - at);
    block(src + <usize>at, size, last && at + size >= n ? 1 : 0);
    at += size;
  } while (at < n);
}

/** Ends the stream (the Adler-32 of every byte written); returns its length from the `dst` of {@link zlibStart}. */
export function zlibEnd(dst: usize): i32 {
  alignToByte();
  store<u32>(out, bswap<u32>((adlerB << 16) | adlerA));
  out += 4;
  return <i32>(out - dst);
}

/** The `n` bytes at `src` as one zlib stream at `dst` (room for `zlibBound(n, 1)` bytes); returns its length. */
export function zlibHuffman(src: usize, n: i32, dst: usize): i32 {
  zlibStart(dst);
  zlibWrite(src, n, true);
  return zlibEnd(dst);
}
