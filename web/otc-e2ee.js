// OTC-E2EE v1 (../shared/design/e2ee-format.md, docs/format.md) with
// WebCrypto only: usable in a page, a worker and Node >= 20
// (globalThis.crypto.subtle). Byte for byte the same as libotc-e2ee-1.0
// (ext/e2ee-format): key schedule, all eight cipher suites, SFrame header
// over the full 64-bit range (KIDs and counters are BigInts), frame layout
// F[0:L] || H || C || T || byte(L), VP8/Opus clear lengths.

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

export const FORMAT = 'OTC-E2EE';
export const FORMAT_VERSION = 1;
export const PBKDF2_ITERATIONS = 600000;
export const LABEL = 'OTC-E2EE-v1';
export const MAX_OVERHEAD = 17 + 16 + 1;

// Error codes of the format (section 7), the same numbers as the SDKs'.
export const ERRORS = {
  EncryptionSecretMissing: 6000,
  EncryptionInternalError: 6001,
  DecryptionInternalError: 6002,
  EncryptionSecretMismatch: 6003,
  InvalidEncryptionSecret: 6004,
  EncryptionUnsupportedCodec: 6005,
  DecryptionUnsupportedCodec: 6006,
};

export class E2eeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
    this.code = ERRORS[name];
  }
}

// id -> parameters (docs/format.md section 3)
export const CIPHER_SUITES = {};
for (const [id, name, nick, gcm, aesBytes, hash, nt] of [
  [1, 'AES_128_CTR_HMAC_SHA256_80', 'aes-128-ctr-hmac-sha256-80', false, 16, 'SHA-256', 10],
  [2, 'AES_128_CTR_HMAC_SHA256_64', 'aes-128-ctr-hmac-sha256-64', false, 16, 'SHA-256', 8],
  [3, 'AES_128_CTR_HMAC_SHA256_32', 'aes-128-ctr-hmac-sha256-32', false, 16, 'SHA-256', 4],
  [4, 'AES_128_GCM_SHA256_128', 'aes-128-gcm-sha256-128', true, 16, 'SHA-256', 16],
  [5, 'AES_256_GCM_SHA512_128', 'aes-256-gcm-sha512-128', true, 32, 'SHA-512', 16],
  [6, 'AES_256_CTR_HMAC_SHA512_80', 'aes-256-ctr-hmac-sha512-80', false, 32, 'SHA-512', 10],
  [7, 'AES_256_CTR_HMAC_SHA512_64', 'aes-256-ctr-hmac-sha512-64', false, 32, 'SHA-512', 8],
  [8, 'AES_256_CTR_HMAC_SHA512_32', 'aes-256-ctr-hmac-sha512-32', false, 32, 'SHA-512', 4],
]) {
  const nh = hash === 'SHA-256' ? 32 : 64;
  CIPHER_SUITES[id] = {
    id, name, nick, gcm, aesBytes, hash, nh, nt, nn: 12,
    nk: gcm ? aesBytes : aesBytes + nh,
  };
}
export const DEFAULT_CIPHER_SUITE = 6;

// A suite from its id, nick or name (like otc_cipher_suite_from_string).
export function cipherSuite(x) {
  if (typeof x === 'number' && CIPHER_SUITES[x]) return CIPHER_SUITES[x];
  for (const s of Object.values(CIPHER_SUITES)) {
    if (s.nick === x || s.name === x) return s;
  }
  return null;
}

// ---------------------------------------------------------------- helpers

export function hex(u8) {
  let s = '';
  for (const b of u8) s += b.toString(16).padStart(2, '0');
  return s;
}

export function unhex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function be64(x) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(x)));
  return out;
}

function be16(x) {
  return new Uint8Array([(x >> 8) & 0xff, x & 0xff]);
}

const U64_MAX = (1n << 64n) - 1n;

// Constant-time comparison (no early exit).
function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// ---------------------------------------------------------------- secret

// Section 2: 8 to 256 code points, no NUL, valid UTF-8 (a JS string with a
// lone surrogate has no UTF-8 form: invalid).
export function validateSecret(secret) {
  if (typeof secret !== 'string') return false;
  if (secret.includes('\0')) return false;
  if (!secret.isWellFormed ? /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(secret) : !secret.isWellFormed()) return false;
  const n = [...secret].length;
  return n >= 8 && n <= 256;
}

// Step 1: SK = PBKDF2-HMAC-SHA256(secret, "OTC-E2EE-v1" 0x00 session_id, 600000, 32)
export async function deriveSecretKey(secret, sessionId = '', iterations = PBKDF2_ITERATIONS) {
  if (!validateSecret(secret)) {
    throw new E2eeError('InvalidEncryptionSecret',
      'an encryption secret is 8 to 256 characters without NUL');
  }
  const pw = await subtle.importKey('raw', enc.encode(secret), 'PBKDF2', false, ['deriveBits']);
  const salt = concat(enc.encode(LABEL), new Uint8Array([0]), enc.encode(sessionId));
  const bits = await subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, pw, 256);
  return new Uint8Array(bits);
}

async function hkdf(hash, salt, ikm, info, length) {
  const k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits({ name: 'HKDF', hash, salt, info }, k, length * 8);
  return new Uint8Array(bits);
}

// Step 2: base_key(KID) = HKDF(H, salt "OTC-E2EE-v1", IKM SK,
//                              info "OTC-E2EE-v1 sender key" || BE64(KID), Nh)
export async function deriveSenderBaseKey(sk, kid, suiteId) {
  const s = CIPHER_SUITES[suiteId];
  return hkdf(s.hash, enc.encode(LABEL), sk,
    concat(enc.encode('OTC-E2EE-v1 sender key'), be64(kid)), s.nh);
}

// Step 3: RFC 9605 section 4.4.2.
export async function deriveSframeKeySalt(baseKey, kid, suiteId) {
  const s = CIPHER_SUITES[suiteId];
  const tail = concat(be64(kid), be16(s.id));
  const empty = new Uint8Array(0);
  const key = await hkdf(s.hash, empty, baseKey,
    concat(enc.encode('SFrame 1.0 Secret key '), tail), s.nk);
  const salt = await hkdf(s.hash, empty, baseKey,
    concat(enc.encode('SFrame 1.0 Secret salt '), tail), s.nn);
  return { key, salt };
}

// The cipher state of one (SK, KID): CryptoKeys and the salt.
export async function importFrameKey(sframeKey, sframeSalt, kid, suiteId) {
  const s = CIPHER_SUITES[suiteId];
  const fk = { suite: s, kid: BigInt(kid), salt: sframeSalt };
  if (s.gcm) {
    fk.aead = await subtle.importKey('raw', sframeKey, 'AES-GCM', false, ['encrypt', 'decrypt']);
  } else {
    fk.enc = await subtle.importKey('raw', sframeKey.subarray(0, s.aesBytes), 'AES-CTR',
      false, ['encrypt', 'decrypt']);
    fk.auth = await subtle.importKey('raw', sframeKey.subarray(s.aesBytes),
      { name: 'HMAC', hash: s.hash }, false, ['sign']);
  }
  return fk;
}

export async function deriveFrameKey(sk, kid, suiteId) {
  const base = await deriveSenderBaseKey(sk, kid, suiteId);
  const { key, salt } = await deriveSframeKeySalt(base, kid, suiteId);
  const fk = await importFrameKey(key, salt, kid, suiteId);
  key.fill(0);
  base.fill(0);
  return fk;
}

// ---------------------------------------------------------------- header

function minBytes(x) {
  let n = 1;
  while (n < 8 && x >> BigInt(8 * n) !== 0n) n++;
  return n;
}

export function encodeHeader(kid, ctr) {
  kid = BigInt(kid);
  ctr = BigInt(ctr);
  if (kid < 0n || kid > U64_MAX || ctr < 0n || ctr > U64_MAX) throw new RangeError('KID/CTR out of range');
  const bytes = [0];
  let cfg = 0;
  for (const [v, shift] of [[kid, 4], [ctr, 0]]) {
    if (v < 8n) {
      cfg |= Number(v) << shift;
    } else {
      const n = minBytes(v);
      cfg |= (0x8 | (n - 1)) << shift;
      for (let i = n - 1; i >= 0; i--) bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
    }
  }
  bytes[0] = cfg;
  return new Uint8Array(bytes);
}

// Returns { kid, ctr, size } or null when the data is too short.
export function decodeHeader(data, offset = 0, end = data.length) {
  if (offset >= end) return null;
  const cfg = data[offset];
  let pos = offset + 1;
  const out = {};
  for (const [name, nib] of [['kid', cfg >> 4], ['ctr', cfg & 0xf]]) {
    if (nib & 0x8) {
      const n = (nib & 0x7) + 1;
      if (pos + n > end) return null;
      let v = 0n;
      for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(data[pos + i]);
      pos += n;
      out[name] = v;
    } else {
      out[name] = BigInt(nib);
    }
  }
  out.size = pos - offset;
  return out;
}

// ---------------------------------------------------------------- frames

function nonceFor(salt, ctr) {
  const c = concat(new Uint8Array(4), be64(ctr));
  const n = new Uint8Array(12);
  for (let i = 0; i < 12; i++) n[i] = salt[i] ^ c[i];
  return n;
}

async function ctrTag(fk, nonce, aad, ct) {
  const s = fk.suite;
  const m = concat(be64(aad.length), be64(ct.length), be64(s.nt), nonce, aad, ct);
  const full = new Uint8Array(await subtle.sign('HMAC', fk.auth, m));
  return full.subarray(0, s.nt);
}

// protected = F[0:L] || H || C || T || byte(L)
export async function protectFrame(fk, ctr, frame, clearLen) {
  const s = fk.suite;
  if (clearLen < 0 || clearLen > 255 || clearLen > frame.length) throw new RangeError('bad clear length');
  const h = encodeHeader(fk.kid, ctr);
  const clear = frame.subarray(0, clearLen);
  const footer = new Uint8Array([clearLen]);
  const aad = concat(h, clear, footer);
  const nonce = nonceFor(fk.salt, ctr);
  const pt = frame.subarray(clearLen);
  let ctTag;
  if (s.gcm) {
    ctTag = new Uint8Array(await subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, fk.aead, pt));
  } else {
    const ct = new Uint8Array(await subtle.encrypt(
      { name: 'AES-CTR', counter: concat(nonce, new Uint8Array(4)), length: 128 }, fk.enc, pt));
    ctTag = concat(ct, await ctrTag(fk, nonce, aad, ct));
  }
  return concat(clear, h, ctTag, footer);
}

// Step 1 of the receiver rules: null when malformed, else the parts.
export function parseFrame(data, suiteId) {
  const s = CIPHER_SUITES[suiteId];
  if (data.length < 1) return null;
  const L = data[data.length - 1];
  if (data.length < L + 1 + s.nt + 1) return null;
  const tagStart = data.length - 1 - s.nt;
  const h = decodeHeader(data, L, tagStart);
  if (!h) return null;
  return { clearLen: L, kid: h.kid, ctr: h.ctr, headerSize: h.size, tagStart };
}

// Authenticate, then decrypt. Returns F (Uint8Array) or null when the tag
// does not verify. `parsed` is parseFrame's result for `data`.
export async function unprotectFrame(fk, data, parsed) {
  const s = fk.suite;
  const { clearLen: L, headerSize, tagStart, ctr } = parsed;
  const clear = data.subarray(0, L);
  const h = data.subarray(L, L + headerSize);
  const aad = concat(h, clear, new Uint8Array([L]));
  const nonce = nonceFor(fk.salt, ctr);
  const ct = data.subarray(L + headerSize, tagStart);
  const tag = data.subarray(tagStart, data.length - 1);
  let pt;
  if (s.gcm) {
    try {
      pt = new Uint8Array(await subtle.decrypt(
        { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, fk.aead,
        concat(ct, tag)));
    } catch (e) {
      return null;
    }
  } else {
    const expect = await ctrTag(fk, nonce, aad, ct);
    if (!equalBytes(expect, tag)) return null;
    pt = new Uint8Array(await subtle.decrypt(
      { name: 'AES-CTR', counter: concat(nonce, new Uint8Array(4)), length: 128 }, fk.enc, ct));
  }
  return concat(clear, pt);
}

// ---------------------------------------------------------------- codec policy

// The RFC 6386 section 7.3 boolean decoder, counting the bits shifted out
// (a port of ext/e2ee-format/codec-policy.c).
class BoolDecoder {
  constructor(data, offset) {
    this.data = data;
    this.pos = offset;
    this.value = (this.next() << 8) | this.next();
    this.range = 255;
    this.bitCount = 0;
    this.shifted = 0;
    this.neededBits = 0;
  }
  next() {
    return this.pos < this.data.length ? this.data[this.pos++] : 0;
  }
  read(prob) {
    const split = 1 + (((this.range - 1) * prob) >>> 8);
    const bigSplit = split << 8;
    let bit;
    this.neededBits = Math.max(this.neededBits, this.shifted + 8);
    if (this.value >= bigSplit) {
      bit = 1;
      this.range -= split;
      this.value -= bigSplit;
    } else {
      bit = 0;
      this.range = split;
    }
    while (this.range < 128) {
      this.value = (this.value << 1) & 0xffff;
      this.range <<= 1;
      this.shifted++;
      if (++this.bitCount === 8) {
        this.bitCount = 0;
        this.value |= this.next();
      }
    }
    return bit;
  }
  literal(bits) {
    let v = 0;
    while (bits--) v = (v << 1) | this.read(0x80);
    return v;
  }
  skipFlagged(count, bits) {
    for (let i = 0; i < count; i++) if (this.read(0x80)) this.literal(bits);
  }
}

// The smallest L that covers what GStreamer 1.22's rtpvp8pay parses
// (otc_vp8_clear_length). Throws E2eeError EncryptionUnsupportedCodec for
// frames with more than one token partition, like the C library.
export function vp8ClearLength(frame) {
  const len = frame.length;
  if (len < 3) return len;
  const keyframe = (frame[0] & 1) === 0;
  const offset = keyframe ? 10 : 3;
  const min = Math.min(len, offset);
  if (((frame[0] >> 1) & 7) > 3 || len <= offset) return min;
  if (keyframe && (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a)) return min;
  const d = new BoolDecoder(frame.subarray(0, len), offset);
  if (keyframe) d.literal(2);
  if (d.read(0x80)) {
    const updateMap = d.read(0x80);
    const updateData = d.read(0x80);
    if (updateData) {
      d.read(0x80);
      d.skipFlagged(4, 8);
      d.skipFlagged(4, 7);
    }
    if (updateMap) d.skipFlagged(3, 8);
  }
  d.literal(1);
  d.literal(6);
  d.literal(3);
  if (d.read(0x80)) {
    if (d.read(0x80)) d.skipFlagged(8, 7);
  }
  const partitionsLog2 = d.literal(2);
  if (partitionsLog2 !== 0) {
    throw new E2eeError('EncryptionUnsupportedCodec',
      `VP8 frames with ${1 << partitionsLog2} token partitions cannot be encrypted`);
  }
  return Math.min(len, offset + Math.ceil(d.neededBits / 8));
}

// codec: 'vp8', 'opus' or anything else (0 bytes clear).
export function clearLength(codec, frame) {
  if (codec === 'vp8') return vp8ClearLength(frame);
  if (codec === 'opus') return Math.min(frame.length, 1);
  return 0;
}

// ---------------------------------------------------------------- support

// The equivalent of OT.hasEndToEndEncryptionSupport(): WebCrypto with every
// algorithm the format needs, and an encoded transform API. Returns
// { supported, crypto, transform: 'script' | 'streams' | null, reason }.
export async function hasEndToEndEncryptionSupport() {
  const res = { supported: false, crypto: false, transform: null, reason: '' };
  try {
    const sk = await deriveSecretKey('support-check', '', 1);
    for (const id of [4, 6]) {
      const fk = await deriveFrameKey(sk, 1n, id);
      const f = new Uint8Array([1, 2, 3, 4]);
      const p = await protectFrame(fk, 0n, f, 1);
      const back = await unprotectFrame(fk, p, parseFrame(p, id));
      if (!back || !equalBytes(back, f)) throw new Error('round trip failed');
    }
    res.crypto = true;
  } catch (e) {
    res.reason = 'WebCrypto lacks PBKDF2, HKDF, AES-CTR, AES-GCM or HMAC: ' + e.message;
    return res;
  }
  const g = globalThis;
  if (typeof g.RTCRtpScriptTransform === 'function') res.transform = 'script';
  else if (g.RTCRtpSender && 'createEncodedStreams' in g.RTCRtpSender.prototype) res.transform = 'streams';
  if (!res.transform) {
    res.reason = 'this browser has no encoded transform API (RTCRtpScriptTransform or createEncodedStreams)';
    return res;
  }
  res.supported = true;
  return res;
}

// ---------------------------------------------------------------- sender / receiver state

// One sender: KID, counter from 0 (never reset, also not on a secret
// change), current key.
export class FrameEncryptor {
  constructor(suiteId, kid) {
    this.suiteId = suiteId;
    this.kid = BigInt(kid);
    this.ctr = 0n;
    this.key = null;
  }
  async setSecretKey(sk) {
    this.key = sk ? await deriveFrameKey(sk, this.kid, this.suiteId) : null;
  }
  async protect(frame, clearLen) {
    if (!this.key) throw new E2eeError('EncryptionSecretMissing', 'no encryption secret');
    if (this.ctr > U64_MAX) throw new E2eeError('EncryptionInternalError', 'counter exhausted');
    const ctr = this.ctr++;
    return protectFrame(this.key, ctr, frame, clearLen);
  }
}

const WINDOW = 128n;

// One receiver: current and previous secret (grace period), per-KID replay
// window and mismatch state, bounded key cache. unprotect() returns
// { status: 'ok'|'malformed'|'auth'|'replay'|'nosecret', frame?, kid?, ctr?, event?: 'mismatch'|'match' }.
export class FrameDecryptor {
  constructor(suiteId, { maxStreams = 64, cacheSize = 32, graceMs = 10000 } = {}) {
    this.suiteId = suiteId;
    this.maxStreams = maxStreams;
    this.cacheSize = cacheSize;
    this.graceMs = graceMs;
    this.secrets = []; // [{ id, sk, until }], current first
    this.nextSecretId = 1;
    this.cache = new Map(); // `${secretId}:${kid}` -> Promise<frameKey>, LRU order
    this.streams = new Map(); // kid string -> { max, seen:Set, mismatched, ok }
  }
  setSecretKey(sk, now = Date.now()) {
    const prev = this.secrets[0];
    this.secrets = sk ? [{ id: this.nextSecretId++, sk }] : [];
    if (prev && sk) this.secrets.push({ ...prev, until: now + this.graceMs });
    for (const k of [...this.cache.keys()]) {
      const id = Number(k.split(':')[0]);
      if (!this.secrets.some((s) => s.id === id)) this.cache.delete(k);
    }
  }
  hasSecret() {
    return this.secrets.length > 0;
  }
  key(secret, kid) {
    const k = `${secret.id}:${kid}`;
    let p = this.cache.get(k);
    if (p) {
      this.cache.delete(k);
    } else {
      p = deriveFrameKey(secret.sk, kid, this.suiteId);
      while (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value);
    }
    this.cache.set(k, p);
    return p;
  }
  // A KID gets a stream entry (replay window) only once one of its frames
  // authenticates; the least recently used entry gives way then. So forged
  // KIDs cannot push out the windows of real streams.
  stream(kid, create) {
    const k = kid.toString();
    let st = this.streams.get(k);
    if (st) {
      this.streams.delete(k);
      this.streams.set(k, st);
    } else if (create) {
      st = { max: -1n, seen: new Set(), mismatched: false };
      while (this.streams.size >= this.maxStreams) this.streams.delete(this.streams.keys().next().value);
      this.streams.set(k, st);
    }
    return st;
  }
  async unprotect(data, now = Date.now()) {
    const parsed = parseFrame(data, this.suiteId);
    if (!parsed) return { status: 'malformed' };
    const { kid, ctr } = parsed;
    if (!this.secrets.length) return { status: 'nosecret', kid, ctr };
    let st = this.stream(kid, false);
    if (st && (ctr <= st.max - WINDOW || st.seen.has(ctr))) return { status: 'replay', kid, ctr };
    this.secrets = this.secrets.filter((s) => !s.until || s.until > now);
    let out = null;
    for (const secret of this.secrets) {
      out = await unprotectFrame(await this.key(secret, kid), data, parsed);
      if (out) break;
    }
    if (!out) {
      return { status: 'auth', kid, ctr };
    }
    st = st || this.stream(kid, true);
    if (ctr > st.max) st.max = ctr;
    st.seen.add(ctr);
    if (st.seen.size > Number(WINDOW)) {
      for (const c of st.seen) if (c <= st.max - WINDOW) st.seen.delete(c);
    }
    const wasMismatched = st.mismatched;
    st.mismatched = false;
    return { status: 'ok', frame: out, kid, ctr, wasMismatched };
  }
  // The caller decides when failures amount to a mismatch (a delay); this
  // marks the stream so that the next success says wasMismatched.
  declareMismatch(kid) {
    const st = this.stream(BigInt(kid), false);
    if (st) st.mismatched = true;
  }
}
