// The otc web client: joins a session on otc-router with a token, talks the
// signalling protocol of docs/signalling.md (WebSocket /signal), publishes
// camera and microphone, subscribes to every other stream, and encrypts /
// decrypts every frame with OTC-E2EE v1 in an encoded transform in a worker
// (e2ee-worker.js, otc-e2ee.js).
import { hasEndToEndEncryptionSupport, cipherSuite, validateSecret, FORMAT, FORMAT_VERSION } from './otc-e2ee.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search + '&' + location.hash.slice(1));

// Everything the page knows, also read by the tests (window.otc).
const otc = window.otc = {
  support: null,
  connection: null,     // the `connected` message
  e2ee: null,
  secretSet: false,
  published: [],        // { streamId, pc }
  subscriptions: {},    // streamId -> { subscriptionId, pc, media: {video, audio}, card }
  streamStates: {},     // streamId -> { video: state, audio: state }
  stats: {},            // worker counters per transform id
  events: [],
  errors: [],
};

let ws = null;
let worker = null;
let nextRequestId = 1;
const pending = new Map();    // requestId -> { resolve, reject }
let encryptorCount = 0;        // for key ids: keyIdBase + n
const transformIds = new Map(); // transform id -> { streamId, kind }

function log(...a) {
  const line = `${new Date().toISOString().slice(11, 23)} ${a.join(' ')}`;
  otc.events.push(line);
  const el = $('log');
  el.textContent += line + '\n';
  el.scrollTop = el.scrollHeight;
  console.log(line);
}

function setStatus(text, state = 'info') {
  $('status').textContent = text;
  $('status').dataset.state = state;
}

function fail(text) {
  otc.errors.push(text);
  log('error:', text);
  setStatus(text, 'error');
}

// ---------------------------------------------------------------- signalling

function send(msg) {
  ws.send(JSON.stringify(msg));
}

function request(msg) {
  const requestId = String(nextRequestId++);
  return new Promise((resolve, reject) => {
    pending.set(requestId, { resolve, reject });
    send({ ...msg, requestId });
  });
}

function signalUrl() {
  if (params.get('router')) return params.get('router').replace(/^http/, 'ws') + '/signal';
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/signal';
}

function onMessage(ev) {
  let m;
  try { m = JSON.parse(ev.data); } catch (e) { return; }
  if (m.requestId && pending.has(m.requestId) && m.type !== 'candidate') {
    const p = pending.get(m.requestId);
    pending.delete(m.requestId);
    if (m.type === 'error') p.reject(Object.assign(new Error(m.message), { code: m.code }));
    else p.resolve(m);
    return;
  }
  switch (m.type) {
    case 'streamCreated': onStream(m.stream); break;
    case 'streamDestroyed': dropStream(m.streamId, m.reason); break;
    case 'subscribeOffer': onSubscribeOffer(m); break;
    case 'unsubscribed': dropStream(m.streamId, m.reason); break;
    case 'candidate': onRemoteCandidate(m); break;
    case 'connectionCreated': log('connection created', m.connection.connectionId); break;
    case 'connectionDestroyed': log('connection destroyed', m.connectionId, m.reason); break;
    case 'error': fail(`router error ${m.code}: ${m.message}`); break;
    default: break;
  }
}

// ICE candidates: ours go out as `candidate` with the leg id; for a
// publisher leg the id (the stream id) is only known from publishAnswer, so
// they wait until then.
const legs = new Map(); // legId -> pc

function wireCandidates(pc, getLegId) {
  const queue = [];
  let legId = null;
  pc.onicecandidate = (e) => {
    const c = e.candidate
      ? { mline: e.candidate.sdpMLineIndex ?? 0, candidate: e.candidate.candidate }
      : { mline: 0, candidate: '' };
    if (legId) send({ type: 'candidate', legId, ...c });
    else queue.push(c);
  };
  return (id) => {
    legId = id;
    legs.set(id, pc);
    for (const c of queue.splice(0)) send({ type: 'candidate', legId, ...c });
  };
}

function onRemoteCandidate(m) {
  const pc = legs.get(m.legId);
  if (!pc || !m.candidate) return;
  pc.addIceCandidate({ candidate: m.candidate, sdpMLineIndex: m.mline }).catch((e) => log('candidate:', e.message));
}

// ---------------------------------------------------------------- E2EE worker

function attachTransform(senderOrReceiver, options) {
  if (!otc.e2ee) return;
  if (otc.support.transform === 'script') {
    senderOrReceiver.transform = new RTCRtpScriptTransform(worker, options);
  } else {
    const { readable, writable } = senderOrReceiver.createEncodedStreams();
    worker.postMessage({ type: 'streams', readable, writable, options }, [readable, writable]);
  }
}

function startWorker() {
  worker = new Worker('e2ee-worker.js', { type: 'module', name: 'otc-e2ee' });
  worker.onmessage = (ev) => {
    const m = ev.data;
    if (m.type === 'stats') {
      otc.stats = m.stats;
      renderCounters();
    } else if (m.type === 'state') {
      const t = transformIds.get(m.id);
      if (!t) return;
      log(`stream ${t.streamId} ${m.kind}: ${m.state}`);
      otc.streamStates[t.streamId] = { ...(otc.streamStates[t.streamId] || {}), [m.kind]: m.state };
      renderStream(t.streamId);
    } else if (m.type === 'secret') {
      otc.secretSet = m.ok && !m.cleared;
      const s = m.ok ? (m.cleared ? 'secret cleared' : `secret set (PBKDF2 ${m.pbkdf2Ms} ms)`) : m.error;
      $('secret-status').textContent = s;
      log(s);
      if (otc.secretWaiter) { otc.secretWaiter(m); otc.secretWaiter = null; }
    } else if (m.type === 'error') {
      fail(`E2EE ${m.code || ''}: ${m.error}`);
    }
  };
}

function setSecret(secret) {
  return new Promise((resolve) => {
    otc.secretWaiter = resolve;
    worker.postMessage({ type: 'secret', secret });
  });
}
otc.setSecret = setSecret;

// ---------------------------------------------------------------- publish

async function publish() {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
  $('local').hidden = false;
  $('local-video').srcObject = stream;
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle',
    ...(otc.support.transform === 'streams' ? { encodedInsertableStreams: true } : {}) });
  const setLeg = wireCandidates(pc);
  const kinds = [];
  for (const track of [...stream.getVideoTracks(), ...stream.getAudioTracks()]) {
    const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const want = track.kind === 'video' ? 'video/vp8' : 'audio/opus';
    const codecs = RTCRtpSender.getCapabilities(track.kind).codecs.filter((c) => c.mimeType.toLowerCase() === want);
    if (tr.setCodecPreferences && codecs.length) tr.setCodecPreferences(codecs);
    kinds.push(track.kind);
    const n = encryptorCount++;
    const base = otc.e2ee?.keyIdBase;
    // key ids: the session's block (keyIdBase + n, video before audio), or
    // a random 32-bit one beyond the block or without one
    const kid = base !== undefined && n < 256
      ? String(BigInt(base) + BigInt(n))
      : String((crypto.getRandomValues(new Uint32Array(1))[0] || 1) >>> 0);
    const id = `send-${track.kind}-${n}`;
    tr.otcTransformId = id;
    attachTransform(tr.sender, { role: 'send', kind: track.kind, id, kid,
      ...(params.get('record') === '1' ? { record: true } : {}) });
  }
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = await request({ type: 'publish', sdp: pc.localDescription.sdp, name: 'browser',
    hasVideo: kinds.includes('video'), hasAudio: kinds.includes('audio'), videoType: 'camera' });
  for (const tr of pc.getTransceivers()) transformIds.set(tr.otcTransformId, { streamId: answer.streamId, kind: tr.sender.track?.kind });
  setLeg(answer.streamId);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  otc.published.push({ streamId: answer.streamId, pc });
  $('local-state').textContent = `publishing ${answer.streamId}` + (otc.e2ee ? ' (encrypted)' : '');
  pc.onconnectionstatechange = () => log('publisher', answer.streamId, pc.connectionState);
  log('published', answer.streamId);
}

// ---------------------------------------------------------------- subscribe

function onStream(stream) {
  if (stream.connectionId === otc.connection.connectionId) return;
  if (otc.subscriptions[stream.streamId]) return;
  otc.subscriptions[stream.streamId] = { stream, media: {} };
  otc.streamStates[stream.streamId] = {};
  makeCard(stream);
  // the answer is a subscribeOffer carrying the requestId
  request({ type: 'subscribe', streamId: stream.streamId }).then(onSubscribeOffer)
    .catch((e) => fail(`subscribe ${stream.streamId}: ${e.code || ''} ${e.message}`));
}

async function onSubscribeOffer(m) {
  const sub = otc.subscriptions[m.streamId];
  if (!sub) return;
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle',
    ...(otc.support.transform === 'streams' ? { encodedInsertableStreams: true } : {}) });
  sub.pc = pc;
  sub.subscriptionId = m.subscriptionId;
  const setLeg = wireCandidates(pc);
  setLeg(m.subscriptionId);
  const ms = new MediaStream();
  pc.ontrack = (e) => {
    const kind = e.track.kind;
    const id = `recv-${m.streamId}-${kind}`;
    transformIds.set(id, { streamId: m.streamId, kind });
    attachTransform(e.receiver, { role: 'recv', kind, id });
    ms.addTrack(e.track);
    sub.card.querySelector('video').srcObject = ms;
    if (!otc.e2ee) setMediaState(m.streamId, kind, 'clear');
    else setMediaState(m.streamId, kind, 'waiting');
  };
  pc.onconnectionstatechange = () => log('subscriber', m.streamId, pc.connectionState);
  await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  send({ type: 'subscribeAnswer', subscriptionId: m.subscriptionId, sdp: pc.localDescription.sdp });
  log('subscribed', m.streamId, m.subscriptionId);
}

function dropStream(streamId, reason) {
  const sub = otc.subscriptions[streamId];
  if (!sub) return;
  log('stream gone', streamId, reason || '');
  sub.pc?.close();
  sub.card?.remove();
  delete otc.subscriptions[streamId];
  delete otc.streamStates[streamId];
}

// ---------------------------------------------------------------- UI

const STATE_TEXT = {
  decrypting: 'decrypting', mismatch: 'secret mismatch', missing: 'secret missing',
  waiting: 'waiting for media', clear: 'not encrypted',
};

function makeCard(stream) {
  const card = document.createElement('section');
  card.className = 'stream';
  card.dataset.streamId = stream.streamId;
  card.innerHTML = `<h2><span class="name"></span> <span class="badge" data-state="waiting">waiting for media</span></h2>
    <video autoplay playsinline muted></video>
    <div class="media"></div><div class="counters"></div>`;
  card.querySelector('.name').textContent = `${stream.name || 'stream'} (${stream.streamId})`;
  $('remotes').append(card);
  otc.subscriptions[stream.streamId].card = card;
}

function setMediaState(streamId, kind, state) {
  otc.streamStates[streamId] = { ...(otc.streamStates[streamId] || {}), [kind]: state };
  renderStream(streamId);
}

// One state per stream for the badge: mismatch and missing win.
function streamState(states) {
  const v = Object.values(states);
  for (const s of ['mismatch', 'missing', 'decrypting', 'clear']) if (v.includes(s)) return s;
  return 'waiting';
}

function renderStream(streamId) {
  const sub = otc.subscriptions[streamId];
  if (!sub?.card) return;
  const states = otc.streamStates[streamId] || {};
  const s = streamState(states);
  const badge = sub.card.querySelector('.badge');
  badge.dataset.state = s;
  badge.textContent = STATE_TEXT[s];
  sub.card.dataset.state = s;
  sub.card.querySelector('.media').textContent = Object.entries(states)
    .map(([k, v]) => `${k}: ${STATE_TEXT[v] || v}`).join(', ');
}

function renderCounters() {
  const sendLines = Object.values(otc.stats).filter((st) => st.role === 'send')
    .map((st) => `${st.kind}: ${st.ok} frames encrypted (kid ${st.lastKid}, ${st.lastClearLen} bytes clear in the last), ${st.noSecret} dropped without secret`);
  $('local-counters').textContent = sendLines.join('\n');
  for (const [id, st] of Object.entries(otc.stats)) {
    const t = transformIds.get(id);
    if (!t || st.role !== 'recv') continue;
    const card = otc.subscriptions[t.streamId]?.card;
    if (!card) continue;
    let el = card.querySelector(`.counters [data-kind="${st.kind}"]`);
    if (!el) {
      el = document.createElement('div');
      el.dataset.kind = st.kind;
      card.querySelector('.counters').append(el);
    }
    el.textContent = `${st.kind}: ${st.ok} decrypted, ${st.auth} failed, ${st.noSecret} without secret, kid ${st.lastKid}`;
  }
}

// ---------------------------------------------------------------- join / leave

async function join(token, secret, doPublish) {
  setStatus('Connecting…');
  if (secret && !validateSecret(secret)) {
    fail('InvalidEncryptionSecret (6004): a secret is 8 to 256 characters without NUL');
    return;
  }
  ws = new WebSocket(signalUrl());
  ws.onmessage = onMessage;
  ws.onclose = (e) => {
    log('socket closed', e.code, e.reason);
    setStatus(`Disconnected (${e.code}${e.reason ? ' ' + e.reason : ''}).`, otc.errors.length ? 'error' : 'idle');
    $('join-button').disabled = false;
    $('leave-button').disabled = true;
  };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('WebSocket failed')); });
  const sessionId = params.get('sessionId') || undefined;
  let c;
  try {
    c = await request({ type: 'connect', v: 1, token, ...(sessionId ? { sessionId } : {}) });
  } catch (e) {
    fail(`connect failed: ${e.code} ${e.message}`);
    ws.close();
    return;
  }
  otc.connection = c;
  const e = c.e2ee || { enabled: false };
  if (e.enabled) {
    const suite = cipherSuite(e.cipherSuite);
    if (e.format !== FORMAT || e.formatVersion !== FORMAT_VERSION || !suite) {
      fail(`this page does not support the session's E2EE (${e.format} v${e.formatVersion}, ${e.cipherSuite}): not joining`);
      send({ type: 'disconnect' });
      return;
    }
    if (!otc.support.supported) {
      fail(`this session is end-to-end encrypted and this browser cannot take part: ${otc.support.reason}`);
      send({ type: 'disconnect' });
      return;
    }
    otc.e2ee = { ...e, suite: suite.id };
    encryptorCount = 0; // key ids: keyIdBase + n within this connection's block
    worker.postMessage({ type: 'config', suite: suite.id, sessionId: c.sessionId });
    if (secret) {
      const r = await setSecret(secret);
      if (!r.ok) { fail(r.error); send({ type: 'disconnect' }); return; }
    }
  }
  $('session-info').textContent = `session ${c.sessionId}, connection ${c.connectionId}, role ${c.role}, ` +
    (e.enabled ? `end-to-end encrypted (${e.format} v${e.formatVersion}, ${e.cipherSuite}, key ids from ${e.keyIdBase ?? 'random'})` : 'not end-to-end encrypted');
  setStatus('Connected.', 'connected');
  $('change-secret').hidden = !e.enabled;
  $('join-button').disabled = true;
  $('leave-button').disabled = false;
  log('connected', c.connectionId, 'to', c.sessionId);
  for (const s of c.streams || []) onStream(s);
  if (doPublish) {
    if (e.enabled && !otc.secretSet) {
      fail('EncryptionSecretMissing (6000): set a secret to publish in an end-to-end encrypted session');
    } else if (c.role === 'subscriber') {
      log('role subscriber: not publishing');
    } else {
      try { await publish(); } catch (err) { fail(`publish failed: ${err.code || ''} ${err.message}`); }
    }
  }
}

function leave() {
  if (ws && ws.readyState === WebSocket.OPEN) send({ type: 'disconnect' });
  for (const p of otc.published) p.pc.close();
  for (const id of Object.keys(otc.subscriptions)) dropStream(id, 'left');
  otc.published = [];
}

async function main() {
  const support = otc.support = await hasEndToEndEncryptionSupport();
  // ?transform=streams: use createEncodedStreams even where
  // RTCRtpScriptTransform exists (to exercise the fallback)
  if (support.supported && params.get('transform') === 'streams' &&
      'createEncodedStreams' in RTCRtpSender.prototype) support.transform = 'streams';
  if (support.supported) {
    $('support').textContent = `This browser supports end-to-end encryption (WebCrypto, ${support.transform === 'script' ? 'RTCRtpScriptTransform' : 'createEncodedStreams'}).`;
    $('support').dataset.state = 'supported';
  } else {
    $('support').textContent = `This browser cannot join end-to-end encrypted sessions: ${support.reason}.`;
    $('support').dataset.state = 'unsupported';
  }
  startWorker();
  $('token').value = params.get('token') || '';
  $('secret').value = params.get('secret') || '';
  if (params.get('publish') === '0') $('publish').checked = false;
  // the secret and the token are credentials: out of the address bar and
  // the history once read
  if (params.has('secret') || params.has('token')) history.replaceState(null, '', location.pathname);
  $('join-button').disabled = false;
  $('join').onsubmit = (ev) => {
    ev.preventDefault();
    join($('token').value.trim(), $('secret').value, $('publish').checked)
      .catch((e) => fail(`join failed: ${e.message}`));
  };
  $('leave-button').onclick = leave;
  $('change-secret').onsubmit = async (ev) => {
    ev.preventDefault();
    const s = $('new-secret').value;
    if (!validateSecret(s)) {
      $('secret-status').textContent = 'InvalidEncryptionSecret (6004): 8 to 256 characters, no NUL; the old secret stays';
      return;
    }
    $('secret-status').textContent = 'deriving…';
    const r = await setSecret(s);
    if (r.ok) $('secret-status').textContent += '; frames under the previous secret are still accepted for 10 s';
  };
  if (params.get('autojoin') === '1' && $('token').value) $('join').requestSubmit();
}

main();
