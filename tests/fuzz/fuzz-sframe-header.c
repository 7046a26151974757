/* libFuzzer target: the SFrame header decoder (RFC 9605 section 4.3).
 *
 * The input is decoded as a header (the bytes a receiver finds at offset
 * L of a frame); a header that decodes must encode back to the same
 * values, and the minimal encoding is never longer than what was read.
 * The input read as KID(8) CTR(8) pairs is also encoded and decoded back
 * (every length of both, including the full 64-bit range). */
#include <otc/sframe-header.h>

#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  return 0;
}

static void
decode_checked (const guint8 * data, gsize len)
{
  guint8 copy[OTC_SFRAME_HEADER_MAX_SIZE], enc[OTC_SFRAME_HEADER_MAX_SIZE];
  guint64 kid = 0, ctr = 0, kid2, ctr2;
  gsize n, m, i;

  /* on the heap at its exact length, so a read past it is caught */
  guint8 *p = fuzz_dup (data, len);

  n = otc_sframe_header_decode (p, len, &kid, &ctr);
  FUZZ_CHECK (n <= len && n <= OTC_SFRAME_HEADER_MAX_SIZE);
  if (n == 0) {
    /* too short for what the config byte announces: so is every prefix */
    for (i = 0; i < len; i++)
      FUZZ_CHECK (otc_sframe_header_decode (p, i, &kid2, &ctr2) == 0);
    g_free (p);
    return;
  }
  /* the header is exactly its first n bytes */
  memcpy (copy, p, n);
  FUZZ_CHECK (otc_sframe_header_decode (copy, n, &kid2, &ctr2) == n);
  FUZZ_CHECK (kid2 == kid && ctr2 == ctr);
  if (n > 1)
    FUZZ_CHECK (otc_sframe_header_decode (copy, n - 1, &kid2, &ctr2) == 0);

  m = otc_sframe_header_encode (kid, ctr, enc);
  FUZZ_CHECK (m == otc_sframe_header_size (kid, ctr));
  FUZZ_CHECK (m >= 1 && m <= n);
  FUZZ_CHECK (otc_sframe_header_decode (enc, m, &kid2, &ctr2) == m);
  FUZZ_CHECK (kid2 == kid && ctr2 == ctr);
  /* an already minimal header encodes to itself */
  if (m == n)
    FUZZ_CHECK (memcmp (enc, p, n) == 0);
  g_free (p);
}

static void
encode_checked (guint64 kid, guint64 ctr)
{
  guint8 enc[OTC_SFRAME_HEADER_MAX_SIZE];
  guint64 kid2, ctr2;
  gsize m = otc_sframe_header_encode (kid, ctr, enc);
  guint8 *p = fuzz_dup (enc, m);

  FUZZ_CHECK (m >= 1 && m <= OTC_SFRAME_HEADER_MAX_SIZE);
  FUZZ_CHECK (m == otc_sframe_header_size (kid, ctr));
  FUZZ_CHECK (otc_sframe_header_decode (p, m, &kid2, &ctr2) == m);
  FUZZ_CHECK (kid2 == kid && ctr2 == ctr);
  g_free (p);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  FuzzInput in;

  decode_checked (data, size);

  fuzz_input_init (&in, data, size);
  while (fuzz_input_left (&in) >= 16) {
    guint64 kid = fuzz_u64 (&in);
    guint64 ctr = fuzz_u64 (&in);

    encode_checked (kid, ctr);
  }
  return 0;
}
