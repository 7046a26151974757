#include "otc/sframe-header.h"

/* Bytes needed for @v as a big-endian integer (1-8). */
static guint
int_size (guint64 v)
{
  guint n = 1;

  while (n < 8 && (v >> (8 * n)) != 0)
    n++;
  return n;
}

static void
write_be (guint8 * out, guint64 v, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    out[i] = (guint8) (v >> (8 * (n - 1 - i)));
}

gsize
otc_sframe_header_size (guint64 kid, guint64 ctr)
{
  return 1 + (kid < 8 ? 0 : int_size (kid)) + (ctr < 8 ? 0 : int_size (ctr));
}

gsize
otc_sframe_header_encode (guint64 kid, guint64 ctr,
    guint8 out[OTC_SFRAME_HEADER_MAX_SIZE])
{
  guint8 config = 0;
  gsize pos = 1;

  /* config byte: X(1) K(3) Y(1) C(3) */
  if (kid < 8) {
    config |= (guint8) (kid << 4);
  } else {
    guint n = int_size (kid);
    config |= 0x80 | (guint8) ((n - 1) << 4);
    write_be (out + pos, kid, n);
    pos += n;
  }
  if (ctr < 8) {
    config |= (guint8) ctr;
  } else {
    guint n = int_size (ctr);
    config |= 0x08 | (guint8) (n - 1);
    write_be (out + pos, ctr, n);
    pos += n;
  }
  out[0] = config;
  return pos;
}

static guint64
read_be (const guint8 * p, guint n)
{
  guint64 v = 0;
  guint i;

  for (i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

gsize
otc_sframe_header_decode (const guint8 * data, gsize len, guint64 * kid,
    guint64 * ctr)
{
  guint8 config;
  gsize kid_len, ctr_len;

  if (len < 1)
    return 0;
  config = data[0];
  kid_len = (config & 0x80) ? ((config >> 4) & 0x7) + 1 : 0;
  ctr_len = (config & 0x08) ? (config & 0x7) + 1 : 0;
  if (len < 1 + kid_len + ctr_len)
    return 0;

  *kid = kid_len ? read_be (data + 1, kid_len) : (guint64) ((config >> 4) & 7);
  *ctr = ctr_len ? read_be (data + 1 + kid_len, ctr_len) : (guint64) (config & 7);
  return 1 + kid_len + ctr_len;
}
