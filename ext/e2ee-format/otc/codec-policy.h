/* Sender policy for the clear length L (format page, section 5): how much
 * of each codec's frame stays readable for payloaders and the router. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  OTC_CODEC_UNKNOWN = 0,
  OTC_CODEC_VP8,
  OTC_CODEC_OPUS,
} OtcCodec;

/* From a media type such as "video/x-vp8"; OTC_CODEC_UNKNOWN otherwise. */
OtcCodec otc_codec_from_media_type (const gchar * media_type);

/* The VP8 clear length: at least 10 bytes (key frame) or 3 (delta), and
 * exactly as many more as GStreamer 1.22's rtpvp8pay bool-decodes to read
 * the frame header up to the token partition count. A frame with more than
 * one token partition (vp8enc token-partitions > 0) cannot be protected:
 * rtpvp8pay also reads the partition size table after the first partition;
 * that returns FALSE with OTC_E2EE_ERROR_ENCRYPTION_UNSUPPORTED_CODEC.
 * A frame that is not valid VP8 gets the minimum (rtpvp8pay would refuse
 * it in the clear too). */
gboolean otc_vp8_clear_length (const guint8 * frame, gsize len,
    guint * clear_len, GError ** error);

/* Clear length for any supported codec (Opus: the TOC byte). */
gboolean otc_codec_clear_length (OtcCodec codec, const guint8 * frame,
    gsize len, guint * clear_len, GError ** error);

G_END_DECLS
