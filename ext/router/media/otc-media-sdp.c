/* SDP for the media legs: parsing, and reducing a publisher's offer to
 * what the router forwards (VP8 or Opus per m-line) with the caps that
 * subscriber legs are offered. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "otc-router-media-private.h"

#define GST_CAT_DEFAULT otc_router_media_debug

gboolean
otc_media_sdp_parse (const gchar * text, GstSDPMessage ** msg, GError ** error)
{
  const gchar *p = text;

  *msg = NULL;
  if (text == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "no SDP");
    return FALSE;
  }
  while (g_ascii_isspace (*p))
    p++;
  if (!g_str_has_prefix (p, "v=0") || !g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "not an SDP description "
        "(it must start with \"v=0\")");
    return FALSE;
  }
  if (gst_sdp_message_new_from_text (p, msg) != GST_SDP_OK || *msg == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "unparseable SDP");
    if (*msg)
      gst_sdp_message_free (*msg);
    *msg = NULL;
    return FALSE;
  }
  if (gst_sdp_message_medias_len (*msg) == 0) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "SDP without media");
    gst_sdp_message_free (*msg);
    *msg = NULL;
    return FALSE;
  }
  return TRUE;
}

/* The "ENCODING/RATE[/PARAMS]" of @pt's a=rtpmap, or NULL. */
static const gchar *
sdp_media_rtpmap (const GstSDPMedia * media, gint64 pt)
{
  guint i;

  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    gchar *end = NULL;

    if (g_strcmp0 (a->key, "rtpmap") != 0 || a->value == NULL)
      continue;
    if (g_ascii_strtoll (a->value, &end, 10) == pt && end != a->value
        && *end == ' ')
      return end + 1;
  }
  return NULL;
}

/* The first payload type of @encoding (case-insensitive) at @clock_rate,
 * or -1. */
static gint
sdp_media_find_codec (const GstSDPMedia * media, const gchar * encoding,
    gint clock_rate)
{
  guint i;

  for (i = 0; i < gst_sdp_media_formats_len (media); i++) {
    const gchar *fmt = gst_sdp_media_get_format (media, i);
    gchar *end = NULL;
    gint64 pt = g_ascii_strtoll (fmt, &end, 10);
    const gchar *rtpmap;
    gchar **parts;
    gboolean match;

    if (end == fmt || *end != '\0' || pt < 0 || pt > 127)
      continue;
    rtpmap = sdp_media_rtpmap (media, pt);
    if (rtpmap == NULL)
      continue;
    parts = g_strsplit (rtpmap, "/", 3);
    match = parts[0] && parts[1]
        && g_ascii_strcasecmp (parts[0], encoding) == 0
        && atoi (parts[1]) == clock_rate;
    g_strfreev (parts);
    if (match)
      return (gint) pt;
  }
  return -1;
}

/* "<pt> ..." or "<pt>": the attribute belongs to payload type @pt. */
static gboolean
attribute_for_pt (const gchar * value, gint * pt)
{
  gchar *end = NULL;
  gint64 v;

  if (value == NULL || !g_ascii_isdigit (*value))
    return FALSE;
  v = g_ascii_strtoll (value, &end, 10);
  if (*end != ' ' && *end != '\0')
    return FALSE;
  *pt = (gint) v;
  return TRUE;
}

/* The primary SSRC of @media: the first a=ssrc that no a=ssrc-group names
 * as a secondary (RTX/FEC) SSRC. */
static gboolean
sdp_media_primary_ssrc (const GstSDPMedia * media, guint32 * ssrc)
{
  GHashTable *secondary = g_hash_table_new (NULL, NULL);
  gboolean found = FALSE;
  guint i;

  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    gchar **parts;
    guint j;

    if (g_strcmp0 (a->key, "ssrc-group") != 0 || a->value == NULL)
      continue;
    parts = g_strsplit (a->value, " ", -1);
    for (j = 2; parts[0] && parts[1] && parts[j]; j++)
      g_hash_table_add (secondary,
          GUINT_TO_POINTER ((guint32) g_ascii_strtoull (parts[j], NULL, 10)));
    g_strfreev (parts);
  }
  for (i = 0; i < gst_sdp_media_attributes_len (media) && !found; i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    gchar *end = NULL;
    guint64 v;

    if (g_strcmp0 (a->key, "ssrc") != 0 || a->value == NULL)
      continue;
    v = g_ascii_strtoull (a->value, &end, 10);
    if (end == a->value || v > G_MAXUINT32
        || g_hash_table_contains (secondary, GUINT_TO_POINTER ((guint32) v)))
      continue;
    *ssrc = (guint32) v;
    found = TRUE;
  }
  g_hash_table_unref (secondary);
  return found;
}

/* The caps a subscriber leg offers and receives for one publisher stream:
 * codec, payload type, SSRC and key-frame feedback; no header extensions,
 * no NACK (there is no retransmission on the router). */
static GstCaps *
forward_caps_from_media (const GstSDPMedia * media, gint pt, gboolean * use_fir)
{
  GstCaps *caps = gst_sdp_media_get_caps_from_media (media, pt);
  GstStructure *s;
  guint i;
  gboolean pli, fir;

  if (caps == NULL)
    return NULL;
  caps = gst_caps_make_writable (caps);
  s = gst_caps_get_structure (caps, 0);
  gst_structure_set_name (s, "application/x-rtp");
  for (i = 0; i < (guint) gst_structure_n_fields (s);) {
    const gchar *f = gst_structure_nth_field_name (s, i);

    if ((g_str_has_prefix (f, "rtcp-fb-")
            && strcmp (f, "rtcp-fb-nack-pli") != 0
            && strcmp (f, "rtcp-fb-ccm-fir") != 0)
        || g_str_has_prefix (f, "a-") || g_str_has_prefix (f, "extmap-")
        || g_str_has_prefix (f, "ssrc-")) {
      gst_structure_remove_field (s, f);
    } else {
      i++;
    }
  }
  pli = gst_structure_has_field (s, "rtcp-fb-nack-pli");
  fir = gst_structure_has_field (s, "rtcp-fb-ccm-fir");
  *use_fir = !pli && fir;
  return caps;
}

/* Validates a publisher's offer and reduces each m-line to its VP8 or Opus
 * payload type (no RTX/RED/FEC, no simulcast), which is what the router
 * answers. Fills @streams with one OtcPublisherStream per m-line. */
GstSDPMessage *
otc_media_offer_filter (const GstSDPMessage * offer, GPtrArray * streams,
    GError ** error)
{
  GstSDPMessage *out = NULL;
  guint i, n_video = 0, n_audio = 0;

  /* A stream is one video track, one audio track or both. Checked before
   * anything else: an offer with thousands of m-lines (it fits in one
   * signalling message) would otherwise cost seconds of the main loop in
   * webrtcbin. */
  for (i = 0; i < gst_sdp_message_medias_len (offer); i++) {
    const gchar *kind =
        gst_sdp_media_get_media (gst_sdp_message_get_media (offer, i));

    n_video += g_strcmp0 (kind, "video") == 0;
    n_audio += g_strcmp0 (kind, "audio") == 0;
    if (n_video > 1 || n_audio > 1 || i >= 2) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA,
          "%u m-lines: a stream has at most one video and one audio m-line",
          gst_sdp_message_medias_len (offer));
      return NULL;
    }
  }

  gst_sdp_message_copy (offer, &out);
  for (i = 0; i < gst_sdp_message_medias_len (out); i++) {
    GstSDPMedia *m = &g_array_index (out->medias, GstSDPMedia, i);
    const gchar *kind = gst_sdp_media_get_media (m);
    gboolean is_video;
    gint pt;
    guint j;
    guint32 ssrc = 0;
    gboolean have_ssrc;
    OtcPublisherStream *stream;

    if (g_strcmp0 (kind, "video") == 0) {
      is_video = TRUE;
      pt = sdp_media_find_codec (m, "VP8", 90000);
    } else if (g_strcmp0 (kind, "audio") == 0) {
      is_video = FALSE;
      pt = sdp_media_find_codec (m, "opus", 48000);
    } else {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA,
          "m-line %u: media \"%s\" is not audio or video", i, kind ? kind : "");
      goto fail;
    }
    if (pt < 0) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA,
          "m-line %u: %s without %s", i, kind, is_video ? "VP8" : "Opus");
      goto fail;
    }
    /* port 0 with bundle-only is an m-line in the BUNDLE group */
    if (gst_sdp_media_get_port (m) == 0
        && gst_sdp_media_get_attribute_val (m, "bundle-only") == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA,
          "m-line %u is disabled (port 0)", i);
      goto fail;
    }
    if (gst_sdp_media_get_attribute_val (m, "recvonly")
        || gst_sdp_media_get_attribute_val (m, "inactive")) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA,
          "m-line %u does not send: a publisher offers sendonly media", i);
      goto fail;
    }
    have_ssrc = sdp_media_primary_ssrc (m, &ssrc);

    stream = g_new0 (OtcPublisherStream, 1);
    otc_direct_stream_init (stream);
    stream->mline = i;
    stream->is_video = is_video;
    stream->pt = pt;
    stream->caps = forward_caps_from_media (m, pt, &stream->use_fir);
    if (stream->caps == NULL) {
      g_free (stream);
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "m-line %u: bad rtpmap", i);
      goto fail;
    }
    if (have_ssrc) {
      stream->ssrc = ssrc;
      stream->ssrc_known = TRUE;
      gst_caps_set_simple (stream->caps, "ssrc", G_TYPE_UINT, ssrc, NULL);
    }
    g_ptr_array_add (streams, stream);

    /* keep only the chosen payload type */
    for (j = 0; j < gst_sdp_media_formats_len (m);) {
      if (atoi (gst_sdp_media_get_format (m, j)) != pt)
        gst_sdp_media_remove_format (m, j);
      else
        j++;
    }
    for (j = 0; j < gst_sdp_media_attributes_len (m);) {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (m, j);
      gint apt;
      gboolean drop = FALSE;

      if (g_strcmp0 (a->key, "rtpmap") == 0 || g_strcmp0 (a->key, "fmtp") == 0
          || g_strcmp0 (a->key, "rtcp-fb") == 0)
        drop = attribute_for_pt (a->value, &apt) && apt != pt;
      else if (g_strcmp0 (a->key, "ssrc-group") == 0
          || g_strcmp0 (a->key, "rid") == 0
          || g_strcmp0 (a->key, "simulcast") == 0)
        drop = TRUE;
      else if (g_strcmp0 (a->key, "ssrc") == 0 && have_ssrc)
        drop = (guint32) g_ascii_strtoull (a->value, NULL, 10) != ssrc;
      if (drop)
        gst_sdp_media_remove_attribute (m, j);
      else
        j++;
    }
  }
  return out;

fail:
  gst_sdp_message_free (out);
  return NULL;
}
