#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

Seeds are real data laid out as each target reads its input (see the
comment at the top of each fuzz-*.c):
  frame          frames of the OTC-E2EE v1 test vectors (../shared/testvectors),
                 protected ones and their plain frames, the negative vectors,
                 VP8 and Opus frames from GStreamer's encoders (when
                 gst-launch-1.0 is there), decryptor sessions built from them
  sframe-header  the RFC 9605 header vectors
  signalling     the messages of docs/signalling.md
  ws-frames      WebSocket client frames around the target's message limit
  token          client tokens and project JWTs shaped as otc-router makes
                 them, signed with the targets' API secret and clock
  rest           the requests of docs/rest-api.md

Run it again after the vectors or the documents change:
  tests/fuzz/make-corpus.py [--shared-dir ../shared]
It replaces the seeds it writes (named seed-*), and leaves other files.
"""
import argparse
import base64
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# What the targets hold (fuzz-frame.c, fuzz-token.c, fuzz-rest.c, fuzz-common.h).
SECRETS = [("12345678", ""), ("correct horse battery staple", "sess-42"),
           ("x" * 256, ""), ("correct horse battery staple", "")]
API_KEY = "fuzzkey"
API_SECRET = "fuzz-api-secret-0123456789abcdef"
NOW = 1750000000
MAX_FRAME_SEED = 1500


class Corpus:
    def __init__(self, name):
        self.dir = os.path.join(HERE, "corpus", name)
        os.makedirs(self.dir, exist_ok=True)
        for f in glob.glob(os.path.join(self.dir, "seed-*")):
            os.unlink(f)
        self.n = 0

    def add(self, label, data):
        if isinstance(data, str):
            data = data.encode()
        # named by what they are, not by rank, so that a new seed does not
        # rename the others
        label = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")[:60]
        name, k = "seed-" + label, 2
        while os.path.exists(os.path.join(self.dir, name)):
            name, k = "seed-%s-%d" % (label, k), k + 1
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        self.n += 1


def frame_selector(suite, secret, mode):
    return bytes([(suite - 1) | (secret << 3) | (mode << 5)])


def secret_index(secret, session):
    try:
        return SECRETS.index((secret, session))
    except ValueError:
        return None


def gst_frames(pipeline, pattern):
    """Encoded frames, one file per buffer, from a gst-launch-1.0 pipeline."""
    if shutil.which("gst-launch-1.0") is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        loc = os.path.join(tmp, pattern)
        try:
            subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split() +
                           ["!", "multifilesink", "location=" + loc],
                           check=True, timeout=60, capture_output=True)
        except (subprocess.SubprocessError, OSError):
            return []
        files = sorted(glob.glob(os.path.join(tmp, "*")),
                       key=lambda p: int(re.findall(r"\d+", p)[-1]))
        return [open(p, "rb").read() for p in files]


def frame_corpus(shared):
    c = Corpus("frame")
    vectors = json.load(open(os.path.join(shared, "testvectors",
                                          "otc-e2ee-v1.json")))
    # per suite, the smallest vector that the target's secrets authenticate
    best = {}
    for i, v in enumerate(vectors["vectors"]):
        suite, size = int(v["cipher_suite"]), len(v["frame"])
        if secret_index(v["secret"], v["session_id"]) is not None and (
                suite not in best or size < best[suite][1]):
            best[suite] = (i, size)
    for i, v in enumerate(vectors["vectors"]):
        suite = int(v["cipher_suite"])
        idx = secret_index(v["secret"], v["session_id"])
        protected = bytes.fromhex(v["protected"])
        frame = bytes.fromhex(v["frame"])
        kid, ctr, clear = int(v["kid"]), int(v["ctr"]), int(v["clear_len"])
        auth = "auth" if idx is not None else "foreign"
        # large frames only where one is all a suite has that authenticates
        if len(frame) > MAX_FRAME_SEED and best.get(suite, (None,))[0] != i:
            continue
        # as received: authenticates when the target holds its secret
        c.add("v%d-suite%d-%s" % (i, suite, auth),
              frame_selector(suite, idx or 0, 0) + protected)
        # round trip of the plain frame with the vector's KID, CTR and L
        c.add("v%d-suite%d-roundtrip" % (i, suite),
              frame_selector(suite, idx or 0, 2) +
              struct.pack(">QQBHB", kid, ctr, clear, len(protected) // 2,
                          0x40) + frame)
    for v in vectors["negative"]:
        suite = int(v["cipher_suite"])
        idx = secret_index(v["secret"], v["session_id"])
        c.add("neg-%s" % v["name"],
              frame_selector(suite, idx or 0, 0) +
              bytes.fromhex(v["protected"]))

    # codec policy: real encoder output (VP8 key and delta frames, Opus)
    vp8 = gst_frames("videotestsrc num-buffers=3 pattern=ball ! "
                     "video/x-raw,width=64,height=48 ! vp8enc", "vp8-%02d")
    opus = gst_frames("audiotestsrc num-buffers=3 ! opusenc", "opus-%02d")
    for n, f in enumerate(vp8[:3]):
        c.add("vp8-%d-policy" % n, frame_selector(6, 0, 3) +
              struct.pack(">QQBHB", 256 + n, n, 1, 7, 1) + f)
    for n, f in enumerate(opus[1:3]):   # [0] is the header buffer
        c.add("opus-%d-policy" % n, frame_selector(6, 0, 3) +
              struct.pack(">QQBHB", 512 + n, n, 0, 3, 1) + f)

    # decryptor sessions (geometry 0x23: 4 streams, 1 cached key, 2 s of
    # grace): real frames each given twice (the second is a replay), a
    # secret change with frames under the old secret within the grace
    # period and after it (mismatch), then under the new one (match), a
    # declared mismatch, deferred mismatches fed in place
    def real(kid_idx, ctr, which, data, twice=False):
        return bytes([2 | (0x80 if twice else 0), kid_idx, ctr >> 8,
                      ctr & 0xff, 0, which, 1, len(data)]) + data
    plain = [bytes.fromhex(v["frame"]) for v in vectors["vectors"]
             if len(v["frame"]) // 2 <= 160]
    for suite in range(1, 9):
        ops = b"".join(real(k + 4, k, 0, f, True)
                       for k, f in enumerate(plain[:3]))
        ops += bytes([3, 1])                          # secret 0 -> 1
        ops += real(5, 9, 0, b"old secret, in grace")
        ops += bytes([4, 4])                          # 1 s
        ops += real(5, 10, 1, b"new secret")
        ops += bytes([4, 200])                        # 50 s: grace over
        ops += real(5, 11, 0, b"old secret, late")    # mismatch
        ops += real(5, 12, 1, b"new secret again")    # match
        ops += bytes([5, 5, 6])                       # declare; defer, in place
        ops += real(5, 13, 0, b"old secret, deferred")
        ops += bytes([3, 4])                          # no secret
        ops += real(5, 14, 1, b"no secret")
        c.add("decryptor-suite%d" % suite,
              frame_selector(suite, 0, 4) + bytes([0x23]) + ops)
    for v in vectors["negative"][:4]:
        p = bytes.fromhex(v["protected"])
        c.add("decryptor-neg-%s" % v["name"],
              frame_selector(6, 1, 5) + bytes([0x11]) +
              bytes([0]) + struct.pack(">H", len(p)) + p +
              bytes([1]) + struct.pack(">H", len(p)) + p)
    return c.n


def sframe_header_corpus(shared):
    c = Corpus("sframe-header")
    vectors = json.load(open(os.path.join(shared, "testvectors", "sframe",
                                          "test-vectors.json")))
    seen = set()
    for v in vectors["header"]:
        enc = bytes.fromhex(v["encoded"])
        # one per (KID length, CTR length), 0 meaning in the config byte
        key = (((enc[0] >> 4) & 7) + 1 if enc[0] & 0x80 else 0,
               (enc[0] & 7) + 1 if enc[0] & 0x08 else 0)
        if key in seen:
            continue
        seen.add(key)
        c.add("kid%s-ctr%s" % (v["kid"], v["ctr"]), enc)
    # KID/CTR pairs for the encode direction
    c.add("pairs", struct.pack(">QQQQQQ", 0, 0, 7, 8, 2**64 - 1, 2**32))
    return c.n


def signalling_corpus():
    c = Corpus("signalling")
    doc = open(os.path.join(ROOT, "docs", "signalling.md")).read()
    blocks = re.findall(r"```json\n(.*?)```", doc, re.S)
    stream = None
    for b in blocks:
        if b.lstrip().startswith('{"streamId"'):
            stream = json.loads(b)
    for n, b in enumerate(blocks):
        b = b.replace("STREAM, ...", json.dumps(stream))
        msg = json.loads(b)
        c.add("doc-%d-%s" % (n, msg.get("type", "stream")),
              json.dumps(msg, ensure_ascii=False))
    # every request and event of the tables, with the members they name
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
           "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n"
           "a=sendonly\r\n")
    msgs = [
        {"type": "ping", "requestId": "2"},
        {"type": "publish", "requestId": "3", "sdp": sdp, "name": "camera",
         "hasAudio": True, "hasVideo": True, "videoType": "camera"},
        {"type": "unpublish", "streamId": "s_abc"},
        {"type": "subscribe", "streamId": "s_abc", "requestId": "4"},
        {"type": "subscribeAnswer", "subscriptionId": "u_1", "sdp": sdp},
        {"type": "unsubscribe", "subscriptionId": "u_1"},
        {"type": "candidate", "legId": "s_abc", "mline": 0,
         "candidate": "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host"},
        {"type": "candidate", "legId": "u_1", "mline": 1, "candidate": ""},
        {"type": "signal", "data": "hello", "signalType": "chat.msg_1~",
         "to": "c_xyz"},
        {"type": "disconnect"},
        {"type": "connectionCreated", "connection": {
            "connectionId": "c_x", "data": "", "creationTime": 1}},
        {"type": "connectionDestroyed", "connectionId": "c_x",
         "reason": "clientDisconnected"},
        {"type": "streamCreated", "stream": stream},
        {"type": "streamDestroyed", "streamId": "s_abc",
         "reason": "mediaStopped"},
        {"type": "unsubscribed", "subscriptionId": "u_1",
         "streamId": "s_abc", "reason": "streamDestroyed"},
        {"type": "signal", "from": "c_x", "signalType": "", "data": "x"},
        {"type": "error", "code": 1004, "message": "Authentication failed",
         "requestId": "1"},
        {"type": "publishAnswer", "streamId": "s_abc", "sdp": sdp},
        {"type": "subscribeOffer", "subscriptionId": "u_1",
         "streamId": "s_abc", "sdp": sdp},
    ]
    for m in msgs:
        c.add("table-" + m["type"], json.dumps(m))
    # at the limits: 16 levels (accepted) and escapes
    c.add("depth-16", '{"type":"x","a":' + "[" * 15 + "]" * 15 + "}")
    c.add("escapes", '{"type":"signal","data":"\\u00e9\\ud83d\\udd10\\n\\"",'
          '"v":1e3,"x":null,"y":[true,false,-1,1.5]}')
    return c.n


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(header, claims, secret=API_SECRET):
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), (h + "." + p).encode(),
                   hashlib.sha256).digest()
    return h + "." + p + "." + b64url(sig)


def token_corpus():
    c = Corpus("token")
    hs = {"alg": "HS256", "typ": "JWT"}
    client = {"iss": API_KEY, "scope": "session.connect",
              "session_id": "2_MX5mdXp6a2V5fg", "role": "publisher",
              "nonce": "00112233445566778899aabbccddeeff",
              "iat": NOW, "exp": NOW + 86400}
    data = dict(client, role="subscriber", connection_data="name=bob")
    project = {"iss": API_KEY, "ist": "project",
               "jti": "ffeeddccbbaa99887766554433221100",
               "iat": NOW, "exp": NOW + 300}
    tokens = {
        "client": jwt(hs, client),
        "client-data": jwt(hs, data),
        "project": jwt(hs, project),
        "expired": jwt(hs, dict(client, exp=NOW - 1)),
        "future-iat": jwt(hs, dict(client, iat=NOW + 3600)),
        "nbf": jwt(hs, dict(client, nbf=NOW + 3600)),
        "wrong-secret": jwt(hs, client, "another secret"),
        "project-long": jwt(hs, dict(project, exp=NOW + 3600)),
        "alg-none": b64url(b'{"alg":"none","typ":"JWT"}') + "." +
        b64url(json.dumps(client).encode()) + ".",
        "alg-hs512": jwt({"alg": "HS512", "typ": "JWT"}, client),
    }
    for name, t in tokens.items():
        c.add("raw-" + name, b"\x00" + t.encode())
    for name, claims in (("client", client), ("client-data", data),
                         ("project", project)):
        c.add("signed-" + name, b"\x01" + json.dumps(hs).encode() + b"\x00" +
              json.dumps(claims).encode())
        c.add("payload-" + name, b"\x02" + json.dumps(claims).encode())
    c.add("signed-alg-none", b"\x01" + b'{"alg":"none"}\x00' +
          json.dumps(client).encode())
    c.add("signed-alg-hs512", b"\x01" + b'{"alg":"HS512","typ":"JWT"}\x00' +
          json.dumps(client).encode())
    for role in range(3):
        c.add("own-role%d" % role, bytes([3, role]) +
              struct.pack(">H", 3600) + b"2_MX5mdXp6a2V5fg\x00name=alice")
    return c.n


def rest_corpus():
    c = Corpus("rest")
    forms = ["e2ee=true", "e2ee=false", "e2ee=true&p2p.preference=disabled&"
             "archiveMode=manual", "e2ee=true&p2p.preference=enabled",
             "e2ee=true&archiveMode=always", "p2p.preference=enabled&"
             "archiveMode=always", "e2ee=maybe", "e2ee=%74rue&x=%zz&&=",
             "location=127.0.0.1"]
    for f in forms:
        c.add("create-" + f, b"\x00" + f.encode())
    bodies = [{"sessionId": "2_plain", "name": "weekly"},
              {"sessionId": "2_e2ee"}, {"sessionId": "2_missing"},
              {"name": "no session"}]
    for b in bodies:
        c.add("archive-" + json.dumps(b), b"\x01" + json.dumps(b).encode())
    for n, feature in enumerate(["broadcast", "dial", "connect", "render",
                                 "archive", "archive-stop"]):
        c.add("feature-" + feature, bytes([2, n]) +
              json.dumps({"sessionId": "2_e2ee" if n % 2 else "2_plain"})
              .encode())
    raw = {
        "create": "POST /session/create HTTP/1.1\r\nHost: h\r\n"
        "X-OPENTOK-AUTH: $JWT\r\nContent-Length: 9\r\n\r\ne2ee=true",
        "create-get": "GET /session/create HTTP/1.1\r\nHost: h\r\n\r\n",
        "create-alg-none": "POST /session/create HTTP/1.1\r\nHost: h\r\n"
        "X-OPENTOK-AUTH: eyJhbGciOiJub25lIn0.e30.\r\n\r\n",
        "archive-list": "GET /v2/project/$KEY/archive HTTP/1.1\r\n"
        "Host: h\r\nX-OPENTOK-AUTH: $JWT\r\n\r\n",
        "archive-get": "GET /v2/project/$KEY/archive/a_x HTTP/1.1\r\n"
        "Host: h\r\nX-OPENTOK-AUTH: $JWT\r\n\r\n",
        "archive-stop": "POST /v2/project/$KEY/archive/a_x/stop HTTP/1.1\r\n"
        "Host: h\r\nX-OPENTOK-AUTH: $JWT\r\nContent-Length: 0\r\n\r\n",
        "other-key": "POST /v2/project/otherkey/broadcast HTTP/1.1\r\n"
        "Host: h\r\nX-OPENTOK-AUTH: $JWT\r\nContent-Length: 2\r\n\r\n{}",
        "dial-chunked": "POST /v2/project/$KEY/dial HTTP/1.1\r\nHost: h\r\n"
        "X-OPENTOK-AUTH: $JWT\r\nTransfer-Encoding: chunked\r\n\r\n"
        "16\r\n{\"sessionId\":\"2_e2ee\"}\r\n0\r\n\r\n",
        "unknown-path": "GET /v2/x HTTP/1.1\r\nHost: h\r\n\r\n",
        # the web client's files (the target's scratch web directory)
        "static-index": "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "static-web": "GET /web/app.js HTTP/1.1\r\nHost: h\r\n\r\n",
        "static-sub": "HEAD /sub/style.css HTTP/1.1\r\nHost: h\r\n\r\n",
        "static-post": "POST /index.html HTTP/1.1\r\nHost: h\r\n"
        "Content-Length: 0\r\n\r\n",
        "static-dotdot": "GET /../outside.txt HTTP/1.1\r\nHost: h\r\n\r\n",
        "static-encoded": "GET /web/%2e%2e/outside.txt HTTP/1.1\r\n"
        "Host: h\r\n\r\n",
        "static-hidden": "GET /.hidden HTTP/1.1\r\nHost: h\r\n\r\n",
        "static-symlink": "GET /link.html HTTP/1.1\r\nHost: h\r\n\r\n",
        "static-prefix": "GET /../web-other/x.html HTTP/1.1\r\n"
        "Host: h\r\n\r\n",
    }
    for name, r in raw.items():
        c.add("raw-" + name, b"\x03" + r.encode())
    return c.n


def ws_frame(fin, opcode, payload, mask=b"\x12\x34\x56\x78"):
    """A masked client frame."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xffff:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_frames_corpus():
    """Client byte streams around the 1,024-byte limit of the target."""
    c = Corpus("ws-frames")
    ping = b'{"type":"ping","requestId":"p"}'
    c.add("one-text", b"\x00" + ws_frame(True, 1, ping))
    c.add("text-close", b"\x05" + ws_frame(True, 1, ping) +
          ws_frame(True, 8, b"\x03\xe8"))
    c.add("at-limit-fragments", b"\x01" + ws_frame(False, 1, b"a" * 512) +
          ws_frame(True, 9, b"") + ws_frame(True, 0, b"b" * 512) +
          ws_frame(True, 1, ping))
    c.add("over-by-one", b"\x02" + ws_frame(False, 2, b"a" * 1000) +
          ws_frame(False, 0, b"b" * 24) + ws_frame(True, 0, b"c") +
          ws_frame(True, 8, b"\x03\xf1"))
    c.add("len16", b"\x03" + ws_frame(True, 1, b"x" * 300))
    c.add("len64-huge", b"\x04" + bytes([0x81, 0xff]) +
          (2 ** 63 - 1).to_bytes(8, "big") + b"\0\0\0\0" + b"z" * 40)
    c.add("unmasked", b"\x06" + bytes([0x81, 3]) + b"abc")
    c.add("split-messages", b"\x07" + b"".join(
        ws_frame(i % 3 == 2, 1 if i % 3 == 0 else 0, bytes([65 + i]) * 200)
        for i in range(9)))
    return c.n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared-dir", default=os.path.join(ROOT, "..",
                                                         "shared"))
    args = ap.parse_args()
    for name, n in (("frame", frame_corpus(args.shared_dir)),
                    ("sframe-header", sframe_header_corpus(args.shared_dir)),
                    ("signalling", signalling_corpus()),
                    ("token", token_corpus()),
                    ("rest", rest_corpus()),
                    ("ws-frames", ws_frames_corpus())):
        print("%-14s %d seeds" % (name, n))


if __name__ == "__main__":
    main()
