/* Clear lengths per codec. For VP8 this walks the frame header exactly as
 * GStreamer 1.22's rtpvp8pay does (gst/rtp/gstrtpvp8pay.c,
 * gst_rtp_vp8_pay_parse_frame) so that the payloader reads only clear
 * bytes and accepts every protected frame. */
#include <string.h>

#include "otc/codec-policy.h"
#include "otc/e2ee-error.h"

OtcCodec
otc_codec_from_media_type (const gchar * media_type)
{
  if (g_strcmp0 (media_type, "video/x-vp8") == 0)
    return OTC_CODEC_VP8;
  if (g_strcmp0 (media_type, "audio/x-opus") == 0)
    return OTC_CODEC_OPUS;
  return OTC_CODEC_UNKNOWN;
}

/* The boolean entropy decoder of RFC 6386 section 7.3, counting how many
 * bits it has shifted out. A decision taken after S shifts depends only on
 * the stream bits below S + 8 (it compares the top byte of the window), so
 * the bytes a header walk needs are those up to its last decision. */
typedef struct
{
  const guint8 *data;
  gsize len;
  gsize pos;
  guint32 value;
  guint32 range;
  guint bit_count;
  guint64 shifted;
  guint64 needed_bits;          /* max over decisions of shifted + 8 */
} BoolDecoder;

static guint8
next_byte (BoolDecoder * d)
{
  return d->pos < d->len ? d->data[d->pos++] : 0;
}

static void
bool_init (BoolDecoder * d, const guint8 * data, gsize len)
{
  memset (d, 0, sizeof (*d));
  d->data = data;
  d->len = len;
  d->value = (next_byte (d) << 8);
  d->value |= next_byte (d);
  d->range = 255;
}

static guint
bool_read (BoolDecoder * d, guint prob)
{
  guint32 split = 1 + (((d->range - 1) * prob) >> 8);
  guint32 big_split = split << 8;
  guint bit;

  d->needed_bits = MAX (d->needed_bits, d->shifted + 8);
  if (d->value >= big_split) {
    bit = 1;
    d->range -= split;
    d->value -= big_split;
  } else {
    bit = 0;
    d->range = split;
  }
  while (d->range < 128) {
    d->value = (d->value << 1) & 0xffff;
    d->range <<= 1;
    d->shifted++;
    if (++d->bit_count == 8) {
      d->bit_count = 0;
      d->value |= next_byte (d);
    }
  }
  return bit;
}

static guint
bool_read_literal (BoolDecoder * d, guint bits)
{
  guint v = 0;

  while (bits--)
    v = (v << 1) | bool_read (d, 0x80);
  return v;
}

static void
skip_flagged (BoolDecoder * d, guint count, guint bits)
{
  guint i;

  for (i = 0; i < count; i++) {
    if (bool_read (d, 0x80))
      bool_read_literal (d, bits);
  }
}

gboolean
otc_vp8_clear_length (const guint8 * frame, gsize len, guint * clear_len,
    GError ** error)
{
  gboolean keyframe;
  guint offset, partitions_log2;
  BoolDecoder d;

  if (len < 3) {
    *clear_len = (guint) len;
    return TRUE;
  }
  keyframe = (frame[0] & 0x1) == 0;
  offset = keyframe ? 10 : 3;
  *clear_len = (guint) MIN (len, offset);
  /* Not VP8 that rtpvp8pay could take even in the clear: the minimum. */
  if (((frame[0] >> 1) & 0x7) > 3 || len <= offset)
    return TRUE;
  if (keyframe && (frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a))
    return TRUE;

  bool_init (&d, frame + offset, len - offset);
  if (keyframe)
    bool_read_literal (&d, 2);  /* color space, clamping type */
  if (bool_read (&d, 0x80)) {   /* segmentation_enabled */
    guint update_map = bool_read (&d, 0x80);
    guint update_data = bool_read (&d, 0x80);

    if (update_data) {
      bool_read (&d, 0x80);     /* segment feature mode */
      skip_flagged (&d, 4, 8);  /* quantizer: 7 bits + sign */
      skip_flagged (&d, 4, 7);  /* loop filter: 6 bits + sign */
    }
    if (update_map)
      skip_flagged (&d, 3, 8);  /* segment probabilities */
  }
  bool_read_literal (&d, 1);    /* filter type */
  bool_read_literal (&d, 6);    /* loop filter level */
  bool_read_literal (&d, 3);    /* sharpness */
  if (bool_read (&d, 0x80)) {   /* loop_filter_adj_enable */
    if (bool_read (&d, 0x80))   /* mode_ref_lf_delta_update */
      skip_flagged (&d, 8, 7);
  }
  partitions_log2 = bool_read_literal (&d, 2);

  if (partitions_log2 != 0) {
    g_set_error (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_ENCRYPTION_UNSUPPORTED_CODEC,
        "VP8 frames with %u token partitions cannot be encrypted: rtpvp8pay "
        "reads the partition size table behind the first partition, which "
        "would have to stay in the clear. Use one token partition (vp8enc "
        "token-partitions=1, the default)",
        1u << partitions_log2);
    return FALSE;
  }

  *clear_len = (guint) MIN (len, offset + (d.needed_bits + 7) / 8);
  return TRUE;
}

gboolean
otc_codec_clear_length (OtcCodec codec, const guint8 * frame, gsize len,
    guint * clear_len, GError ** error)
{
  switch (codec) {
    case OTC_CODEC_VP8:
      return otc_vp8_clear_length (frame, len, clear_len, error);
    case OTC_CODEC_OPUS:
      *clear_len = MIN (len, 1);        /* the TOC byte */
      return TRUE;
    default:
      *clear_len = 0;
      return TRUE;
  }
}
