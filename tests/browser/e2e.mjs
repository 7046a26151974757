// End-to-end tests of the web client (web/) in headless Chromium against a
// real otc-router on loopback, with GStreamer participants (otcsink,
// otcsrc). Run inside a loopback-only network namespace:
//   tests/netns-run.sh node tests/browser/e2e.mjs
// Environment: OTC_BUILD_DIR (default build), CHROMIUM (default
// /usr/bin/chromium), OTC_SCREENSHOT_DIR (default docs/screenshots; empty:
// no screenshots). Exits 0 when every check passed, 1 otherwise, 77 when
// Chromium or the build is missing (skipped).
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const build = resolve(root, process.env.OTC_BUILD_DIR || 'build');
const routerBin = join(build, 'ext', 'router', 'otc-router');
const chromiumBin = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.OTC_SCREENSHOT_DIR ?? join(root, 'docs', 'screenshots');

if (!existsSync(routerBin) || !existsSync(chromiumBin)) {
  console.log(`e2e: skipped (${existsSync(routerBin) ? chromiumBin : routerBin} missing)`);
  process.exit(77);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.log('e2e: skipped (playwright-core not installed: cd tests/browser && npm ci)');
  process.exit(77);
}

const t0 = Date.now();
const ts = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(5) + 's';
const say = (...a) => console.log(ts(), ...a);
let passed = 0, failed = 0;
function check(what, ok, detail = '') {
  if (ok) passed++; else failed++;
  say(`${ok ? 'PASS' : 'FAIL'} ${what}${detail ? ': ' + detail : ''}`);
  return ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'otc-browser-'));
const children = [];
function start(cmd, args, name, env = {}) {
  const out = [];
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.on('data', (d) => out.push(d));
  p.stderr.on('data', (d) => out.push(d));
  p.log = () => Buffer.concat(out).toString();
  p.exited = new Promise((r) => p.on('exit', (code, sig) => r({ code, sig })));
  p.name = name;
  children.push(p);
  return p;
}
async function stop(p, sig = 'SIGINT', ms = 5000) {
  if (p.exitCode !== null || p.signalCode !== null) return p.exited;
  p.kill(sig);
  const r = await Promise.race([p.exited, sleep(ms).then(() => null)]);
  if (r) return r;
  p.kill('SIGKILL');
  return p.exited;
}
async function waitFor(what, fn, ms = 20000, every = 200) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what} (${last})`);
}

// ---------------------------------------------------------------- router, session, tokens
writeFileSync(join(work, 'api-secret.txt'), createHash('sha256').update(String(Math.random())).digest('hex'), { mode: 0o600 });
const cred = ['--api-key', 'browsertest', '--api-secret-file', join(work, 'api-secret.txt')];
const router = start(routerBin, ['--port', '0', ...cred, '--archive-dir', join(work, 'archives')], 'router');
const url = await waitFor('router URL', async () => router.log().match(/^(http:\/\/\S+)/m)?.[1], 10000, 100);
say('router at', url);

const jwt = execFileSync(routerBin, ['project-token', ...cred]).toString().trim();
const created = await (await fetch(`${url}/session/create`, {
  method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'e2ee=true',
})).json();
const sessionId = created[0].session_id;
const token = (role = 'publisher') => execFileSync(routerBin, ['token', ...cred, '--session-id', sessionId, '--role', role]).toString().trim();
say('session', sessionId);

const SECRET = 'browser and pipeline share this secret';
const WRONG = 'not the secret at all';
writeFileSync(join(work, 'secret.txt'), SECRET, { mode: 0o600 });

// static files
{
  const r = await fetch(`${url}/`);
  const body = await r.text();
  check('GET / serves the web client', r.status === 200 && body.includes('otc session') &&
    r.headers.get('content-type').startsWith('text/html'), `${r.status} ${r.headers.get('content-type')}`);
  const js = await fetch(`${url}/web/otc-e2ee.js`);
  check('GET /web/otc-e2ee.js is JavaScript', js.status === 200 && js.headers.get('content-type').startsWith('text/javascript'));
  const bad = await fetch(`${url}/..%2f..%2fetc/passwd`);
  check('no path outside web/', bad.status === 404 || bad.status === 400, String(bad.status));
}

const gstEnv = { GST_PLUGIN_PATH: join(build, 'ext'), GST_DEBUG: process.env.GST_DEBUG || '1' };
// sanitizer builds (scripts/sanitize.sh): gst-launch-1.0 is not instrumented,
// the otc plugins it loads are, so it runs with the sanitizer runtimes
if (process.env.OTC_CHILD_LD_PRELOAD) gstEnv.LD_PRELOAD = process.env.OTC_CHILD_LD_PRELOAD;

// ---------------------------------------------------------------- browser
const profile = join(work, 'chromium-profile');
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumBin,
  headless: true,
  viewport: { width: 1100, height: 760 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
});
ctx.on('weberror', (e) => say('page error:', e.error().message));

async function openPage(q, name, init) {
  const page = await ctx.newPage();
  if (init) await page.addInitScript(init);
  page.on('console', (m) => { if (process.env.OTC_E2E_VERBOSE) say(`[${name}]`, m.text()); });
  page.on('pageerror', (e) => say(`[${name}] page error:`, e.message));
  await page.goto(`${url}/?${new URLSearchParams(q)}`);
  return page;
}

async function shot(page, file) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, file) });
  say('screenshot', join(shots, file));
}

// A digest of the first remote video's pixels, and whether it is not flat.
async function pixels(page) {
  return page.evaluate(() => {
    const v = document.querySelector('#remotes video');
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = 160; c.height = 120;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let h = 0, min = 255, max = 0;
    for (let i = 0; i < d.length; i += 4) {
      h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
      min = Math.min(min, d[i + 1]); max = Math.max(max, d[i + 1]);
    }
    return { h, flat: max - min < 8, frames: v.getVideoPlaybackQuality?.().totalVideoFrames ?? null };
  });
}

async function moving(page, ms = 1500) {
  const a = await pixels(page);
  await sleep(ms);
  const b = await pixels(page);
  return { ok: !!(a && b && a.h !== b.h && !b.flat && b.frames > a.frames), a, b };
}

const streamState = (page) => page.evaluate(() => {
  const s = Object.entries(window.otc.streamStates)[0];
  return s ? { streamId: s[0], ...s[1] } : null;
});
const recvStats = (page, kind) => page.evaluate((k) =>
  Object.values(window.otc.stats).find((s) => s.role === 'recv' && s.kind === k) || null, kind);

let exitCode = 0;
let m;
try {
  // ================================================================ the vectors in Chromium's WebCrypto
  {
    const shared = process.env.OTC_SHARED_DIR || resolve(root, '..', 'shared');
    const text = readFileSync(join(shared, 'testvectors', 'otc-e2ee-v1.json'), 'utf8')
      .replace(/("(?:kid|ctr)"\s*:\s*)(\d+)/g, '$1"$2"');
    const page = await ctx.newPage();
    await page.goto(`${url}/`);
    const res = await page.evaluate(async (vectors) => {
      const e = await import('/otc-e2ee.js');
      const out = { ok: 0, bad: [], suites: {} };
      for (const v of vectors) {
        const sk = await e.deriveSecretKey(v.secret, v.session_id);
        const fk = await e.deriveFrameKey(sk, BigInt(v.kid), v.cipher_suite);
        const p = await e.protectFrame(fk, BigInt(v.ctr), e.unhex(v.frame), v.clear_len);
        const back = await e.unprotectFrame(fk, e.unhex(v.protected), e.parseFrame(e.unhex(v.protected), v.cipher_suite));
        const good = e.hex(sk) === v.secret_key && e.hex(p) === v.protected && back && e.hex(back) === v.frame;
        if (good) { out.ok++; out.suites[v.cipher_suite] = (out.suites[v.cipher_suite] || 0) + 1; } else out.bad.push(`suite ${v.cipher_suite} kid ${v.kid}`);
      }
      return out;
    }, JSON.parse(text).vectors);
    check('OTC-E2EE v1 vectors in Chromium\'s WebCrypto (all eight suites)', res.bad.length === 0 && Object.keys(res.suites).length === 8,
      `${res.ok} ok, suites ${JSON.stringify(res.suites)}, bad ${res.bad.join(', ')}`);
    await page.close();
  }

  // ================================================================ (a) GStreamer publishes, browser subscribes
  say('--- (a) otcsink publishes, the browser subscribes');
  const pub = start('gst-launch-1.0', ['-m', 'otcsink', 'name=pub', `url=${url}`, `token=${token()}`,
    `encryption-secret-file=${join(work, 'secret.txt')}`, 'stream-name=gstreamer',
    'videotestsrc', 'is-live=true', 'pattern=ball', '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!', 'pub.video_0',
    'audiotestsrc', 'is-live=true', 'wave=ticks', '!', 'pub.audio_0'], 'otcsink', gstEnv);
  await waitFor('otcsink publishing', async () => pub.log().includes('otc-stream-published') || (pub.exitCode !== null && Promise.reject(new Error(pub.log()))), 15000);
  say('otcsink published');

  const sub = await openPage({ token: token(), secret: SECRET, publish: '0', autojoin: '1' }, 'subscriber');
  const support = await sub.evaluate(() => window.otc.support);
  check('E2EE support detected in Chromium', support?.supported && support.transform === 'script', JSON.stringify(support));
  await waitFor('video decrypting', async () => (await streamState(sub))?.video === 'decrypting', 20000);
  check('right secret: video decrypting', true);
  await waitFor('audio decrypting', async () => (await streamState(sub))?.audio === 'decrypting', 10000).then(
    () => check('right secret: audio decrypting', true), (e) => check('right secret: audio decrypting', false, e.message));
  await sleep(1500);
  m = await moving(sub);
  check('right secret: moving video (pixels change, frames decoded)', m.ok, JSON.stringify(m));
  const vs1 = await recvStats(sub, 'video');
  check('frames decrypted in the receive transform', vs1?.ok > 30 && vs1.auth === 0, JSON.stringify({ ok: vs1?.ok, auth: vs1?.auth, kid: vs1?.lastKid }));
  await shot(sub, 'subscriber-decrypting.png');

  say('wrong secret');
  const tWrong = Date.now();
  const r1 = await sub.evaluate((s) => window.otc.setSecret(s), WRONG);
  check('secret changed while connected', r1.ok, JSON.stringify(r1));
  // the previous secret still decrypts for the grace period (10 s, like
  // otcdecrypt): the mismatch comes after it
  await waitFor('mismatch', async () => (await streamState(sub))?.video === 'mismatch', 20000).then(
    () => check('wrong secret: video mismatch', true, `${Date.now() - tWrong} ms after the change`), (e) => check('wrong secret: video mismatch', false, e.message));
  await waitFor('audio mismatch', async () => (await streamState(sub))?.audio === 'mismatch', 20000).then(
    () => check('wrong secret: audio mismatch', true), (e) => check('wrong secret: audio mismatch', false, e.message));
  const badge = await sub.textContent('#remotes .badge');
  check('the page says so', badge === 'secret mismatch', badge);
  await sleep(1000);
  m = await moving(sub, 1000);
  check('wrong secret: no new pictures', !m.ok || m.a.frames === m.b.frames, JSON.stringify(m));
  await shot(sub, 'subscriber-mismatch.png');

  say('right secret again');
  const tRight = Date.now();
  await sub.evaluate((s) => window.otc.setSecret(s), SECRET);
  await waitFor('decrypting again', async () => (await streamState(sub))?.video === 'decrypting', 10000).then(
    () => check('right secret again: decrypting', true), (e) => check('right secret again: decrypting', false, e.message));
  const a0 = await pixels(sub);
  await waitFor('pictures again', async () => {
    const p = await pixels(sub);
    return p && a0 && p.frames > a0.frames + 5 && p.h !== a0.h;
  }, 10000, 100).then(() => check('right secret again: moving video', true, `${Date.now() - tRight} ms after the secret was set`),
    (e) => check('right secret again: moving video', false, e.message));
  // (the worker's counters come every 500 ms)
  const vs2 = await waitFor('key frame requests', async () => {
    const v = await recvStats(sub, 'video');
    return v?.keyFrameRequests >= 1 && v;
  }, 3000).catch(() => null);
  check('key frames re-requested after the match', !!vs2, `requests ${vs2?.keyFrameRequests}`);
  await shot(sub, 'subscriber-recovered.png');

  // a participant without a secret: "secret missing"
  const nos = await openPage({ token: token(), publish: '0', autojoin: '1' }, 'nosecret');
  await waitFor('missing', async () => (await streamState(nos))?.video === 'missing', 15000).then(
    () => check('no secret: secret missing state', true), (e) => check('no secret: secret missing state', false, e.message));
  await shot(nos, 'subscriber-missing-secret.png');
  await nos.close();

  // a browser without an encoded transform API: says so, does not join
  const old = await openPage({ token: token(), secret: SECRET, publish: '0', autojoin: '1' }, 'unsupported', () => {
    delete window.RTCRtpScriptTransform;
    delete RTCRtpSender.prototype.createEncodedStreams;
    delete RTCRtpReceiver.prototype.createEncodedStreams;
  });
  await waitFor('refusal', async () => (await old.evaluate(() => window.otc.errors.length)) > 0, 10000).catch(() => {});
  const said = await old.evaluate(() => ({ support: document.getElementById('support').textContent,
    state: document.getElementById('support').dataset.state, errors: window.otc.errors, subs: Object.keys(window.otc.subscriptions).length }));
  check('no E2EE support: said plainly, not joined', said.state === 'unsupported' && said.subs === 0 &&
    said.errors.some((e) => /cannot take part/.test(e)), JSON.stringify(said));
  await shot(old, 'unsupported-browser.png');
  await old.close();

  // the createEncodedStreams fallback
  const fb = await openPage({ token: token(), secret: SECRET, publish: '0', autojoin: '1', transform: 'streams' }, 'fallback');
  const fbt = await fb.evaluate(() => window.otc.support.transform);
  await waitFor('fallback decrypting', async () => (await streamState(fb))?.video === 'decrypting', 15000).then(
    () => check(`createEncodedStreams fallback (${fbt}): decrypting`, fbt === 'streams'),
    (e) => check('createEncodedStreams fallback: decrypting', false, e.message));
  await sleep(1500);
  m = await moving(fb);
  check('createEncodedStreams fallback: moving video', m.ok, JSON.stringify(m));
  await fb.close();
  await sub.close();
  const pr = await stop(pub);
  say('otcsink stopped', JSON.stringify(pr));

  // ================================================================ (b) browser publishes, otcsrc subscribes
  say('--- (b) the browser publishes, otcsrc subscribes');
  const bpub = await openPage({ token: token(), secret: SECRET, autojoin: '1', record: '1' }, 'publisher');
  const streamId = await waitFor('published', async () => bpub.evaluate(() => window.otc.published[0]?.streamId), 20000);
  check('browser published', !!streamId, streamId);
  const kidBase = await bpub.evaluate(() => window.otc.e2ee.keyIdBase);
  const frames = join(work, 'frames');
  mkdirSync(frames);
  const gsub = start('gst-launch-1.0', ['-m', '-v', 'otcsrc', 'name=sub', `url=${url}`, `token=${token('subscriber')}`,
    `encryption-secret-file=${join(work, 'secret.txt')}`,
    'sub.', '!', 'video/x-vp8', '!', 'tee', 'name=t',
    't.', '!', 'queue', '!', 'multifilesink', `location=${frames}/%05d.vp8`,
    't.', '!', 'queue', '!', 'vp8dec', '!', 'fakesink', 'name=decoded', 'silent=false',
    'sub.', '!', 'audio/x-opus', '!', 'queue', '!', 'fakesink'], 'otcsrc', gstEnv);
  // and a second browser subscribes to the first
  const bsub = await openPage({ token: token(), secret: SECRET, publish: '0', autojoin: '1' }, 'browser-subscriber');
  await waitFor('browser to browser decrypting', async () => (await streamState(bsub))?.video === 'decrypting', 15000).then(
    () => check('browser to browser: decrypting', true), (e) => check('browser to browser: decrypting', false, e.message));
  await sleep(6000);
  m = await moving(bsub);
  check('browser to browser: moving video', m.ok, JSON.stringify(m));
  await bsub.close();
  await shot(bpub, 'publisher.png');
  await stop(gsub);
  const glog = gsub.log();
  const files = readdirSync(frames).sort();
  await sleep(1200); // the worker's counters (and hashes) come every 500 ms
  const sendStats = await bpub.evaluate(() => Object.values(window.otc.stats).find((s) => s.role === 'send' && s.kind === 'video'));
  const sent = new Set(sendStats?.hashes || []);
  let same = 0;
  const differ = [];
  for (const f of files) {
    if (sent.has(createHash('sha256').update(readFileSync(join(frames, f))).digest('hex'))) same++;
    else differ.push(f);
  }
  if (differ.length) say('not among the browser\'s frames:', differ.join(' '));
  check('otcsrc got decrypted VP8 frames', files.length > 60, `${files.length} frames`);
  check('every decrypted frame is byte-identical to one the browser encoded', files.length > 0 && same === files.length,
    `${same}/${files.length} identical (browser sent ${sendStats?.ok}, kid ${sendStats?.lastKid}, keyIdBase ${kidBase})`);
  say(`browser's VP8 clear lengths: mean ${(sendStats.clearBytes / sendStats.ok).toFixed(1)} bytes over ${sendStats.ok} frames, ` +
    `${sendStats.minimumClearLen} frames with more than one token partition (minimum clear length)`);
  check('browser used keyIdBase for its key id', sendStats && BigInt(sendStats.lastKid) === BigInt(kidBase), `${sendStats?.lastKid} vs ${kidBase}`);
  check('otcsrc reported no mismatch', !/otc-encryption-secret-mismatch/.test(glog));
  // decoded frames: fakesink "decoded" after vp8dec, one last-message per buffer (-v)
  const decoded = (glog.match(/\(decoded:sink\)/g) || []).length;
  check('vp8dec decoded the frames in the otcsrc pipeline', decoded > 60, `${decoded} decoded frames`);
  if (process.env.OTC_E2E_VERBOSE) say(glog.split('\n').filter((l) => /otc-/.test(l)).join('\n'));
  await bpub.close();

  // ================================================================ (c) a session without E2EE
  say('--- (c) a session without end-to-end encryption');
  const plain = (await (await fetch(`${url}/session/create`, {
    method: 'POST', headers: { 'X-OPENTOK-AUTH': jwt, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'e2ee=false',
  })).json())[0].session_id;
  const ptoken = () => execFileSync(routerBin, ['token', ...cred, '--session-id', plain]).toString().trim();
  const ppub = start('gst-launch-1.0', ['-m', 'otcsink', 'name=pub', `url=${url}`, `token=${ptoken()}`,
    'videotestsrc', 'is-live=true', 'pattern=ball', '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!', 'pub.video_0'], 'otcsink-plain', gstEnv);
  await waitFor('plain otcsink publishing', async () => ppub.log().includes('otc-stream-published'), 15000);
  const pp = await openPage({ token: ptoken(), publish: '0', autojoin: '1' }, 'plain');
  await waitFor('not encrypted', async () => (await streamState(pp))?.video === 'clear', 15000).then(
    () => check('no E2EE: "not encrypted", no transform', true), (e) => check('no E2EE: "not encrypted"', false, e.message));
  await sleep(1500);
  m = await moving(pp);
  check('no E2EE: moving video', m.ok, JSON.stringify(m));
  await pp.close();
  await stop(ppub);
} catch (e) {
  check('no exception', false, e.stack);
} finally {
  await ctx.close().catch(() => {});
  for (const p of children) await stop(p, 'SIGINT', 3000);
  if (!process.env.OTC_E2E_KEEP) rmSync(work, { recursive: true, force: true });
  else say('kept', work);
}
say(`browser e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : exitCode);
