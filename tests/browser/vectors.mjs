// The JS implementation of OTC-E2EE v1 (web/otc-e2ee.js) against every
// vector in ../shared/testvectors (read at test time; OTC_SHARED_DIR
// overrides), in Node >= 20. Exits non-zero on any mismatch.
//   node tests/browser/vectors.mjs
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// Node 18 has WebCrypto only as node:crypto's webcrypto
if (!globalThis.crypto?.subtle) globalThis.crypto = (await import('node:crypto')).webcrypto;
const e2ee = await import('../../web/otc-e2ee.js');

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const shared = process.env.OTC_SHARED_DIR || resolve(root, '..', 'shared');
const tv = join(shared, 'testvectors');
const { hex, unhex } = e2ee;

// KIDs and counters reach 2^64-1: keep them exact (strings -> BigInt).
function load(path) {
  const text = readFileSync(path, 'utf8')
    .replace(/("(?:kid|ctr)"\s*:\s*)(\d+)/g, '$1"$2"');
  return JSON.parse(text);
}

let passed = 0;
let failed = 0;
const counts = {};
function check(group, what, got, want) {
  counts[group] = counts[group] || { pass: 0, fail: 0 };
  if (got === want) {
    passed++;
    counts[group].pass++;
  } else {
    failed++;
    counts[group].fail++;
    console.log(`FAIL ${group}: ${what}\n  got  ${got}\n  want ${want}`);
  }
}

// ---- SFrame header vectors (RFC 9605 section 4.3, full 64-bit range)
const sf = load(join(tv, 'sframe', 'test-vectors.json'));
for (const v of sf.header) {
  const kid = BigInt(v.kid), ctr = BigInt(v.ctr);
  check('header', `encode ${kid}/${ctr}`, hex(e2ee.encodeHeader(kid, ctr)), v.encoded);
  const d = e2ee.decodeHeader(unhex(v.encoded));
  check('header', `decode ${v.encoded}`, `${d.kid}/${d.ctr}/${d.size}`,
    `${kid}/${ctr}/${v.encoded.length / 2}`);
}

// ---- AES-CTR+HMAC AEAD (RFC 9605 suites 1-3, 6-8): key, nonce, aad, pt -> ct||tag
const sf256 = load(join(tv, 'sframe', 'test-vectors-aes256.json'));
for (const v of [...sf.aes_ctr_hmac, ...(sf.aes_256_ctr_hmac || [])]) {
  const s = e2ee.CIPHER_SUITES[v.cipher_suite];
  const fk = await e2ee.importFrameKey(unhex(v.key), unhex(v.nonce), 0n, s.id);
  // nonce = salt XOR ctr: with ctr 0 the salt is the nonce. The vectors give
  // aad separately, so run the AEAD directly through a frame with L = 0.
  const enc = new Uint8Array(await crypto.subtle.encrypt(
    { name: 'AES-CTR', counter: new Uint8Array([...unhex(v.nonce), 0, 0, 0, 0]), length: 128 },
    fk.enc, unhex(v.pt)));
  const aad = unhex(v.aad);
  const be = (n) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b; };
  const m = new Uint8Array([...be(aad.length), ...be(enc.length), ...be(s.nt), ...unhex(v.nonce), ...aad, ...enc]);
  const tag = new Uint8Array(await crypto.subtle.sign('HMAC', fk.auth, m)).subarray(0, s.nt);
  check('aead', `suite ${s.id}`, hex(enc) + hex(tag), v.ct);
}

// ---- SFrame end to end (RFC 9605 appendix C, suites 1-5; 6-8)
for (const v of [...sf.sframe, ...sf256.sframe_aes_256_ctr_hmac]) {
  const s = e2ee.CIPHER_SUITES[v.cipher_suite];
  const kid = BigInt(v.kid), ctr = BigInt(v.ctr);
  const { key, salt } = await e2ee.deriveSframeKeySalt(unhex(v.base_key), kid, s.id);
  check('sframe', `suite ${s.id} sframe_key`, hex(key), v.sframe_key);
  check('sframe', `suite ${s.id} sframe_salt`, hex(salt), v.sframe_salt);
  const fk = await e2ee.importFrameKey(key, salt, kid, s.id);
  const h = e2ee.encodeHeader(kid, ctr);
  const aad = new Uint8Array([...h, ...unhex(v.metadata)]);
  check('sframe', `suite ${s.id} aad`, hex(aad), v.aad);
  const nonce = salt.map((b, i) => b ^ (i >= 4 ? Number((ctr >> BigInt(8 * (11 - i))) & 0xffn) : 0));
  check('sframe', `suite ${s.id} nonce`, hex(nonce), v.nonce);
  let ct;
  if (s.gcm) {
    ct = new Uint8Array(await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, fk.aead, unhex(v.pt)));
  } else {
    const c = new Uint8Array(await crypto.subtle.encrypt(
      { name: 'AES-CTR', counter: new Uint8Array([...nonce, 0, 0, 0, 0]), length: 128 },
      fk.enc, unhex(v.pt)));
    const be = (n) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b; };
    const m = new Uint8Array([...be(aad.length), ...be(c.length), ...be(s.nt), ...nonce, ...aad, ...c]);
    const tag = new Uint8Array(await crypto.subtle.sign('HMAC', fk.auth, m)).subarray(0, s.nt);
    ct = new Uint8Array([...c, ...tag]);
  }
  check('sframe', `suite ${s.id} ct`, hex(h) + hex(ct), v.ct);
}

// ---- OTC-E2EE v1: every intermediate value, protect and unprotect
const otc = load(join(tv, 'otc-e2ee-v1.json'));
check('otc', 'pbkdf2_iterations', otc.pbkdf2_iterations, e2ee.PBKDF2_ITERATIONS);
const skCache = new Map();
async function sk(secret, sessionId) {
  const k = JSON.stringify([secret, sessionId]);
  if (!skCache.has(k)) skCache.set(k, await e2ee.deriveSecretKey(secret, sessionId));
  return skCache.get(k);
}
const suitesSeen = new Set();
for (const [i, v] of otc.vectors.entries()) {
  const id = v.cipher_suite;
  suitesSeen.add(id);
  const kid = BigInt(v.kid), ctr = BigInt(v.ctr);
  const tag = `#${i} suite ${id} kid ${kid} ctr ${ctr}`;
  check('otc', `${tag} secret valid`, e2ee.validateSecret(v.secret), true);
  const key = await sk(v.secret, v.session_id);
  check('otc', `${tag} secret_key`, hex(key), v.secret_key);
  const base = await e2ee.deriveSenderBaseKey(key, kid, id);
  check('otc', `${tag} sender_base_key`, hex(base), v.sender_base_key);
  const ks = await e2ee.deriveSframeKeySalt(base, kid, id);
  check('otc', `${tag} sframe_key`, hex(ks.key), v.sframe_key);
  check('otc', `${tag} sframe_salt`, hex(ks.salt), v.sframe_salt);
  const fk = await e2ee.deriveFrameKey(key, kid, id);
  const frame = unhex(v.frame);
  const prot = await e2ee.protectFrame(fk, ctr, frame, v.clear_len);
  check('otc', `${tag} protected`, hex(prot), v.protected);
  const p = e2ee.parseFrame(unhex(v.protected), id);
  check('otc', `${tag} parse`, p && `${p.kid}/${p.ctr}/${p.clearLen}`, `${kid}/${ctr}/${v.clear_len}`);
  const back = await e2ee.unprotectFrame(fk, unhex(v.protected), p);
  check('otc', `${tag} unprotect`, back && hex(back), v.frame);
  // through the stateful objects too
  const dec = new e2ee.FrameDecryptor(id);
  dec.setSecretKey(key);
  const r = await dec.unprotect(unhex(v.protected));
  check('otc', `${tag} decryptor`, r.status === 'ok' && hex(r.frame), v.frame);
  check('otc', `${tag} replay`, (await dec.unprotect(unhex(v.protected))).status, 'replay');
}
check('otc', 'all eight suites covered', [...suitesSeen].sort().join(','), '1,2,3,4,5,6,7,8');

for (const v of otc.negative) {
  const key = await sk(v.secret, v.session_id);
  const dec = new e2ee.FrameDecryptor(v.cipher_suite);
  dec.setSecretKey(key);
  const r = await dec.unprotect(unhex(v.protected));
  const ok = v.expect === 'auth_or_malformed' ? ['auth', 'malformed'].includes(r.status) : r.status === v.expect;
  check('negative', `${v.name} (expect ${v.expect})`, ok ? 'yes' : r.status, 'yes');
}

// ---- secret rules (section 2)
const secretCases = [
  ['', false], ['1234567', false], ['12345678', true], ['Ünïcødé!', true],
  ['x'.repeat(256), true], ['x'.repeat(257), false], ['é'.repeat(256), true],
  ['🔐'.repeat(256), true], ['🔐'.repeat(257), false], ['1234\u00005678', false],
  ['1234567\ud800', false], [null, false],
];
for (const [s, want] of secretCases) {
  check('secret', `validate ${JSON.stringify(s)?.slice(0, 20)}`, e2ee.validateSecret(s), want);
}

// ---- encryptor -> decryptor round trip, every suite, secret change
for (const id of Object.keys(e2ee.CIPHER_SUITES).map(Number)) {
  const a = await sk('correct horse battery staple', 'sess-42');
  const b = await sk('12345678', 'sess-42');
  const encr = new e2ee.FrameEncryptor(id, 0x12345n);
  await encr.setSecretKey(a);
  const dec = new e2ee.FrameDecryptor(id);
  dec.setSecretKey(a);
  let ok = true;
  for (let n = 0; n < 20; n++) {
    const f = crypto.getRandomValues(new Uint8Array(n * 7));
    const L = Math.min(f.length, n % 4);
    if (n === 10) await encr.setSecretKey(b); // sender first: receiver still has a only
    if (n === 12) dec.setSecretKey(b);
    const r = await dec.unprotect(await encr.protect(f, L));
    const want = n === 10 || n === 11 ? 'auth' : 'ok';
    if (r.status !== want || (want === 'ok' && hex(r.frame) !== hex(f))) ok = false;
  }
  check('roundtrip', `suite ${id}`, ok, true);
}

// ---- replay window: 128 counters, out of order inside it is fine
{
  const key = await sk('12345678', 'sess-42');
  const encr = new e2ee.FrameEncryptor(6, 77n);
  await encr.setSecretKey(key);
  const frames = [];
  for (let n = 0; n < 300; n++) frames.push(await encr.protect(new Uint8Array([n & 0xff, 1, 2]), 1));
  const dec = new e2ee.FrameDecryptor(6);
  dec.setSecretKey(key);
  const st = async (i) => (await dec.unprotect(frames[i])).status;
  const got = [await st(5), await st(3), await st(5), await st(200), await st(100), await st(72), await st(73), await st(299), await st(172), await st(171)];
  check('replay', 'window', got.join(','), 'ok,ok,replay,ok,ok,replay,ok,ok,ok,replay');
  // a forged KID (wrong secret) does not take a stream entry
  const other = new e2ee.FrameEncryptor(6, 78n);
  await other.setSecretKey(await sk('87654321', 'sess-42'));
  check('replay', 'forged KID fails, no entry', (await dec.unprotect(await other.protect(new Uint8Array(4), 0))).status + dec.streams.size, 'auth1');
}

for (const [g, c] of Object.entries(counts)) console.log(`${g}: ${c.pass} passed, ${c.fail} failed`);
console.log(`vectors: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
