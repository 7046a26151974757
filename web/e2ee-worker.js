// The E2EE encoded transform (a module worker). One worker serves every
// sender and receiver of the page:
//  - RTCRtpScriptTransform: `rtctransform` events, options
//    { role: 'send'|'recv', kind: 'video'|'audio', id, kid? }
//  - createEncodedStreams (fallback): a { type: 'streams', readable,
//    writable, options } message with the same options.
// Messages from the page: { type: 'config', suite, sessionId },
// { type: 'secret', secret } (PBKDF2 runs here, off the main thread).
// To the page: { type: 'secret', ok, error? }, { type: 'state', id, state },
// { type: 'stats', stats: { id: {...} } }.
import {
  CIPHER_SUITES, DEFAULT_CIPHER_SUITE, FrameDecryptor, FrameEncryptor,
  clearLength, deriveSecretKey, validateSecret, E2eeError,
} from './otc-e2ee.js';

let suiteId = DEFAULT_CIPHER_SUITE;
let sessionId = '';
let sk = null;              // current secret key (Uint8Array) or null
let secretSerial = 0;
const senders = new Map();  // id -> { enc, stats }
const receivers = new Map();// id -> receiver context

// How long frames must keep failing before a stream is declared mismatched,
// and how often a key frame is asked for after a mismatch turns to a match
// (libwebrtc ignores requests within ~300 ms of the previous one).
const MISMATCH_DELAY_MS = 300;
const KEY_FRAME_REQUEST_MS = 400;

function post(msg) {
  self.postMessage(msg);
}

function hexOf(u8) {
  let h = '';
  for (const b of u8) h += b.toString(16).padStart(2, '0');
  return h;
}

function newStats() {
  return { frames: 0, ok: 0, auth: 0, malformed: 0, replay: 0, noSecret: 0, dropped: 0, bytes: 0,
    keyFrames: 0, keyFrameRequests: 0, lastKid: null, lastClearLen: null, clearBytes: 0,
    minimumClearLen: 0 };
}

async function setSecret(secret) {
  const serial = ++secretSerial;
  if (secret === null || secret === '') {
    sk = null;
    for (const s of senders.values()) await s.enc.setSecretKey(null);
    for (const r of receivers.values()) r.dec.setSecretKey(null);
    post({ type: 'secret', ok: true, cleared: true });
    return;
  }
  if (!validateSecret(secret)) {
    post({ type: 'secret', ok: false, code: 6004, error: 'InvalidEncryptionSecret: 8 to 256 characters, no NUL' });
    return;
  }
  const t0 = performance.now();
  const key = await deriveSecretKey(secret, sessionId);
  if (serial !== secretSerial) return; // a newer secret came meanwhile
  sk = key;
  for (const s of senders.values()) await s.enc.setSecretKey(sk);
  for (const r of receivers.values()) r.dec.setSecretKey(sk);
  post({ type: 'secret', ok: true, pbkdf2Ms: Math.round(performance.now() - t0) });
}

function codecOf(options, frame) {
  const mime = frame.getMetadata?.().mimeType?.toLowerCase() || '';
  if (mime.includes('vp8')) return 'vp8';
  if (mime.includes('opus')) return 'opus';
  if (mime) return mime;
  return options.kind === 'video' ? 'vp8' : 'opus';
}

async function setupSender(options, readable, writable) {
  const enc = new FrameEncryptor(suiteId, BigInt(options.kid));
  if (sk) await enc.setSecretKey(sk);
  const ctx = { enc, stats: newStats(), kind: options.kind };
  senders.set(options.id, ctx);
  const st = ctx.stats;
  st.lastKid = options.kid;
  if (options.record) st.hashes = [];
  await readable.pipeThrough(new TransformStream({
    async transform(frame, controller) {
      st.frames++;
      const data = new Uint8Array(frame.data);
      let L;
      try {
        L = clearLength(codecOf(options, frame), data);
      } catch (e) {
        // More than one VP8 token partition: rtpvp8pay could not take it
        // (the C library refuses it). libwebrtc's packetizer reads nothing,
        // so the minimum (10 or 3) keeps the frame usable for browsers.
        L = Math.min(data.length, (data[0] & 1) === 0 ? 10 : 3);
        st.minimumClearLen++;
      }
      if (!enc.key) {
        st.noSecret++;
        st.dropped++;
        return; // never sent in the clear
      }
      if (options.record && st.hashes.length < 3000) {
        // test aid (?record=1): SHA-256 of each plaintext frame, so that a
        // receiver's decrypted frames can be compared byte for byte
        st.hashes.push(hexOf(new Uint8Array(await crypto.subtle.digest('SHA-256', data))));
      }
      const out = await enc.protect(data, L);
      st.ok++;
      st.bytes += data.length;
      st.lastClearLen = L;
      st.clearBytes += L;
      if (frame.type === 'key') st.keyFrames++;
      frame.data = out.buffer.byteLength === out.length ? out.buffer : out.slice().buffer;
      controller.enqueue(frame);
    },
  })).pipeTo(writable);
}

async function setupReceiver(options, readable, writable, transformer) {
  const dec = new FrameDecryptor(suiteId);
  if (sk) dec.setSecretKey(sk);
  const ctx = {
    dec, stats: newStats(), kind: options.kind, state: 'waiting',
    failingSince: null, lastOk: 0, needKeyFrame: false, keyTimer: null, transformer,
  };
  receivers.set(options.id, ctx);
  const st = ctx.stats;
  const setState = (state) => {
    if (ctx.state !== state) {
      ctx.state = state;
      post({ type: 'state', id: options.id, kind: options.kind, state });
    }
  };
  const requestKeyFrame = () => {
    st.keyFrameRequests++;
    if (transformer?.sendKeyFrameRequest) transformer.sendKeyFrameRequest().catch(() => {});
    else post({ type: 'keyFrameRequest', id: options.id });
  };
  const startKeyFrameRequests = () => {
    if (options.kind !== 'video' || ctx.keyTimer) return;
    ctx.needKeyFrame = true;
    requestKeyFrame();
    ctx.keyTimer = setInterval(requestKeyFrame, KEY_FRAME_REQUEST_MS);
  };
  const stopKeyFrameRequests = () => {
    ctx.needKeyFrame = false;
    if (ctx.keyTimer) clearInterval(ctx.keyTimer);
    ctx.keyTimer = null;
  };
  await readable.pipeThrough(new TransformStream({
    async transform(frame, controller) {
      st.frames++;
      const now = Date.now();
      const r = await dec.unprotect(new Uint8Array(frame.data), now);
      if (r.kid !== undefined) st.lastKid = r.kid.toString();
      if (r.status === 'ok') {
        st.ok++;
        st.bytes += r.frame.length;
        ctx.failingSince = null;
        ctx.lastOk = now;
        if (ctx.state === 'mismatch' || ctx.state === 'missing') startKeyFrameRequests();
        setState('decrypting');
        if (ctx.needKeyFrame) {
          if (frame.type === 'delta') { st.dropped++; return; } // the decoder would show garbage
          stopKeyFrameRequests();
        }
        if (frame.type === 'key') st.keyFrames++;
        frame.data = r.frame.buffer.byteLength === r.frame.length ? r.frame.buffer : r.frame.slice().buffer;
        controller.enqueue(frame);
        return;
      }
      st.dropped++;
      if (r.status === 'replay') { st.replay++; return; }
      if (r.status === 'malformed') { st.malformed++; return; }
      if (r.status === 'nosecret') { st.noSecret++; setState('missing'); return; }
      st.auth++;
      if (ctx.failingSince === null) ctx.failingSince = now;
      if (ctx.state !== 'mismatch' && now - ctx.failingSince >= MISMATCH_DELAY_MS) {
        dec.declareMismatch(r.kid);
        stopKeyFrameRequests();
        setState('mismatch');
      }
    },
  })).pipeTo(writable);
}

function setup(options, readable, writable, transformer) {
  const p = options.role === 'send'
    ? setupSender(options, readable, writable)
    : setupReceiver(options, readable, writable, transformer);
  p.catch((e) => post({ type: 'error', id: options.id, error: String(e?.message || e),
    code: e instanceof E2eeError ? e.code : 6001 }));
}

// RTCRtpScriptTransform
self.addEventListener('rtctransform', (event) => {
  const t = event.transformer;
  setup(t.options, t.readable, t.writable, t);
});

self.addEventListener('message', (event) => {
  const m = event.data;
  if (m.type === 'config') {
    if (!CIPHER_SUITES[m.suite]) {
      post({ type: 'error', error: `unsupported cipher suite ${m.suite}` });
      return;
    }
    suiteId = m.suite;
    sessionId = m.sessionId || '';
    post({ type: 'config', ok: true });
  } else if (m.type === 'secret') {
    setSecret(m.secret).catch((e) => post({ type: 'secret', ok: false, error: String(e) }));
  } else if (m.type === 'streams') {
    setup(m.options, m.readable, m.writable, null);
  } else if (m.type === 'forget') {
    senders.delete(m.id);
    const r = receivers.get(m.id);
    if (r?.keyTimer) clearInterval(r.keyTimer);
    receivers.delete(m.id);
  }
});

// Counters for the page (and the tests): frames a receive transform drops
// are not in framesReceived, so the worker keeps its own.
setInterval(() => {
  const stats = {};
  for (const [id, s] of senders) stats[id] = { role: 'send', kind: s.kind, ...s.stats };
  for (const [id, r] of receivers) stats[id] = { role: 'recv', kind: r.kind, state: r.state, ...r.stats };
  post({ type: 'stats', stats });
}, 500);
