/* libFuzzer target: frame unprotect for every cipher suite and any clear
 * length, in place and not, and the frame decryptor fed sequences of
 * frames (forged, replayed, under secret changes).
 *
 * Input: byte 0 picks the suite (bits 0-2: 1-8), the secret (bits 3-4:
 * four secrets of the OTC-E2EE v1 test vectors, so that their frames
 * authenticate) and the mode (bits 5-7):
 *   0-1  the rest is a protected frame: parse, unprotect, in place;
 *   2    round trip: KID(8) CTR(8) L(1) tamper(2) mask(1) frame;
 *   3    the same with L from the codec policy (VP8 or Opus by bit 0 of L);
 *   4-7  decryptor: geometry(1) then operations (see decryptor_run).
 * Properties checked besides memory safety: a parsed frame's parts add up;
 * protect/unprotect round-trips; a frame with a changed byte never
 * authenticates (suites with a tag of 64 bits or more); out-of-place and
 * in-place unprotect agree; failure leaves no plaintext behind; a frame
 * accepted by the decryptor is refused when it comes again. */
#include <gio/gio.h>
#include <otc/e2ee.h>

#include "fuzz-common.h"

#define N_SECRETS 4
#define MAX_FRAME 16384
#define FILL 0xa5

static OtcSecretKey *secrets[N_SECRETS];

/* Seven suites in the vectors' pairs: one secret authenticates the real
 * frames of two suites (tests/fuzz/make-corpus.py writes them). */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gchar *x256 = g_strnfill (256, 'x');
  const gchar *pairs[N_SECRETS][2] = {
    {"12345678", ""},
    {"correct horse battery staple", "sess-42"},
    {x256, ""},
    {"correct horse battery staple", ""},
  };
  guint i;

  fuzz_make_criticals_fatal ();
  for (i = 0; i < N_SECRETS; i++) {
    secrets[i] = otc_secret_key_derive (pairs[i][0], pairs[i][1], NULL);
    g_assert (secrets[i] != NULL);
  }
  g_free (x256);
  return 0;
}

static OtcFrameKey *
key_for (OtcCipherSuite suite, OtcSecretKey * sk, guint64 kid)
{
  OtcFrameKey *key = otc_frame_key_new_for_kid (sk, suite, kid, NULL);

  FUZZ_CHECK (key != NULL);
  FUZZ_CHECK (otc_frame_key_get_kid (key) == kid);
  FUZZ_CHECK (otc_frame_key_get_suite (key) == suite);
  return key;
}

static gboolean
parse_checked (OtcCipherSuite suite, const guint8 * data, gsize len,
    OtcFrameInfo * info)
{
  const OtcCipherSuiteInfo *si = otc_cipher_suite_get_info (suite);
  guint64 kid, ctr;

  if (!otc_frame_parse (suite, data, len, info))
    return FALSE;
  FUZZ_CHECK (len >= 1 && info->clear_len == data[len - 1]);
  FUZZ_CHECK (info->tag_len == si->tag_size);
  FUZZ_CHECK (info->header_len >= 1
      && info->header_len <= OTC_SFRAME_HEADER_MAX_SIZE);
  FUZZ_CHECK (info->ciphertext_offset == info->clear_len + info->header_len);
  FUZZ_CHECK (info->ciphertext_offset + info->ciphertext_len + info->tag_len
      + 1 == len);
  FUZZ_CHECK (otc_sframe_header_decode (data + info->clear_len,
          info->header_len, &kid, &ctr) == info->header_len);
  FUZZ_CHECK (kid == info->kid && ctr == info->ctr);
  return TRUE;
}

/* No plaintext may be left in @out after a failure: each byte is the fill
 * it had, or wiped. */
static void
check_no_output (const guint8 * out, gsize len)
{
  gsize i;

  for (i = 0; i < len; i++)
    FUZZ_CHECK (out[i] == FILL || out[i] == 0);
}

/* Both unprotect calls on one frame; the status (OK or not). */
static OtcFrameStatus
unprotect_both (OtcFrameKey * key, const guint8 * data, gsize len,
    const OtcFrameInfo * info, guint8 ** plain)
{
  gsize plain_len = OTC_FRAME_INFO_PLAIN_SIZE (info);
  guint8 *out = g_malloc (plain_len ? plain_len : 1);
  guint8 *copy = fuzz_dup (data, len);
  OtcFrameStatus s1, s2;

  memset (out, FILL, plain_len);
  s1 = otc_frame_unprotect (key, data, info, out);
  s2 = otc_frame_unprotect_in_place (key, copy, info);
  FUZZ_CHECK (s1 == s2);
  if (s1 == OTC_FRAME_OK) {
    FUZZ_CHECK (memcmp (out, copy, plain_len) == 0);
  } else {
    FUZZ_CHECK (memcmp (copy, data, len) == 0);
    check_no_output (out, plain_len);
  }
  g_free (copy);
  if (plain != NULL && s1 == OTC_FRAME_OK)
    *plain = out;
  else
    g_free (out);
  return s1;
}

static void
raw_frame (OtcCipherSuite suite, OtcSecretKey * sk, FuzzInput * in)
{
  gsize len;
  const guint8 *p = fuzz_bytes (in, MAX_FRAME, &len);
  guint8 *data = fuzz_dup (p, len);
  OtcFrameInfo info;

  if (parse_checked (suite, data, len, &info)) {
    OtcFrameKey *key = key_for (suite, sk, info.kid);
    OtcFrameStatus status = unprotect_both (key, data, len, &info, NULL);

    FUZZ_SAY ("raw suite %d: KID %" G_GUINT64_FORMAT " CTR %" G_GUINT64_FORMAT
        " L %u: %s\n", suite, info.kid, info.ctr, info.clear_len,
        otc_frame_status_name (status));
    otc_frame_key_free (key);
  } else {
    FUZZ_SAY ("raw suite %d: malformed\n", suite);
  }
  g_free (data);
}

static void
round_trip (OtcCipherSuite suite, OtcSecretKey * sk, FuzzInput * in,
    gboolean codec_policy)
{
  const OtcCipherSuiteInfo *si = otc_cipher_suite_get_info (suite);
  guint64 kid = fuzz_u64 (in), ctr = fuzz_u64 (in);
  guint clear_len = fuzz_u8 (in);
  guint tamper = fuzz_u16 (in);
  guint8 mask = fuzz_u8 (in) | 1;
  gsize len, size;
  const guint8 *p = fuzz_bytes (in, MAX_FRAME, &len);
  guint8 *frame = fuzz_dup (p, len), *out, *plain = NULL;
  OtcFrameKey *key;
  OtcFrameInfo info;
  GError *error = NULL;
  gssize n;

  if (codec_policy) {
    OtcCodec codec = (clear_len & 1) ? OTC_CODEC_VP8 : OTC_CODEC_OPUS;

    if (!otc_codec_clear_length (codec, frame, len, &clear_len, &error)) {
      /* VP8 with several token partitions: refused, with a reason */
      FUZZ_CHECK (error != NULL && codec == OTC_CODEC_VP8);
      g_clear_error (&error);
      g_free (frame);
      return;
    }
  }

  key = key_for (suite, sk, kid);
  size = otc_frame_protected_size (suite, kid, ctr, len);
  FUZZ_CHECK (size <= len + OTC_FRAME_MAX_OVERHEAD);
  out = g_malloc (size);

  /* one byte short: refused, nothing written past the end */
  n = otc_frame_protect (key, ctr, frame, len, clear_len, out, size - 1,
      &error);
  FUZZ_CHECK (n == -1 && g_error_matches (error, G_IO_ERROR,
          G_IO_ERROR_NO_SPACE));
  g_clear_error (&error);

  n = otc_frame_protect (key, ctr, frame, len, clear_len, out, size, NULL);
  FUZZ_CHECK (n == (gssize) size);
  FUZZ_CHECK (parse_checked (suite, out, size, &info));
  FUZZ_CHECK (info.kid == kid && info.ctr == ctr);
  FUZZ_CHECK (info.clear_len == MIN (MIN (clear_len,
              OTC_FRAME_MAX_CLEAR_LENGTH), len));
  FUZZ_CHECK (OTC_FRAME_INFO_PLAIN_SIZE (&info) == len);
  FUZZ_CHECK (memcmp (out, frame, info.clear_len) == 0);
  FUZZ_CHECK (unprotect_both (key, out, size, &info, &plain) == OTC_FRAME_OK);
  FUZZ_CHECK (memcmp (plain, frame, len) == 0);
  g_free (plain);

  /* one byte changed anywhere: it may still parse, but never verifies */
  out[tamper % size] ^= mask;
  if (parse_checked (suite, out, size, &info)) {
    OtcFrameKey *other = info.kid == kid ? NULL : key_for (suite, sk,
        info.kid);
    OtcFrameStatus status = unprotect_both (other ? other : key, out, size,
        &info, NULL);

    FUZZ_CHECK (status != OTC_FRAME_OK || si->tag_size < 8);
    if (other)
      otc_frame_key_free (other);
  }

  otc_frame_key_free (key);
  g_free (out);
  g_free (frame);
}

static void
check_result (const OtcUnprotectResult * res, gsize len, gsize out_size)
{
  FUZZ_CHECK (res->status <= OTC_FRAME_INTERNAL_ERROR);
  if (res->status == OTC_FRAME_OK) {
    FUZZ_CHECK (res->kid_known);
    FUZZ_CHECK (res->out_len <= len && res->out_len <= out_size);
  } else {
    FUZZ_CHECK (res->out_len == 0);
    FUZZ_CHECK (res->event != OTC_STREAM_EVENT_MATCH);
  }
  if (res->status == OTC_FRAME_MALFORMED)
    FUZZ_CHECK (!res->kid_known);
  /* a deferred report comes again with a failing frame, as a mismatch */
  if (res->report_retry)
    FUZZ_CHECK (res->status == OTC_FRAME_AUTH_FAILED
        && res->event == OTC_STREAM_EVENT_MISMATCH);
  if (res->match_unreported)
    FUZZ_CHECK (res->event == OTC_STREAM_EVENT_MATCH);
  /* out_size >= len always suffices */
  if (res->status == OTC_FRAME_INTERNAL_ERROR)
    FUZZ_CHECK (out_size < len);
}

/* One frame into the decryptor, in place or into a buffer of exactly
 * @out_size bytes. */
static void
feed (OtcFrameDecryptor * dec, const guint8 * data, gsize len,
    gboolean in_place, gsize out_size, gint64 now, OtcUnprotectFlags flags,
    OtcUnprotectResult * res, guint8 ** plain)
{
  guint8 *out;

  if (in_place) {
    out = fuzz_dup (data, len);
    out_size = len;
  } else {
    out = g_malloc (out_size ? out_size : 1);
    memset (out, FILL, out_size);
  }
  otc_frame_decryptor_unprotect_full (dec, in_place ? out : data, len, out,
      out_size, now, flags, res);
  check_result (res, len, out_size);
  if (res->status != OTC_FRAME_OK) {
    if (in_place)
      FUZZ_CHECK (memcmp (out, data, len) == 0);
    else
      check_no_output (out, out_size);
  }
  if (plain != NULL && res->status == OTC_FRAME_OK)
    *plain = out;
  else
    g_free (out);
}

static const guint64 kids[8] = {
  0, 1, 7, 8, 255, 256, G_GUINT64_CONSTANT (0x100000005), G_MAXUINT64
};

/* Operations, an opcode byte each (bits 0-6 % 7):
 *   0 forged frame: len(2) bytes, out buffer len - bits 5-6 of the opcode
 *   1 forged frame in place: len(2) bytes
 *   2 real frame: kid(1) ctr(2) shift(1) secret(1) L(1) len(1) bytes;
 *     bit 7 of the opcode: give it twice (the second is a replay)
 *   3 change secret: which(1) (4: none)
 *   4 time passes: quarter seconds(1)
 *   5 declare mismatch: kid(1)
 *   6 toggle OTC_UNPROTECT_DEFER_MISMATCH and in-place feeding */
static void
decryptor_run (OtcCipherSuite suite, OtcSecretKey * sk, FuzzInput * in)
{
  guint8 geometry = fuzz_u8 (in);
  guint max_streams = 1 + (geometry & 3);
  OtcFrameDecryptor *dec = otc_frame_decryptor_new (suite, max_streams,
      1 + ((geometry >> 2) & 3));
  OtcSecretKey *current = sk;
  OtcUnprotectFlags flags = 0;
  gboolean in_place = FALSE;
  gint64 now = 0;
  guint n_ops = 0;

  otc_frame_decryptor_set_grace_period (dec, (geometry >> 4) *
      G_USEC_PER_SEC);
  otc_frame_decryptor_set_secret_key (dec, sk, now);
  FUZZ_CHECK (otc_frame_decryptor_get_suite (dec) == suite);

  while (fuzz_input_left (in) > 0 && n_ops++ < 256) {
    guint8 op = fuzz_u8 (in);
    OtcUnprotectResult res;
    gsize len;
    const guint8 *p;

    switch ((op & 0x7f) % 7) {
      case 0:
      case 1:{
        gsize delta = (op >> 5) & 3;

        len = fuzz_u16 (in) % (MAX_FRAME + 1);
        p = fuzz_bytes (in, len, &len);
        feed (dec, p, len, (op & 0x7f) % 7 == 1, len - MIN (delta, len), now,
            flags,
            &res, NULL);
        FUZZ_SAY ("decryptor: frame of %" G_GSIZE_FORMAT " bytes: %s\n",
            len, otc_frame_status_name (res.status));
        break;
      }
      case 2:{
        guint64 kid = kids[fuzz_u8 (in) % G_N_ELEMENTS (kids)];
        guint64 ctr = (guint64) fuzz_u16 (in) << (fuzz_u8 (in) % 49);
        guint which = fuzz_u8 (in) % (N_SECRETS + 1);
        OtcSecretKey *by = which < N_SECRETS ? secrets[which] : current;
        guint clear_len = fuzz_u8 (in);
        OtcFrameKey *key;
        guint8 *frame, *plain = NULL;
        gsize size;

        len = fuzz_u8 (in);
        p = fuzz_bytes (in, len, &len);
        if (by == NULL)
          break;
        key = key_for (suite, by, kid);
        size = otc_frame_protected_size (suite, kid, ctr, len);
        frame = g_malloc (size);
        FUZZ_CHECK (otc_frame_protect (key, ctr, p, len, clear_len, frame,
                size, NULL) == (gssize) size);
        otc_frame_key_free (key);

        feed (dec, frame, size, in_place, size, now, flags, &res, &plain);
        FUZZ_SAY ("decryptor: real frame KID %" G_GUINT64_FORMAT " CTR %"
            G_GUINT64_FORMAT ": %s event %d\n", kid, ctr,
            otc_frame_status_name (res.status), res.event);
        FUZZ_CHECK (res.kid_known && res.kid == kid && res.ctr == ctr);
        if (res.status == OTC_FRAME_OK) {
          FUZZ_CHECK (res.out_len == len && memcmp (plain, p, len) == 0);
          g_free (plain);
        }
        if (op & 0x80) {
          OtcFrameStatus first = res.status;

          feed (dec, frame, size, !in_place, size, now, flags, &res, NULL);
          FUZZ_CHECK (first != OTC_FRAME_OK
              || res.status == OTC_FRAME_REPLAYED);
        }
        g_free (frame);
        break;
      }
      case 3:{
        guint which = fuzz_u8 (in) % (N_SECRETS + 1);

        current = which < N_SECRETS ? secrets[which] : NULL;
        otc_frame_decryptor_set_secret_key (dec, current, now);
        FUZZ_CHECK (otc_frame_decryptor_has_secret (dec) == (current != NULL));
        break;
      }
      case 4:
        now += fuzz_u8 (in) * (G_USEC_PER_SEC / 4);
        break;
      case 5:{
        guint64 kid = kids[fuzz_u8 (in) % G_N_ELEMENTS (kids)];
        OtcStreamEvent ev = otc_frame_decryptor_declare_mismatch (dec, kid);

        FUZZ_CHECK (ev == OTC_STREAM_EVENT_NONE
            || ev == OTC_STREAM_EVENT_MISMATCH);
        /* a report that could not be made: deferred; the stream stays
         * mismatched */
        if (ev == OTC_STREAM_EVENT_MISMATCH && (fuzz_u8 (in) & 1)) {
          otc_frame_decryptor_defer_report (dec, kid);
          FUZZ_CHECK (otc_frame_decryptor_declare_mismatch (dec, kid)
              == OTC_STREAM_EVENT_NONE);
        }
        break;
      }
      case 6:
        flags ^= OTC_UNPROTECT_DEFER_MISMATCH;
        in_place = !in_place;
        break;
    }
    FUZZ_CHECK (otc_frame_decryptor_get_n_streams (dec) <= max_streams);
  }
  otc_frame_decryptor_free (dec);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  FuzzInput in;
  guint8 sel;
  OtcCipherSuite suite;
  OtcSecretKey *sk;

  fuzz_input_init (&in, data, size);
  sel = fuzz_u8 (&in);
  suite = (OtcCipherSuite) ((sel & 7) + 1);
  sk = secrets[(sel >> 3) & 3];

  switch (sel >> 5) {
    case 0:
    case 1:
      raw_frame (suite, sk, &in);
      break;
    case 2:
      round_trip (suite, sk, &in, FALSE);
      break;
    case 3:
      round_trip (suite, sk, &in, TRUE);
      break;
    default:
      decryptor_run (suite, sk, &in);
      break;
  }
  return 0;
}
