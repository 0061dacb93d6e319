// HMAC-SHA256 (RFC 2104, FIPS 180-4) with one key, made in JavaScript: node-heal seals its state on
// every write it makes (decide/seal.ts), and `node:crypto`'s createHmac builds stream-backed objects
// for each, where this keeps its key's inner and outer blocks hashed once and allocates little (the
// bytes of a text it is given, and its answer). Slower per byte than `node:crypto` past about 800
// bytes: the seal uses it for short states only. Checked against `node:crypto` and RFC 4231's test
// vectors (tests/unit/base/hmac_sha256_test.ts).

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

const INITIAL = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

const BLOCK = 64;
const encoder = new TextEncoder();

/** SHA-256's compression of the 64-byte blocks of `data` from `at` to `end` into `state`. */
function compress(state: Int32Array, w: Int32Array, data: Uint8Array, at: number, end: number) {
  for (; at < end; at += BLOCK) {
    for (let i = 0; i < 16; i++) {
      const j = at + i * 4;
      w[i] = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = state[0], b = state[1], c = state[2], d = state[3];
    let e = state[4], f = state[5], g = state[6], h = state[7];
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0] = (state[0] + a) | 0;
    state[1] = (state[1] + b) | 0;
    state[2] = (state[2] + c) | 0;
    state[3] = (state[3] + d) | 0;
    state[4] = (state[4] + e) | 0;
    state[5] = (state[5] + f) | 0;
    state[6] = (state[6] + g) | 0;
    state[7] = (state[7] + h) | 0;
  }
}

/**
 * Hashes `data` (`prefixBlocks` 64-byte blocks already in `state`) to its end into `state`,
 * with SHA-256's padding; `scratch` holds the padded tail.
 */
function finish(
  state: Int32Array,
  w: Int32Array,
  data: Uint8Array,
  prefixBlocks: number,
  scratch: Uint8Array,
): void {
  const whole = data.length - (data.length % BLOCK);
  compress(state, w, data, 0, whole);
  const rest = data.length - whole;
  const tail = rest + 9 > BLOCK ? 2 * BLOCK : BLOCK;
  scratch.fill(0, 0, tail);
  scratch.set(data.subarray(whole), 0);
  scratch[rest] = 0x80;
  // The length in bits, as a 64-bit big-endian number: inputs here are far below 2^32 bytes.
  const bits = (prefixBlocks * BLOCK + data.length) * 8;
  scratch[tail - 5] = Math.floor(bits / 2 ** 32) & 0xff;
  scratch[tail - 4] = (bits >>> 24) & 0xff;
  scratch[tail - 3] = (bits >>> 16) & 0xff;
  scratch[tail - 2] = (bits >>> 8) & 0xff;
  scratch[tail - 1] = bits & 0xff;
  compress(state, w, scratch, 0, tail);
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  const state = INITIAL.slice();
  finish(state, new Int32Array(64), data, 0, new Uint8Array(2 * BLOCK));
  return bytesOf(state, new Uint8Array(32));
}

/** `state`'s eight words, big-endian, into `out` (32 bytes). */
function bytesOf(state: Int32Array, out: Uint8Array): Uint8Array {
  for (let i = 0; i < 8; i++) {
    out[i * 4] = state[i] >>> 24;
    out[i * 4 + 1] = (state[i] >>> 16) & 0xff;
    out[i * 4 + 2] = (state[i] >>> 8) & 0xff;
    out[i * 4 + 3] = state[i] & 0xff;
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** HMAC-SHA256 with one key, its inner and outer blocks hashed once. */
export class HmacSha256 {
  #inner = new Int32Array(8);
  #outer = new Int32Array(8);
  #w = new Int32Array(64);
  #state = new Int32Array(8);
  #scratch = new Uint8Array(2 * BLOCK);
  #digest = new Uint8Array(32);

  constructor(key: Uint8Array) {
    const block = new Uint8Array(BLOCK);
    block.set(key.length > BLOCK ? sha256(key) : key);
    const pad = new Uint8Array(BLOCK);
    for (const [state, byte] of [[this.#inner, 0x36], [this.#outer, 0x5c]] as const) {
      for (let i = 0; i < BLOCK; i++) pad[i] = block[i] ^ byte;
      state.set(INITIAL);
      compress(state, this.#w, pad, 0, BLOCK);
    }
  }

  /** The HMAC of `message` (UTF-8), in lowercase hex. */
  hex(message: string | Uint8Array): string {
    const data = typeof message === "string" ? encoder.encode(message) : message;
    const state = this.#state;
    state.set(this.#inner);
    finish(state, this.#w, data, 1, this.#scratch);
    const digest = bytesOf(state, this.#digest);
    state.set(this.#outer);
    finish(state, this.#w, digest, 1, this.#scratch);
    let out = "";
    for (let i = 0; i < 8; i++) {
      const v = state[i];
      out += HEX[v >>> 24] + HEX[(v >>> 16) & 0xff] + HEX[(v >>> 8) & 0xff] + HEX[v & 0xff];
    }
    return out;
  }
}
