// The JS VP8 clear-length policy (web/otc-e2ee.js vp8ClearLength) against
// the C library's (ext/e2ee-format/codec-policy.c) on real vp8enc frames of
// several encoder settings, through python3 + ctypes on the built
// libotc-e2ee-1.0. Exits non-zero on any difference; 77 when the build or
// GStreamer is missing.
//   node tests/browser/vp8-policy.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// Node 18 has WebCrypto only as node:crypto's webcrypto
if (!globalThis.crypto?.subtle) globalThis.crypto = (await import('node:crypto')).webcrypto;
const { vp8ClearLength } = await import('../../web/otc-e2ee.js');

const here = dirname(fileURLToPath(import.meta.url));
const build = resolve(here, '..', '..', process.env.OTC_BUILD_DIR || 'build');
const lib = join(build, 'ext', 'e2ee-format', 'libotc-e2ee-1.0.so');
if (!existsSync(lib)) { console.log('vp8-policy: skipped (no', lib + ')'); process.exit(77); }

const settings = [
  ['160x120', ''],
  ['320x240', 'deadline=1 cpu-used=4 end-usage=cbr target-bitrate=300000'],
  ['640x480', 'keyframe-max-dist=10'],
  ['1280x720', 'deadline=1 cpu-used=16 target-bitrate=2000000'],
  ['320x240', 'error-resilient=partitions'],
  ['640x360', 'error-resilient=default min-quantizer=4 max-quantizer=40 noise-sensitivity=1 sharpness=3'],
  ['320x240', 'static-threshold=100 keyframe-max-dist=5'],
  ['320x240', 'token-partitions=2'],
];
const work = mkdtempSync(join(tmpdir(), 'otc-vp8-'));
let total = 0, diff = 0, refused = 0;
const hist = {};
try {
  for (const [i, [size, opts]] of settings.entries()) {
    const [w, h] = size.split('x');
    const dir = join(work, String(i));
    mkdirSync(dir);
    execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=150', 'pattern=smpte', 'horizontal-speed=5', '!',
      `video/x-raw,width=${w},height=${h},framerate=30/1`, '!', 'vp8enc', ...opts.split(' ').filter(Boolean), '!',
      'multifilesink', `location=${dir}/%05d.vp8`]);
    const files = readdirSync(dir).sort().map((f) => join(dir, f));
    const c = JSON.parse(execFileSync('python3', [join(here, 'vp8-clear-length-c.py'), lib, ...files]).toString());
    let d = 0;
    for (const f of files) {
      let js;
      try { js = vp8ClearLength(new Uint8Array(readFileSync(f))); } catch (e) { js = -e.code; }
      total++;
      if (js !== c[f]) { d++; diff++; console.log(`DIFF ${size} ${opts} ${f}: js ${js} c ${c[f]}`); }
      if (js < 0) refused++;
      hist[js] = (hist[js] || 0) + 1;
    }
    console.log(`${size} ${opts || '(defaults)'}: ${files.length} frames, ${d} differences`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log('clear lengths seen (L: frames):', JSON.stringify(hist));
console.log(`vp8-policy: ${total} frames, ${diff} differences, ${refused} refused (token partitions) by both`);
process.exit(diff || !total ? 1 : 0);
