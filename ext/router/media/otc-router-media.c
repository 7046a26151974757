/* otc-router media: one webrtcbin per leg in a single pipeline.
 *
 *   publisher webrtcbin src_N ! tee ! (probe) subscriber webrtcbin sink_M
 *                                  ! (probe) queue ! depay ! webmmux (rec.)
 *
 * RTP is forwarded as it arrives: no depayloading on the forwarding path,
 * so E2EE frames stay ciphertext. SSRC and payload type are kept end to
 * end: a subscriber leg offers the publisher's SSRC and payload type, and
 * the caps going into a subscriber leg are rewritten to exactly its codec
 * preferences (no header extension ids from the publisher leg).
 *
 * Threads: the public functions run on the GMainContext that was
 * thread-default at otc_router_media_new(); webrtcbin signals, pad probes
 * and bus messages come from other threads and are marshalled there with
 * GSources. media->lock guards the state that those threads read. No
 * GStreamer state change, link or promise wait happens with it held. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#define GST_USE_UNSTABLE_API
#include <string.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>

#include "otc-router-media.h"

GST_DEBUG_CATEGORY_STATIC (otc_router_media_debug);
#define GST_CAT_DEFAULT otc_router_media_debug

/* Jitterbuffer latency of the receiving legs: the router only restores
 * packet order; clients buffer for playout themselves. */
#define DEFAULT_LATENCY_MS 20
/* How long stop_recording waits for the muxer to finish the file. */
#define RECORDING_FINALISE_TIMEOUT_S 10

typedef struct _OtcPublisherStream OtcPublisherStream;
typedef struct _OtcOutput OtcOutput;
typedef struct _OtcRecording OtcRecording;

struct _OtcRouterMedia
{
  gint refcount;
  GMainContext *context;
  gchar **ice_addresses;
  GList *ice_inet_addresses;    /* GInetAddress */
  GstElement *pipeline;
  guint leg_serial;
  guint recording_serial;

  GMutex lock;
  gboolean shut_down;
  GHashTable *publishers;       /* stream id -> OtcMediaLeg (publisher) */
  GList *legs;                  /* every live leg (media holds a ref) */
  GHashTable *recordings;       /* id -> OtcRecording (context thread) */
};

/* One m-line of a publisher leg. */
struct _OtcPublisherStream
{
  OtcMediaLeg *leg;             /* not a ref: the leg owns the stream */
  guint mline;
  gboolean is_video;
  guint pt;
  gboolean use_fir;             /* publisher accepts FIR but not PLI */

  /* under media->lock */
  guint32 ssrc;
  gboolean ssrc_known;
  GstCaps *caps;                /* what subscriber legs are offered and fed */
  GstPad *src_pad;              /* the publisher webrtcbin's src pad */
  GstElement *tee;
  gint64 last_keyframe_request; /* monotonic µs, 0: never */
  GSource *trailing_request;
  guint64 kf_requests;
  guint64 kf_sent;
  guint64 kf_throttled;
};

/* A forwarding branch from a publisher stream's tee: to a subscriber leg's
 * sink pad or to a recording's queue. */
struct _OtcOutput
{
  gint refcount;                /* the owner's and the tee pad probe's */
  OtcMediaLeg *leg;             /* ref: the subscriber leg, or NULL for a
                                 * recording input */
  OtcMediaLeg *publisher;       /* ref */
  guint stream_index;
  GstPad *sink_pad;             /* ref: where buffers go */
  GstPad *tee_pad;              /* ref, once linked (context thread) */
  gint linked;                  /* atomic: sticky events can reach sink_pad */
  gint started;                 /* atomic: first buffer went through */
  gint failed;                  /* atomic: stop forwarding */
  gboolean eos_sent;            /* recording inputs */
};

typedef enum
{
  LEG_PUBLISHER,
  LEG_SUBSCRIBER,
} OtcLegRole;

struct _OtcMediaLeg
{
  gint refcount;
  OtcRouterMedia *media;        /* ref */
  OtcLegRole role;
  gchar *stream_id;
  gchar *name;
  GstElement *webrtc;
  OtcMediaLegCallbacks callbacks;
  gpointer user_data;

  /* context thread */
  gboolean user_closed;         /* the caller's handle is gone */
  gboolean closed_notified;
  gboolean description_sent;
  GQueue pending_candidates;    /* CandidateEvent, until the description */
  gboolean torn_down;

  /* under media->lock */
  gboolean closing;

  gint connected;               /* atomic */

  /* publisher */
  GPtrArray *streams;           /* OtcPublisherStream */
  GList *subscribers;           /* OtcMediaLeg (ref), under media->lock */
  GList *extra_sinks;           /* fakesinks of unexpected streams, ditto */

  /* subscriber */
  OtcMediaLeg *publisher;       /* ref */
  GPtrArray *outputs;           /* OtcOutput, one per publisher stream */
  gboolean offer_made;
  gboolean answered;
};

struct _OtcRecording
{
  OtcRouterMedia *media;
  gchar *id;
  gchar *path;
  GstElement *bin;
  GstElement *mux;
  GPtrArray *inputs;            /* OtcOutput */
  GMutex lock;
  GCond cond;
  gboolean eos;                 /* EOS reached the file sink */
  gchar *error;                 /* first error posted from the bin */
};

typedef struct
{
  OtcMediaLeg *leg;
  guint mline;
  gchar *candidate;
} CandidateEvent;

typedef struct
{
  OtcMediaLeg *leg;
  gchar *reason;
} LegEvent;

typedef struct
{
  OtcMediaLeg *leg;
  gchar *type;
  gchar *sdp;
} DescriptionEvent;

static void leg_teardown (OtcMediaLeg * leg);
static void leg_fail (OtcMediaLeg * leg, const gchar * reason);
static void leg_notify_closed (OtcMediaLeg * leg, const gchar * reason);
static gboolean subscriber_negotiate (OtcMediaLeg * leg, GError ** error);
static void subscriber_link_outputs (OtcMediaLeg * leg);
static void recording_input_finish (OtcOutput * input);
static void output_unref (OtcOutput * output);

G_DEFINE_QUARK (otc-router-media-error-quark, otc_router_media_error);

G_DEFINE_QUARK (otc-router-recording, recording);

/* ------------------------------------------------------------------------ */
/* reference counting and dispatch */

static OtcRouterMedia *
media_ref (OtcRouterMedia * media)
{
  g_atomic_int_inc (&media->refcount);
  return media;
}

static void
media_unref (OtcRouterMedia * media)
{
  if (!g_atomic_int_dec_and_test (&media->refcount))
    return;
  g_hash_table_unref (media->publishers);
  g_hash_table_unref (media->recordings);
  g_list_free_full (media->ice_inet_addresses, g_object_unref);
  g_strfreev (media->ice_addresses);
  g_main_context_unref (media->context);
  g_mutex_clear (&media->lock);
  g_free (media);
}

static OtcMediaLeg *
leg_ref (OtcMediaLeg * leg)
{
  g_atomic_int_inc (&leg->refcount);
  return leg;
}

static void leg_unref (OtcMediaLeg * leg);

static gpointer
leg_copy (gconstpointer leg, gpointer unused)
{
  return leg_ref ((OtcMediaLeg *) leg);
}

static void
leg_closure_notify (gpointer leg, GClosure * closure)
{
  leg_unref (leg);
}

static void
stream_free (OtcPublisherStream * stream)
{
  g_assert (stream->trailing_request == NULL);
  gst_clear_caps (&stream->caps);
  gst_clear_object (&stream->src_pad);
  gst_clear_object (&stream->tee);
  g_free (stream);
}

static void
leg_unref (OtcMediaLeg * leg)
{
  CandidateEvent *ev;

  if (!g_atomic_int_dec_and_test (&leg->refcount))
    return;
  GST_DEBUG ("freeing leg %s", leg->name);
  while ((ev = g_queue_pop_head (&leg->pending_candidates))) {
    g_free (ev->candidate);
    g_free (ev);
  }
  if (leg->streams)
    g_ptr_array_unref (leg->streams);
  if (leg->outputs)
    g_ptr_array_unref (leg->outputs);
  g_assert (leg->subscribers == NULL);
  if (leg->publisher)
    leg_unref (leg->publisher);
  gst_clear_object (&leg->webrtc);
  g_free (leg->stream_id);
  g_free (leg->name);
  media_unref (leg->media);
  g_free (leg);
}

/* Runs @func on the media's context, never inline: callers may hold locks
 * or be on a webrtcbin thread. */
static void
media_dispatch (OtcRouterMedia * media, GSourceFunc func, gpointer data,
    GDestroyNotify notify)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "otc-router-media");
  g_source_attach (source, media->context);
  g_source_unref (source);
}

static void
leg_event_free (LegEvent * ev)
{
  leg_unref (ev->leg);
  g_free (ev->reason);
  g_free (ev);
}

static gboolean
leg_fail_cb (LegEvent * ev)
{
  leg_fail (ev->leg, ev->reason);
  return G_SOURCE_REMOVE;
}

/* From any thread: the leg is gone for @reason. */
static void
leg_fail_async (OtcMediaLeg * leg, const gchar * reason)
{
  LegEvent *ev = g_new0 (LegEvent, 1);

  ev->leg = leg_ref (leg);
  ev->reason = g_strdup (reason);
  media_dispatch (leg->media, (GSourceFunc) leg_fail_cb, ev,
      (GDestroyNotify) leg_event_free);
}

/* ------------------------------------------------------------------------ */
/* SDP */

static gboolean
sdp_parse (const gchar * text, GstSDPMessage ** msg, GError ** error)
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

/* The payload type of @encoding (case-insensitive) at @clock_rate, or -1. */
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
    gboolean match = FALSE;

    if (end == fmt || *end != '\0' || pt < 0 || pt > 127)
      continue;
    rtpmap = gst_sdp_media_get_attribute_val_n (media, "rtpmap", 0);
    /* find this pt's rtpmap */
    {
      guint j;

      rtpmap = NULL;
      for (j = 0; j < gst_sdp_media_attributes_len (media); j++) {
        const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, j);
        gchar *aend = NULL;

        if (g_strcmp0 (a->key, "rtpmap") != 0 || a->value == NULL)
          continue;
        if (g_ascii_strtoll (a->value, &aend, 10) == pt && aend != a->value
            && *aend == ' ') {
          rtpmap = aend + 1;
          break;
        }
      }
    }
    if (rtpmap == NULL)
      continue;
    parts = g_strsplit (rtpmap, "/", 3);
    if (parts[0] && parts[1] && g_ascii_strcasecmp (parts[0], encoding) == 0
        && atoi (parts[1]) == clock_rate)
      match = TRUE;
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
forward_caps_from_media (const GstSDPMedia * media, gint pt,
    gboolean * use_fir)
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
static GstSDPMessage *
publisher_offer_filter (const GstSDPMessage * offer, GPtrArray * streams,
    GError ** error)
{
  GstSDPMessage *out = NULL;
  guint i;

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
    gchar pt_str[8];

    if (g_strcmp0 (kind, "video") == 0) {
      is_video = TRUE;
      pt = sdp_media_find_codec (m, "VP8", 90000);
    } else if (g_strcmp0 (kind, "audio") == 0) {
      is_video = FALSE;
      pt = sdp_media_find_codec (m, "opus", 48000);
    } else {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNSUPPORTED_MEDIA,
          "m-line %u: media \"%s\" is not audio or video", i,
          kind ? kind : "");
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
    g_snprintf (pt_str, sizeof (pt_str), "%d", pt);
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

/* ------------------------------------------------------------------------ */
/* webrtcbin helpers */

/* Waits for a webrtcbin promise; FALSE with @error if it reported one. */
static gboolean
promise_wait_reply (GstPromise * promise, const gchar * what,
    GstStructure ** reply_out, GError ** error)
{
  GstPromiseResult res = gst_promise_wait (promise);
  const GstStructure *reply;
  GError *err = NULL;

  if (reply_out)
    *reply_out = NULL;
  if (res != GST_PROMISE_RESULT_REPLIED) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "%s: no reply from webrtcbin", what);
    return FALSE;
  }
  reply = gst_promise_get_reply (promise);
  if (reply && gst_structure_has_field (reply, "error")) {
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, NULL);
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP, "%s: %s", what,
        err ? err->message : "failed");
    g_clear_error (&err);
    return FALSE;
  }
  if (reply_out && reply)
    *reply_out = gst_structure_copy (reply);
  return TRUE;
}

static gboolean
webrtc_set_description (GstElement * webrtc, const gchar * signal,
    GstWebRTCSDPType type, const GstSDPMessage * sdp, GError ** error)
{
  GstSDPMessage *copy = NULL;
  GstWebRTCSessionDescription *desc;
  GstPromise *promise = gst_promise_new ();
  gboolean ok;

  gst_sdp_message_copy (sdp, &copy);
  desc = gst_webrtc_session_description_new (type, copy);
  g_signal_emit_by_name (webrtc, signal, desc, promise);
  ok = promise_wait_reply (promise, signal, NULL, error);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (desc);
  return ok;
}

/* create-offer / create-answer, then set-local-description. */
static gchar *
webrtc_create_local (GstElement * webrtc, GstWebRTCSDPType type,
    GError ** error)
{
  const gchar *what = type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer";
  gchar *signal = g_strdup_printf ("create-%s", what);
  GstPromise *promise = gst_promise_new ();
  GstStructure *reply = NULL;
  GstWebRTCSessionDescription *desc = NULL;
  gchar *text = NULL;

  g_signal_emit_by_name (webrtc, signal, NULL, promise);
  if (!promise_wait_reply (promise, signal, &reply, error))
    goto done;
  if (reply == NULL || !gst_structure_get (reply, what,
          GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL) || desc == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "webrtcbin made no %s", what);
    goto done;
  }
  if (!webrtc_set_description (webrtc, "set-local-description", type,
          desc->sdp, error))
    goto done;
  text = gst_sdp_message_as_text (desc->sdp);

done:
  if (desc)
    gst_webrtc_session_description_free (desc);
  if (reply)
    gst_structure_free (reply);
  gst_promise_unref (promise);
  g_free (signal);
  return text;
}

/* ICE only on the configured addresses, UDP only, no STUN/TURN. */
static gboolean
webrtc_restrict_ice (OtcRouterMedia * media, GstElement * webrtc,
    GError ** error)
{
  GObject *ice = NULL;
  GObject *agent = NULL;
  GParamSpec *pspec;
  gchar **a;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  pspec = ice ? g_object_class_find_property (G_OBJECT_GET_CLASS (ice),
      "agent") : NULL;
  if (pspec == NULL || pspec->value_type != NICE_TYPE_AGENT) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "webrtcbin's ICE agent is not libnice's: cannot restrict addresses");
    g_clear_object (&ice);
    return FALSE;
  }
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "ice-tcp"))
    g_object_set (ice, "ice-tcp", FALSE, NULL);
  g_object_get (ice, "agent", &agent, NULL);
  for (a = media->ice_addresses; *a; a++) {
    NiceAddress addr;

    nice_address_init (&addr);
    if (!nice_address_set_from_string (&addr, *a)
        || !nice_agent_add_local_address (NICE_AGENT (agent), &addr)) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "ICE address %s refused", *a);
      g_object_unref (agent);
      g_object_unref (ice);
      return FALSE;
    }
  }
  g_object_unref (agent);
  g_object_unref (ice);
  return TRUE;
}

/* "candidate:F C udp PRIO ADDRESS PORT typ ..." -> is ADDRESS allowed? */
static gboolean
candidate_address_allowed (OtcRouterMedia * media, const gchar * candidate)
{
  gchar **parts = g_strsplit (candidate, " ", 7);
  GInetAddress *addr = NULL;
  gboolean ok = FALSE;
  GList *l;

  if (g_strv_length (parts) >= 6)
    addr = g_inet_address_new_from_string (parts[4]);
  for (l = media->ice_inet_addresses; addr && l && !ok; l = l->next)
    ok = g_inet_address_equal (addr, l->data);
  g_clear_object (&addr);
  g_strfreev (parts);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* callbacks to the caller (context thread) */

static void
leg_deliver_candidate (OtcMediaLeg * leg, CandidateEvent * ev)
{
  if (leg->user_closed || leg->closed_notified || leg->media->shut_down)
    return;
  if (leg->callbacks.local_candidate)
    leg->callbacks.local_candidate (leg, ev->mline, ev->candidate,
        leg->user_data);
}

static gboolean
candidate_cb (CandidateEvent * ev)
{
  OtcMediaLeg *leg = ev->leg;

  if (!leg->description_sent) {
    CandidateEvent *copy = g_new0 (CandidateEvent, 1);

    copy->mline = ev->mline;
    copy->candidate = g_strdup (ev->candidate);
    g_queue_push_tail (&leg->pending_candidates, copy);
    return G_SOURCE_REMOVE;
  }
  leg_deliver_candidate (leg, ev);
  return G_SOURCE_REMOVE;
}

static void
candidate_event_destroy (CandidateEvent * ev)
{
  leg_unref (ev->leg);
  g_free (ev->candidate);
  g_free (ev);
}

static gboolean
description_cb (DescriptionEvent * ev)
{
  OtcMediaLeg *leg = ev->leg;
  CandidateEvent *c;

  if (leg->user_closed || leg->closed_notified || leg->media->shut_down)
    return G_SOURCE_REMOVE;
  leg->description_sent = TRUE;
  if (leg->callbacks.local_description)
    leg->callbacks.local_description (leg, ev->type, ev->sdp, leg->user_data);
  while ((c = g_queue_pop_head (&leg->pending_candidates))) {
    leg_deliver_candidate (leg, c);
    g_free (c->candidate);
    g_free (c);
  }
  return G_SOURCE_REMOVE;
}

static void
description_event_free (DescriptionEvent * ev)
{
  leg_unref (ev->leg);
  g_free (ev->type);
  g_free (ev->sdp);
  g_free (ev);
}

static void
leg_dispatch_description (OtcMediaLeg * leg, const gchar * type, gchar * sdp)
{
  DescriptionEvent *ev = g_new0 (DescriptionEvent, 1);

  ev->leg = leg_ref (leg);
  ev->type = g_strdup (type);
  ev->sdp = sdp;
  media_dispatch (leg->media, (GSourceFunc) description_cb, ev,
      (GDestroyNotify) description_event_free);
}

/* The caller's closed callback, at most once and never after the caller
 * closed the leg. The caller's handle is released afterwards. */
static void
leg_notify_closed (OtcMediaLeg * leg, const gchar * reason)
{
  if (leg->user_closed || leg->closed_notified)
    return;
  leg->closed_notified = TRUE;
  GST_INFO ("leg %s closed: %s", leg->name, reason);
  leg_ref (leg);
  if (leg->callbacks.closed && !leg->media->shut_down)
    leg->callbacks.closed (leg, reason, leg->user_data);
  /* otc_media_leg_close() from inside the callback released it already */
  if (!leg->user_closed) {
    leg->user_closed = TRUE;
    leg_unref (leg);
  }
  leg_unref (leg);
}

static gboolean
notify_closed_cb (LegEvent * ev)
{
  leg_notify_closed (ev->leg, ev->reason);
  return G_SOURCE_REMOVE;
}

static void
leg_notify_closed_async (OtcMediaLeg * leg, const gchar * reason)
{
  LegEvent *ev = g_new0 (LegEvent, 1);

  ev->leg = leg_ref (leg);
  ev->reason = g_strdup (reason);
  media_dispatch (leg->media, (GSourceFunc) notify_closed_cb, ev,
      (GDestroyNotify) leg_event_free);
}

/* Context thread: tear the leg down and tell the caller. */
static void
leg_fail (OtcMediaLeg * leg, const gchar * reason)
{
  if (leg->user_closed || leg->closed_notified)
    return;
  leg_teardown (leg);
  leg_notify_closed (leg, reason);
}

/* ------------------------------------------------------------------------ */
/* webrtcbin signal handlers (webrtcbin / libnice threads) */

static void
on_ice_candidate (GstElement * webrtc, guint mline, const gchar * candidate,
    OtcMediaLeg * leg)
{
  CandidateEvent *ev;

  if (candidate == NULL)
    return;
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (!candidate_address_allowed (leg->media, candidate)) {
    GST_WARNING ("leg %s: dropping candidate outside the ICE addresses: %s",
        leg->name, candidate);
    return;
  }
  GST_LOG ("leg %s: local candidate %u %s", leg->name, mline, candidate);
  ev = g_new0 (CandidateEvent, 1);
  ev->leg = leg_ref (leg);
  ev->mline = mline;
  ev->candidate = g_strdup (candidate);
  media_dispatch (leg->media, (GSourceFunc) candidate_cb, ev,
      (GDestroyNotify) candidate_event_destroy);
}

static void
on_connection_state (GstElement * webrtc, GParamSpec * pspec,
    OtcMediaLeg * leg)
{
  GstWebRTCPeerConnectionState state;

  g_object_get (webrtc, "connection-state", &state, NULL);
  GST_DEBUG ("leg %s: connection state %d", leg->name, state);
  switch (state) {
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED:
      g_atomic_int_set (&leg->connected, 1);
      break;
    case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED:
      leg_fail_async (leg, "connection failed (ICE or DTLS)");
      break;
    default:
      break;
  }
}

/* ------------------------------------------------------------------------ */
/* key frame requests */

static void
stream_send_keyframe_request (OtcPublisherStream * stream, GstPad * src_pad,
    guint32 ssrc)
{
  GstEvent *event;
  GstStructure *s;

  /* rtpsession turns it into a PLI (FIR with all-headers) only with the
   * ssrc and payload fields that rtpssrcdemux/rtpptdemux would add */
  event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
      stream->use_fir, 0);
  s = gst_event_writable_structure (event);
  gst_structure_set (s, "ssrc", G_TYPE_UINT, ssrc, "payload", G_TYPE_UINT,
      stream->pt, NULL);
  GST_DEBUG ("leg %s m-line %u: requesting a key frame (ssrc %u)",
      stream->leg->name, stream->mline, ssrc);
  gst_pad_send_event (src_pad, event);
}

static gboolean
trailing_request_cb (OtcPublisherStream * stream)
{
  OtcRouterMedia *media = stream->leg->media;
  GstPad *pad = NULL;
  guint32 ssrc = 0;

  g_mutex_lock (&media->lock);
  if (stream->trailing_request) {
    g_source_unref (stream->trailing_request);
    stream->trailing_request = NULL;
  }
  if (!stream->leg->closing && stream->src_pad) {
    stream->last_keyframe_request = g_get_monotonic_time ();
    stream->kf_sent++;
    pad = gst_object_ref (stream->src_pad);
    ssrc = stream->ssrc;
  }
  g_mutex_unlock (&media->lock);
  if (pad) {
    stream_send_keyframe_request (stream, pad, ssrc);
    gst_object_unref (pad);
  }
  return G_SOURCE_REMOVE;
}

/* Any thread: ask the publisher for a key frame, at most once per
 * interval; a request inside the interval is sent when it ends. */
static void
stream_request_keyframe (OtcPublisherStream * stream, const gchar * why)
{
  OtcRouterMedia *media = stream->leg->media;
  gint64 now = g_get_monotonic_time ();
  const gint64 interval = OTC_ROUTER_MEDIA_KEYFRAME_INTERVAL_MS * 1000;
  GstPad *pad = NULL;
  guint32 ssrc = 0;

  if (!stream->is_video)
    return;
  g_mutex_lock (&media->lock);
  if (stream->leg->closing || stream->src_pad == NULL) {
    g_mutex_unlock (&media->lock);
    return;
  }
  stream->kf_requests++;
  if (stream->last_keyframe_request == 0
      || now - stream->last_keyframe_request >= interval) {
    stream->last_keyframe_request = now;
    stream->kf_sent++;
    pad = gst_object_ref (stream->src_pad);
    ssrc = stream->ssrc;
  } else {
    stream->kf_throttled++;
    if (stream->trailing_request == NULL) {
      GSource *s = g_timeout_source_new ((interval -
              (now - stream->last_keyframe_request)) / 1000 + 1);

      g_source_set_callback (s, (GSourceFunc) trailing_request_cb, stream,
          NULL);
      g_source_attach (s, media->context);
      stream->trailing_request = s;
    }
  }
  g_mutex_unlock (&media->lock);
  GST_LOG ("leg %s m-line %u: key frame request (%s)%s", stream->leg->name,
      stream->mline, why, pad ? "" : ", throttled");
  if (pad) {
    stream_send_keyframe_request (stream, pad, ssrc);
    gst_object_unref (pad);
  }
}

/* ------------------------------------------------------------------------ */
/* forwarding */

static gboolean
stream_ready_cb (LegEvent * ev)
{
  OtcMediaLeg *pub = ev->leg;
  OtcRouterMedia *media = pub->media;
  GList *subs, *l;

  if (pub->torn_down)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&media->lock);
  subs = g_list_copy_deep (pub->subscribers, leg_copy, NULL);
  g_mutex_unlock (&media->lock);
  for (l = subs; l; l = l->next) {
    OtcMediaLeg *sub = l->data;
    GError *err = NULL;

    if (sub->torn_down)
      continue;
    if (!sub->offer_made) {
      if (!subscriber_negotiate (sub, &err)) {
        leg_fail (sub, err->message);
        g_clear_error (&err);
        continue;
      }
    }
    subscriber_link_outputs (sub);
  }
  g_list_free_full (subs, (GDestroyNotify) leg_unref);
  return G_SOURCE_REMOVE;
}

static void
stream_ready_async (OtcPublisherStream * stream)
{
  LegEvent *ev = g_new0 (LegEvent, 1);

  ev->leg = leg_ref (stream->leg);
  media_dispatch (stream->leg->media, (GSourceFunc) stream_ready_cb, ev,
      (GDestroyNotify) leg_event_free);
}

/* Tee sink pad: caps going down become the stream's forward caps (with
 * the SSRC actually received); key frame requests coming up are merged
 * and sent as one PLI; retransmission requests stop here. */
static GstPadProbeReturn
tee_sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcPublisherStream *stream = user_data;
  OtcRouterMedia *media = stream->leg->media;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    const GstStructure *s;
    guint ssrc;
    gboolean newly_known = FALSE;

    gst_event_parse_caps (event, &caps);
    s = gst_caps_get_structure (caps, 0);
    g_mutex_lock (&media->lock);
    if (gst_structure_get_uint (s, "ssrc", &ssrc)
        && (!stream->ssrc_known || ssrc != stream->ssrc)) {
      if (stream->ssrc_known)
        GST_WARNING ("leg %s m-line %u: SSRC %u received, %u signalled",
            stream->leg->name, stream->mline, ssrc, stream->ssrc);
      newly_known = !stream->ssrc_known;
      stream->ssrc = ssrc;
      stream->ssrc_known = TRUE;
      stream->caps = gst_caps_make_writable (stream->caps);
      gst_caps_set_simple (stream->caps, "ssrc", G_TYPE_UINT, ssrc, NULL);
    }
    caps = gst_caps_ref (stream->caps);
    g_mutex_unlock (&media->lock);
    GST_DEBUG ("leg %s m-line %u: forwarding caps %" GST_PTR_FORMAT,
        stream->leg->name, stream->mline, caps);
    gst_event_unref (event);
    GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_caps (caps);
    gst_caps_unref (caps);
    if (newly_known)
      stream_ready_async (stream);
    return GST_PAD_PROBE_OK;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM) {
    if (gst_video_event_is_force_key_unit (event)) {
      stream_request_keyframe (stream, "downstream");
      return GST_PAD_PROBE_DROP;
    }
    if (gst_event_has_name (event, "GstRTPRetransmissionRequest"))
      return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

/* Tee src pad of an output: buffers go to the output's sink pad here, so
 * that a failing or departing subscriber (or recording) returns OK to the
 * tee and cannot stop the publisher's stream for everybody else; a
 * subscriber gets nothing until its connection is up. */
static GstPadProbeReturn
output_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcOutput *out = user_data;
  GstFlowReturn ret;

  /* not linked yet: the sticky events stayed on the tee pad */
  if (!g_atomic_int_get (&out->linked) || g_atomic_int_get (&out->failed))
    return GST_PAD_PROBE_DROP;
  if (out->leg && !g_atomic_int_get (&out->leg->connected))
    return GST_PAD_PROBE_DROP;
  if (!g_atomic_int_get (&out->started)) {
    g_atomic_int_set (&out->started, 1);
    if (out->leg) {
      GST_INFO ("leg %s: media starts on output %u", out->leg->name,
          out->stream_index);
      stream_request_keyframe (g_ptr_array_index (out->publisher->streams,
              out->stream_index), "new subscriber");
    }
  }
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    ret = gst_pad_chain_list (out->sink_pad,
        GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  else
    ret = gst_pad_chain (out->sink_pad, GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING
      && ret != GST_FLOW_NOT_LINKED && out->leg
      && g_atomic_int_compare_and_exchange (&out->failed, 0, 1)) {
    gchar *reason = g_strdup_printf ("forwarding failed: %s",
        gst_flow_get_name (ret));

    GST_WARNING ("leg %s: %s", out->leg->name, reason);
    leg_fail_async (out->leg, reason);
    g_free (reason);
  } else if (ret != GST_FLOW_OK && out->leg == NULL) {
    /* a recording input that ended or failed */
    g_atomic_int_set (&out->failed, 1);
  }
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GST_FLOW_OK;
  return GST_PAD_PROBE_HANDLED;
}

static OtcOutput *
output_ref (OtcOutput * out)
{
  g_atomic_int_inc (&out->refcount);
  return out;
}

static void
output_unref (OtcOutput * out)
{
  if (!g_atomic_int_dec_and_test (&out->refcount))
    return;
  g_assert (out->tee_pad == NULL);
  gst_clear_object (&out->sink_pad);
  if (out->leg)
    leg_unref (out->leg);
  leg_unref (out->publisher);
  g_free (out);
}

static OtcOutput *
output_new (OtcMediaLeg * publisher, guint stream_index, OtcMediaLeg * leg,
    GstPad * sink_pad)
{
  OtcOutput *out = g_new0 (OtcOutput, 1);

  out->refcount = 1;
  out->publisher = leg_ref (publisher);
  out->leg = leg ? leg_ref (leg) : NULL;
  out->stream_index = stream_index;
  out->sink_pad = gst_object_ref (sink_pad);
  return out;
}

/* Context thread: requests a tee pad and links it to @out->sink_pad. */
static gboolean
output_link (OtcOutput * out)
{
  OtcRouterMedia *media = out->publisher->media;
  OtcPublisherStream *stream = g_ptr_array_index (out->publisher->streams,
      out->stream_index);
  GstElement *tee = NULL;
  GstPad *tee_pad;

  if (out->tee_pad)
    return TRUE;
  g_mutex_lock (&media->lock);
  if (stream->tee && !out->publisher->closing)
    tee = gst_object_ref (stream->tee);
  g_mutex_unlock (&media->lock);
  if (tee == NULL)
    return FALSE;
  tee_pad = gst_element_request_pad_simple (tee, "src_%u");
  gst_pad_add_probe (tee_pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, output_probe, output_ref (out),
      (GDestroyNotify) output_unref);
  if (gst_pad_link (tee_pad, out->sink_pad) != GST_PAD_LINK_OK) {
    GST_WARNING ("could not link %" GST_PTR_FORMAT " to %" GST_PTR_FORMAT,
        tee_pad, out->sink_pad);
    gst_element_release_request_pad (tee, tee_pad);
    gst_object_unref (tee_pad);
    gst_object_unref (tee);
    return FALSE;
  }
  out->tee_pad = tee_pad;
  g_atomic_int_set (&out->linked, 1);
  gst_object_unref (tee);
  return TRUE;
}

/* Context thread: the tee pad goes first, so that a push in flight to a
 * departing output is ignored by the tee. */
static void
output_unlink (OtcOutput * out)
{
  GstElement *tee;

  if (out->tee_pad == NULL)
    return;
  g_atomic_int_set (&out->linked, 0);
  tee = gst_pad_get_parent_element (out->tee_pad);
  gst_pad_unlink (out->tee_pad, out->sink_pad);
  if (tee) {
    gst_element_release_request_pad (tee, out->tee_pad);
    gst_object_unref (tee);
  }
  gst_clear_object (&out->tee_pad);
}


/* Publisher webrtcbin: a src pad per received stream (streaming thread).
 * The tee is linked here, before the first buffer. */
static void
on_publisher_pad_added (GstElement * webrtc, GstPad * pad, OtcMediaLeg * leg)
{
  OtcRouterMedia *media = leg->media;
  GObject *trans = NULL;
  guint mline = G_MAXUINT;
  OtcPublisherStream *stream = NULL;
  GstElement *tee = NULL, *sink = NULL;
  GstPad *teesink;
  gchar *name;
  guint i;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (pad), "transceiver"))
    g_object_get (pad, "transceiver", &trans, NULL);
  if (trans) {
    g_object_get (trans, "mlineindex", &mline, NULL);
    g_object_unref (trans);
  }

  g_mutex_lock (&media->lock);
  if (leg->closing) {
    g_mutex_unlock (&media->lock);
    return;
  }
  for (i = 0; i < leg->streams->len; i++) {
    OtcPublisherStream *s = g_ptr_array_index (leg->streams, i);

    if (s->mline == mline && s->tee == NULL)
      stream = s;
  }
  if (stream) {
    name = g_strdup_printf ("%s-tee%u", leg->name, mline);
    tee = gst_element_factory_make ("tee", name);
    g_free (name);
    g_object_set (tee, "allow-not-linked", TRUE, NULL);
    stream->tee = gst_object_ref (tee);
    stream->src_pad = gst_object_ref (pad);
  } else {
    /* an unexpected extra stream: swallow it */
    sink = gst_element_factory_make ("fakesink", NULL);
    g_object_set (sink, "async", FALSE, "sync", FALSE, NULL);
    leg->extra_sinks = g_list_prepend (leg->extra_sinks,
        gst_object_ref (sink));
  }
  g_mutex_unlock (&media->lock);

  if (stream) {
    GST_INFO ("leg %s: media on m-line %u (%s)", leg->name, mline,
        GST_PAD_NAME (pad));
    teesink = gst_element_get_static_pad (tee, "sink");
    gst_pad_add_probe (teesink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
        GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, tee_sink_probe, stream, NULL);
    gst_bin_add (GST_BIN (media->pipeline), tee);
    gst_element_sync_state_with_parent (tee);
    if (gst_pad_link (pad, teesink) != GST_PAD_LINK_OK)
      GST_ERROR ("leg %s: could not link %s to its tee", leg->name,
          GST_PAD_NAME (pad));
    gst_object_unref (teesink);
    stream_ready_async (stream);
  } else {
    GST_WARNING ("leg %s: ignoring unexpected stream %s (m-line %d)",
        leg->name, GST_PAD_NAME (pad), (gint) mline);
    teesink = gst_element_get_static_pad (sink, "sink");
    gst_bin_add (GST_BIN (media->pipeline), sink);
    gst_element_sync_state_with_parent (sink);
    gst_pad_link (pad, teesink);
    gst_object_unref (teesink);
  }
}

/* ------------------------------------------------------------------------ */
/* legs */

static OtcMediaLeg *
leg_new (OtcRouterMedia * media, OtcLegRole role, const gchar * stream_id,
    const OtcMediaLegCallbacks * callbacks, gpointer user_data,
    GError ** error)
{
  OtcMediaLeg *leg = g_new0 (OtcMediaLeg, 1);
  guint serial;

  /* one ref for the caller's handle, one for media->legs */
  leg->refcount = 2;
  leg->media = media_ref (media);
  leg->role = role;
  leg->stream_id = g_strdup (stream_id);
  if (callbacks)
    leg->callbacks = *callbacks;
  leg->user_data = user_data;
  g_queue_init (&leg->pending_candidates);
  serial = media->leg_serial++;
  leg->name = g_strdup_printf ("%s%u", role == LEG_PUBLISHER ? "pub" : "sub",
      serial);

  leg->webrtc = gst_element_factory_make ("webrtcbin", leg->name);
  if (leg->webrtc == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "no webrtcbin element (gst-plugins-bad)");
    leg->refcount = 1;
    leg_unref (leg);
    return NULL;
  }
  gst_object_ref_sink (leg->webrtc);
  g_object_set (leg->webrtc, "bundle-policy",
      GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", DEFAULT_LATENCY_MS,
      NULL);
  if (!webrtc_restrict_ice (media, leg->webrtc, error)) {
    leg->refcount = 1;
    leg_unref (leg);
    return NULL;
  }
  g_signal_connect_data (leg->webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), leg_ref (leg),
      leg_closure_notify, 0);
  g_signal_connect_data (leg->webrtc, "notify::connection-state",
      G_CALLBACK (on_connection_state), leg_ref (leg),
      leg_closure_notify, 0);

  g_mutex_lock (&media->lock);
  media->legs = g_list_prepend (media->legs, leg);
  g_mutex_unlock (&media->lock);
  return leg;
}

static gboolean
leg_start (OtcMediaLeg * leg, GError ** error)
{
  gst_bin_add (GST_BIN (leg->media->pipeline), leg->webrtc);
  if (gst_element_sync_state_with_parent (leg->webrtc) == FALSE
      || gst_element_get_state (leg->webrtc, NULL, NULL, 0) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "webrtcbin did not start");
    return FALSE;
  }
  return TRUE;
}

static void
element_remove (OtcRouterMedia * media, GstElement * element)
{
  gst_element_set_locked_state (element, TRUE);
  gst_element_set_state (element, GST_STATE_NULL);
  if (GST_OBJECT_PARENT (element) == GST_OBJECT (media->pipeline))
    gst_bin_remove (GST_BIN (media->pipeline), element);
}

/* Context thread. Idempotent; does not call the caller. */
static void
leg_teardown (OtcMediaLeg * leg)
{
  OtcRouterMedia *media = leg->media;
  GList *subs = NULL, *l;
  GList *extra = NULL;
  guint i;

  if (leg->torn_down)
    return;
  leg->torn_down = TRUE;
  GST_INFO ("tearing down leg %s (%s)", leg->name, leg->stream_id);

  g_mutex_lock (&media->lock);
  leg->closing = TRUE;
  media->legs = g_list_remove (media->legs, leg);
  if (leg->role == LEG_PUBLISHER) {
    if (g_hash_table_lookup (media->publishers, leg->stream_id) == leg)
      g_hash_table_remove (media->publishers, leg->stream_id);
    subs = leg->subscribers;
    leg->subscribers = NULL;
  } else if (leg->publisher) {
    GList *link = g_list_find (leg->publisher->subscribers, leg);

    if (link) {
      leg->publisher->subscribers =
          g_list_delete_link (leg->publisher->subscribers, link);
      leg_unref (leg);
    }
  }
  g_mutex_unlock (&media->lock);

  if (leg->role == LEG_PUBLISHER) {
    GHashTableIter it;
    gpointer value;

    for (l = subs; l; l = l->next) {
      leg_teardown (l->data);
      leg_notify_closed_async (l->data, "the publisher left");
      leg_unref (l->data);
    }
    g_list_free (subs);
    /* recordings of this publisher: their inputs end */
    g_hash_table_iter_init (&it, media->recordings);
    while (g_hash_table_iter_next (&it, NULL, &value)) {
      OtcRecording *rec = value;

      for (i = 0; i < rec->inputs->len; i++) {
        OtcOutput *in = g_ptr_array_index (rec->inputs, i);

        if (in->publisher == leg)
          recording_input_finish (in);
      }
    }
  } else if (leg->outputs) {
    for (i = 0; i < leg->outputs->len; i++)
      output_unlink (g_ptr_array_index (leg->outputs, i));
    /* the outputs hold the leg */
    g_ptr_array_set_size (leg->outputs, 0);
  }

  if (GST_OBJECT_PARENT (leg->webrtc))
    element_remove (media, leg->webrtc);

  if (leg->role == LEG_PUBLISHER) {
    for (i = 0; i < leg->streams->len; i++) {
      OtcPublisherStream *stream = g_ptr_array_index (leg->streams, i);
      GSource *trailing;

      g_mutex_lock (&media->lock);
      trailing = stream->trailing_request;
      stream->trailing_request = NULL;
      g_mutex_unlock (&media->lock);
      if (trailing) {
        g_source_destroy (trailing);
        g_source_unref (trailing);
      }
      if (stream->tee)
        element_remove (media, stream->tee);
    }
    g_mutex_lock (&media->lock);
    extra = leg->extra_sinks;
    leg->extra_sinks = NULL;
    g_mutex_unlock (&media->lock);
    for (l = extra; l; l = l->next)
      element_remove (media, l->data);
    g_list_free_full (extra, gst_object_unref);
  }
  g_signal_handlers_disconnect_by_func (leg->webrtc, on_ice_candidate, leg);
  g_signal_handlers_disconnect_by_func (leg->webrtc, on_connection_state,
      leg);
  g_signal_handlers_disconnect_by_func (leg->webrtc, on_publisher_pad_added,
      leg);
  /* media->legs' ref */
  leg_unref (leg);
}

/* ------------------------------------------------------------------------ */
/* bus (posting threads) */

static gboolean
recalculate_latency_cb (OtcRouterMedia * media)
{
  if (!media->shut_down)
    gst_bin_recalculate_latency (GST_BIN (media->pipeline));
  return G_SOURCE_REMOVE;
}

/* The live leg that @object is an element of, or NULL. */
static OtcMediaLeg *
media_find_leg_locked (OtcRouterMedia * media, GstObject * object)
{
  GList *l, *e;
  guint i;

  for (l = media->legs; l; l = l->next) {
    OtcMediaLeg *leg = l->data;

    if (object == GST_OBJECT (leg->webrtc))
      return leg;
    for (i = 0; leg->streams && i < leg->streams->len; i++) {
      OtcPublisherStream *stream = g_ptr_array_index (leg->streams, i);

      if (stream->tee && object == GST_OBJECT (stream->tee))
        return leg;
    }
    for (e = leg->extra_sinks; e; e = e->next)
      if (object == e->data)
        return leg;
  }
  return NULL;
}

static void
recording_set_error (OtcRouterMedia * media, const gchar * id,
    const gchar * message)
{
  OtcRecording *rec;

  g_mutex_lock (&media->lock);
  rec = g_hash_table_lookup (media->recordings, id);
  if (rec) {
    g_mutex_lock (&rec->lock);
    if (rec->error == NULL)
      rec->error = g_strdup (message);
    g_cond_broadcast (&rec->cond);
    g_mutex_unlock (&rec->lock);
  }
  g_mutex_unlock (&media->lock);
}

/* Errors close the leg (or fail the recording) they come from; nothing is
 * left on the bus. */
static GstBusSyncReply
bus_sync_handler (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  OtcRouterMedia *media = user_data;
  GstObject *o;
  GError *err = NULL;
  gchar *dbg = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &dbg);
      GST_WARNING ("error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          err->message, dbg ? dbg : "");
      o = gst_object_ref (GST_MESSAGE_SRC (msg));
      while (o) {
        OtcMediaLeg *leg;
        const gchar *rec_id;
        GstObject *parent;

        g_mutex_lock (&media->lock);
        leg = media_find_leg_locked (media, o);
        if (leg)
          leg_ref (leg);
        g_mutex_unlock (&media->lock);
        if (leg) {
          leg_fail_async (leg, err->message);
          leg_unref (leg);
          gst_object_unref (o);
          break;
        }
        rec_id = g_object_get_qdata (G_OBJECT (o), recording_quark ());
        if (rec_id) {
          recording_set_error (media, rec_id, err->message);
          gst_object_unref (o);
          break;
        }
        parent = gst_object_get_parent (o);
        gst_object_unref (o);
        o = parent;
      }
      g_clear_error (&err);
      g_free (dbg);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &err, &dbg);
      GST_WARNING ("warning from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          err->message, dbg ? dbg : "");
      g_clear_error (&err);
      g_free (dbg);
      break;
    case GST_MESSAGE_LATENCY:
      media_dispatch (media, (GSourceFunc) recalculate_latency_cb,
          media_ref (media), (GDestroyNotify) media_unref);
      break;
    default:
      break;
  }
  return GST_BUS_DROP;
}

/* ------------------------------------------------------------------------ */
/* public: media */

OtcRouterMedia *
otc_router_media_new (const gchar * const *ice_addresses, GError ** error)
{
  static const gchar *loopback[] = { "127.0.0.1", NULL };
  OtcRouterMedia *media;
  const gchar *const *a;
  GstBus *bus;

  GST_DEBUG_CATEGORY_INIT (otc_router_media_debug, "otcroutermedia", 0,
      "otc-router media legs");

  if (ice_addresses == NULL || ice_addresses[0] == NULL)
    ice_addresses = loopback;
  for (a = ice_addresses; *a; a++) {
    GInetAddress *addr = g_inet_address_new_from_string (*a);

    if (addr == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT,
          "ICE address \"%s\" is not an IP address", *a);
      return NULL;
    }
    g_object_unref (addr);
  }
  {
    GstElementFactory *f = gst_element_factory_find ("webrtcbin");

    if (f == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED,
          "no webrtcbin element (gst-plugins-bad, libnice plugin)");
      return NULL;
    }
    gst_object_unref (f);
  }

  media = g_new0 (OtcRouterMedia, 1);
  media->refcount = 1;
  g_mutex_init (&media->lock);
  media->context = g_main_context_ref_thread_default ();
  media->ice_addresses = g_strdupv ((gchar **) ice_addresses);
  for (a = ice_addresses; *a; a++)
    media->ice_inet_addresses = g_list_append (media->ice_inet_addresses,
        g_inet_address_new_from_string (*a));
  media->publishers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  media->recordings = g_hash_table_new (g_str_hash, g_str_equal);
  media->pipeline = gst_pipeline_new ("otc-router-media");
  gst_object_ref_sink (media->pipeline);
  bus = gst_element_get_bus (media->pipeline);
  gst_bus_set_sync_handler (bus, bus_sync_handler, media_ref (media),
      (GDestroyNotify) media_unref);
  gst_object_unref (bus);
  if (gst_element_set_state (media->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "could not start the media pipeline");
    gst_object_unref (media->pipeline);
    media_unref (media);
    return NULL;
  }
  return media;
}

void
otc_router_media_free (OtcRouterMedia * media)
{
  GList *legs, *l;
  GList *recs;
  GstBus *bus;

  if (media == NULL)
    return;

  recs = g_hash_table_get_keys (media->recordings);
  for (l = recs; l; l = l->next) {
    gchar *id = g_strdup (l->data);

    otc_router_media_stop_recording (media, id, NULL);
    g_free (id);
  }
  g_list_free (recs);

  g_mutex_lock (&media->lock);
  media->shut_down = TRUE;
  legs = g_list_copy_deep (media->legs, leg_copy, NULL);
  g_mutex_unlock (&media->lock);
  /* publishers first: they take their subscribers along */
  for (l = legs; l; l = l->next) {
    OtcMediaLeg *leg = l->data;

    if (leg->role == LEG_PUBLISHER)
      leg_teardown (leg);
  }
  for (l = legs; l; l = l->next) {
    OtcMediaLeg *leg = l->data;

    leg_teardown (leg);
    /* the caller's handles die with the media */
    if (!leg->user_closed) {
      leg->user_closed = TRUE;
      leg_unref (leg);
    }
  }
  g_list_free_full (legs, (GDestroyNotify) leg_unref);

  gst_element_set_state (media->pipeline, GST_STATE_NULL);
  bus = gst_element_get_bus (media->pipeline);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  gst_clear_object (&media->pipeline);
  media_unref (media);
}

/* ------------------------------------------------------------------------ */
/* public: legs */

static void
leg_abandon (OtcMediaLeg * leg)
{
  leg_teardown (leg);
  leg->user_closed = TRUE;
  leg_unref (leg);
}

OtcMediaLeg *
otc_router_media_publish (OtcRouterMedia * media, const gchar * stream_id,
    const gchar * offer_sdp, const OtcMediaLegCallbacks * callbacks,
    gpointer user_data, GError ** error)
{
  GstSDPMessage *offer = NULL, *filtered = NULL;
  GPtrArray *streams;
  OtcMediaLeg *leg = NULL;
  gchar *answer;
  guint i;

  g_return_val_if_fail (media != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (stream_id == NULL || *stream_id == '\0') {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT, "no stream id");
    return NULL;
  }
  if (!sdp_parse (offer_sdp, &offer, error))
    return NULL;
  streams = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_free);
  filtered = publisher_offer_filter (offer, streams, error);
  gst_sdp_message_free (offer);
  if (filtered == NULL) {
    g_ptr_array_unref (streams);
    return NULL;
  }

  g_mutex_lock (&media->lock);
  if (g_hash_table_contains (media->publishers, stream_id)) {
    g_mutex_unlock (&media->lock);
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_STREAM_EXISTS,
        "stream \"%s\" is already published", stream_id);
    goto fail;
  }
  g_mutex_unlock (&media->lock);

  leg = leg_new (media, LEG_PUBLISHER, stream_id, callbacks, user_data,
      error);
  if (leg == NULL)
    goto fail;
  leg->streams = streams;
  streams = NULL;
  for (i = 0; i < leg->streams->len; i++)
    ((OtcPublisherStream *) g_ptr_array_index (leg->streams, i))->leg = leg;
  g_signal_connect_data (leg->webrtc, "pad-added",
      G_CALLBACK (on_publisher_pad_added), leg_ref (leg),
      leg_closure_notify, 0);

  g_mutex_lock (&media->lock);
  g_hash_table_insert (media->publishers, g_strdup (stream_id), leg);
  g_mutex_unlock (&media->lock);

  if (!leg_start (leg, error))
    goto fail;
  if (!webrtc_set_description (leg->webrtc, "set-remote-description",
          GST_WEBRTC_SDP_TYPE_OFFER, filtered, error))
    goto fail;
  answer = webrtc_create_local (leg->webrtc, GST_WEBRTC_SDP_TYPE_ANSWER,
      error);
  if (answer == NULL)
    goto fail;
  GST_INFO ("leg %s publishes \"%s\" (%u m-lines)", leg->name, stream_id,
      leg->streams->len);
  GST_LOG ("leg %s answer:\n%s", leg->name, answer);
  leg_dispatch_description (leg, "answer", answer);
  gst_sdp_message_free (filtered);
  return leg;

fail:
  if (leg)
    leg_abandon (leg);
  if (streams)
    g_ptr_array_unref (streams);
  gst_sdp_message_free (filtered);
  return NULL;
}

/* Context thread: configure the transceivers and make the offer, once
 * every publisher stream's SSRC is known (from its SDP or its RTP). */
static gboolean
subscriber_negotiate (OtcMediaLeg * leg, GError ** error)
{
  OtcRouterMedia *media = leg->media;
  OtcMediaLeg *pub = leg->publisher;
  GPtrArray *caps = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_caps_unref);
  gboolean ready = TRUE;
  gchar *offer;
  guint i;

  if (leg->offer_made || leg->torn_down)
    goto done;
  g_mutex_lock (&media->lock);
  for (i = 0; i < pub->streams->len; i++) {
    OtcPublisherStream *stream = g_ptr_array_index (pub->streams, i);

    ready = ready && stream->ssrc_known;
    g_ptr_array_add (caps, gst_caps_ref (stream->caps));
  }
  g_mutex_unlock (&media->lock);
  if (!ready) {
    GST_DEBUG ("leg %s: waiting for the publisher's SSRCs", leg->name);
    goto done;
  }

  for (i = 0; i < leg->outputs->len; i++) {
    OtcOutput *out = g_ptr_array_index (leg->outputs, i);
    GObject *trans = NULL;

    g_object_get (out->sink_pad, "transceiver", &trans, NULL);
    if (trans == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "webrtcbin pad without transceiver");
      g_ptr_array_unref (caps);
      return FALSE;
    }
    g_object_set (trans, "direction",
        GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, "codec-preferences",
        g_ptr_array_index (caps, i), NULL);
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (trans), "do-nack"))
      g_object_set (trans, "do-nack", FALSE, NULL);
    g_object_unref (trans);
  }
  offer = webrtc_create_local (leg->webrtc, GST_WEBRTC_SDP_TYPE_OFFER, error);
  if (offer == NULL) {
    g_ptr_array_unref (caps);
    return FALSE;
  }
  leg->offer_made = TRUE;
  GST_INFO ("leg %s subscribes to \"%s\"", leg->name, leg->stream_id);
  GST_LOG ("leg %s offer:\n%s", leg->name, offer);
  leg_dispatch_description (leg, "offer", offer);

done:
  g_ptr_array_unref (caps);
  return TRUE;
}

static void
subscriber_link_outputs (OtcMediaLeg * leg)
{
  guint i;

  if (!leg->offer_made || leg->torn_down)
    return;
  for (i = 0; i < leg->outputs->len; i++)
    output_link (g_ptr_array_index (leg->outputs, i));
}

OtcMediaLeg *
otc_router_media_subscribe (OtcRouterMedia * media, const gchar * stream_id,
    const OtcMediaLegCallbacks * callbacks, gpointer user_data,
    GError ** error)
{
  OtcMediaLeg *pub = NULL, *leg = NULL;
  guint i;

  g_return_val_if_fail (media != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&media->lock);
  if (stream_id)
    pub = g_hash_table_lookup (media->publishers, stream_id);
  if (pub && !pub->closing)
    leg_ref (pub);
  else
    pub = NULL;
  g_mutex_unlock (&media->lock);
  if (pub == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM, "no stream \"%s\"",
        stream_id ? stream_id : "(null)");
    return NULL;
  }

  leg = leg_new (media, LEG_SUBSCRIBER, stream_id, callbacks, user_data,
      error);
  if (leg == NULL) {
    leg_unref (pub);
    return NULL;
  }
  leg->publisher = pub;
  leg->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      output_unref);
  if (!leg_start (leg, error))
    goto fail;
  for (i = 0; i < pub->streams->len; i++) {
    GstPad *pad = gst_element_request_pad_simple (leg->webrtc, "sink_%u");

    if (pad == NULL) {
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_FAILED, "no webrtcbin sink pad");
      goto fail;
    }
    g_ptr_array_add (leg->outputs, output_new (pub, i, leg, pad));
    gst_object_unref (pad);
  }

  g_mutex_lock (&media->lock);
  pub->subscribers = g_list_append (pub->subscribers, leg_ref (leg));
  g_mutex_unlock (&media->lock);

  if (!subscriber_negotiate (leg, error))
    goto fail;
  subscriber_link_outputs (leg);
  return leg;

fail:
  leg_abandon (leg);
  return NULL;
}

gboolean
otc_media_leg_set_remote_answer (OtcMediaLeg * leg, const gchar * sdp,
    GError ** error)
{
  GstSDPMessage *answer = NULL;
  gboolean ok;

  g_return_val_if_fail (leg != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (leg->role != LEG_SUBSCRIBER) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE,
        "a publisher leg takes no answer (the router answers)");
    return FALSE;
  }
  if (leg->torn_down || leg->user_closed) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE, "the leg is closed");
    return FALSE;
  }
  if (!leg->offer_made) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE, "no offer was made yet");
    return FALSE;
  }
  if (leg->answered) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_STATE, "the leg is already answered");
    return FALSE;
  }
  if (!sdp_parse (sdp, &answer, error))
    return FALSE;
  if (gst_sdp_message_medias_len (answer) != leg->outputs->len) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_SDP,
        "the answer has %u m-lines, the offer %u",
        gst_sdp_message_medias_len (answer), leg->outputs->len);
    gst_sdp_message_free (answer);
    return FALSE;
  }
  ok = webrtc_set_description (leg->webrtc, "set-remote-description",
      GST_WEBRTC_SDP_TYPE_ANSWER, answer, error);
  gst_sdp_message_free (answer);
  if (ok)
    leg->answered = TRUE;
  return ok;
}

void
otc_media_leg_add_remote_candidate (OtcMediaLeg * leg, guint mline,
    const gchar * candidate)
{
  g_return_if_fail (leg != NULL);

  if (leg->torn_down || leg->user_closed)
    return;
  /* webrtcbin 1.22 has no end-of-candidates */
  if (candidate == NULL || *candidate == '\0')
    return;
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (!g_str_has_prefix (candidate, "candidate:")) {
    GST_WARNING ("leg %s: ignoring remote candidate \"%s\"", leg->name,
        candidate);
    return;
  }
  g_signal_emit_by_name (leg->webrtc, "add-ice-candidate", mline, candidate);
}

void
otc_media_leg_close (OtcMediaLeg * leg)
{
  if (leg == NULL)
    return;
  g_return_if_fail (!leg->user_closed);

  leg->user_closed = TRUE;
  leg_teardown (leg);
  leg_unref (leg);
}

const gchar *
otc_media_leg_get_stream_id (OtcMediaLeg * leg)
{
  g_return_val_if_fail (leg != NULL, NULL);
  return leg->stream_id;
}

gboolean
otc_media_leg_is_publisher (OtcMediaLeg * leg)
{
  g_return_val_if_fail (leg != NULL, FALSE);
  return leg->role == LEG_PUBLISHER;
}

GstStructure *
otc_router_media_get_stream_stats (OtcRouterMedia * media,
    const gchar * stream_id, GError ** error)
{
  OtcMediaLeg *pub;
  GstStructure *s;
  guint64 requests = 0, sent = 0, throttled = 0;
  gboolean flowing = TRUE;
  guint i;

  g_return_val_if_fail (media != NULL, NULL);

  g_mutex_lock (&media->lock);
  pub = stream_id ? g_hash_table_lookup (media->publishers, stream_id) : NULL;
  if (pub == NULL) {
    g_mutex_unlock (&media->lock);
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM, "no stream \"%s\"",
        stream_id ? stream_id : "(null)");
    return NULL;
  }
  for (i = 0; i < pub->streams->len; i++) {
    OtcPublisherStream *stream = g_ptr_array_index (pub->streams, i);

    requests += stream->kf_requests;
    sent += stream->kf_sent;
    throttled += stream->kf_throttled;
    flowing = flowing && stream->tee != NULL;
  }
  s = gst_structure_new ("otc-router-stream",
      "subscribers", G_TYPE_UINT, g_list_length (pub->subscribers),
      "media-flowing", G_TYPE_BOOLEAN, flowing,
      "keyframe-requests", G_TYPE_UINT64, requests,
      "keyframe-requests-sent", G_TYPE_UINT64, sent,
      "keyframe-requests-throttled", G_TYPE_UINT64, throttled, NULL);
  g_mutex_unlock (&media->lock);
  return s;
}

/* ------------------------------------------------------------------------ */
/* recording */

static void
recording_free (OtcRecording * rec)
{
  g_ptr_array_unref (rec->inputs);
  gst_clear_object (&rec->bin);
  g_mutex_clear (&rec->lock);
  g_cond_clear (&rec->cond);
  g_free (rec->error);
  g_free (rec->path);
  g_free (rec->id);
  g_free (rec);
}

static GstPadProbeReturn
recording_eos_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  OtcRecording *rec = user_data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    g_mutex_lock (&rec->lock);
    rec->eos = TRUE;
    g_cond_broadcast (&rec->cond);
    g_mutex_unlock (&rec->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* Context thread: this input ends (stop, or its publisher left). */
static void
recording_input_finish (OtcOutput * in)
{
  if (in->eos_sent)
    return;
  in->eos_sent = TRUE;
  output_unlink (in);
  gst_pad_send_event (in->sink_pad, gst_event_new_eos ());
}

static gboolean
recording_add_input (OtcRecording * rec, OtcMediaLeg * pub, guint index,
    GError ** error)
{
  OtcPublisherStream *stream = g_ptr_array_index (pub->streams, index);
  GstElement *queue, *depay;
  GstPad *sink, *ghost, *mux_pad;

  queue = gst_element_factory_make ("queue", NULL);
  depay = gst_element_factory_make (stream->is_video ? "rtpvp8depay" :
      "rtpopusdepay", NULL);
  if (queue == NULL || depay == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "missing queue or RTP depayloader (gst-plugins-good)");
    if (queue)
      gst_object_unref (queue);
    if (depay)
      gst_object_unref (depay);
    return FALSE;
  }
  /* a slow disk drops the oldest packets rather than stall forwarding */
  g_object_set (queue, "leaky", 2, "max-size-buffers", 0, "max-size-bytes",
      0, "max-size-time", (guint64) 3 * GST_SECOND, NULL);
  gst_bin_add_many (GST_BIN (rec->bin), queue, depay, NULL);
  mux_pad = gst_element_request_pad_simple (rec->mux, stream->is_video ?
      "video_%u" : "audio_%u");
  if (mux_pad == NULL || !gst_element_link (queue, depay)
      || !gst_element_link_pads (depay, "src", rec->mux,
          GST_PAD_NAME (mux_pad))) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "could not build the recording branch");
    if (mux_pad)
      gst_object_unref (mux_pad);
    return FALSE;
  }
  gst_object_unref (mux_pad);
  /* the tee is outside the recording bin */
  sink = gst_element_get_static_pad (queue, "sink");
  ghost = gst_ghost_pad_new (NULL, sink);
  gst_object_unref (sink);
  gst_pad_set_active (ghost, TRUE);
  gst_element_add_pad (rec->bin, ghost);
  g_ptr_array_add (rec->inputs, output_new (pub, index, NULL, ghost));
  return TRUE;
}

gboolean
otc_router_media_start_recording (OtcRouterMedia * media,
    const gchar * recording_id, const gchar * const *stream_ids,
    const gchar * path, GError ** error)
{
  OtcRecording *rec;
  GPtrArray *pubs;
  GstElement *sink;
  GstPad *sink_pad;
  gchar *name;
  guint i, j;

  g_return_val_if_fail (media != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (recording_id == NULL || *recording_id == '\0' || stream_ids == NULL
      || stream_ids[0] == NULL || path == NULL || *path == '\0') {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT,
        "a recording needs an id, streams and a path");
    return FALSE;
  }

  pubs = g_ptr_array_new_with_free_func ((GDestroyNotify) leg_unref);
  g_mutex_lock (&media->lock);
  if (g_hash_table_contains (media->recordings, recording_id)) {
    g_mutex_unlock (&media->lock);
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_RECORDING_EXISTS,
        "recording \"%s\" exists", recording_id);
    g_ptr_array_unref (pubs);
    return FALSE;
  }
  for (i = 0; stream_ids[i]; i++) {
    OtcMediaLeg *pub = g_hash_table_lookup (media->publishers, stream_ids[i]);

    if (pub == NULL || pub->closing) {
      g_mutex_unlock (&media->lock);
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_UNKNOWN_STREAM, "no stream \"%s\"",
          stream_ids[i]);
      g_ptr_array_unref (pubs);
      return FALSE;
    }
    g_ptr_array_add (pubs, leg_ref (pub));
  }
  g_mutex_unlock (&media->lock);

  rec = g_new0 (OtcRecording, 1);
  rec->media = media;
  rec->id = g_strdup (recording_id);
  rec->path = g_strdup (path);
  g_mutex_init (&rec->lock);
  g_cond_init (&rec->cond);
  rec->inputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      output_unref);
  name = g_strdup_printf ("rec%u", media->recording_serial++);
  rec->bin = gst_bin_new (name);
  g_free (name);
  gst_object_ref_sink (rec->bin);
  g_object_set_qdata_full (G_OBJECT (rec->bin), recording_quark (),
      g_strdup (recording_id), g_free);
  rec->mux = gst_element_factory_make ("webmmux", NULL);
  sink = gst_element_factory_make ("filesink", NULL);
  if (rec->mux == NULL || sink == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "missing webmmux or filesink (gst-plugins-good)");
    if (rec->mux)
      gst_object_unref (rec->mux);
    if (sink)
      gst_object_unref (sink);
    goto fail;
  }
  /* the file starts at 0 whenever the recording starts; a sink that
   * prerolled would make the router pipeline lose its state */
  g_object_set (rec->mux, "offset-to-zero", TRUE, NULL);
  g_object_set (sink, "location", path, "async", FALSE, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (rec->bin), rec->mux, sink, NULL);
  gst_element_link (rec->mux, sink);
  sink_pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      recording_eos_probe, rec, NULL);
  gst_object_unref (sink_pad);

  g_mutex_lock (&media->lock);
  for (i = 0; i < pubs->len; i++) {
    OtcMediaLeg *pub = g_ptr_array_index (pubs, i);

    for (j = 0; j < pub->streams->len; j++) {
      OtcPublisherStream *stream = g_ptr_array_index (pub->streams, j);

      if (stream->tee == NULL) {
        GST_WARNING ("recording %s: stream \"%s\" m-line %u has no media "
            "yet, not recorded", recording_id, pub->stream_id, j);
        continue;
      }
      g_mutex_unlock (&media->lock);
      if (!recording_add_input (rec, pub, j, error))
        goto fail;
      g_mutex_lock (&media->lock);
    }
  }
  g_mutex_unlock (&media->lock);
  if (rec->inputs->len == 0) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_NO_MEDIA, "no media has arrived on the "
        "streams to record yet");
    goto fail;
  }

  g_mutex_lock (&media->lock);
  g_hash_table_insert (media->recordings, rec->id, rec);
  g_mutex_unlock (&media->lock);
  gst_bin_add (GST_BIN (media->pipeline), rec->bin);
  if (!gst_element_sync_state_with_parent (rec->bin)) {
    g_mutex_lock (&media->lock);
    g_hash_table_remove (media->recordings, rec->id);
    g_mutex_unlock (&media->lock);
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "cannot record to %s", path);
    element_remove (media, rec->bin);
    goto fail;
  }
  for (i = 0; i < rec->inputs->len; i++)
    output_link (g_ptr_array_index (rec->inputs, i));
  GST_INFO ("recording %s: %u tracks to %s", recording_id, rec->inputs->len,
      path);
  g_ptr_array_unref (pubs);
  return TRUE;

fail:
  for (i = 0; i < rec->inputs->len; i++)
    output_unlink (g_ptr_array_index (rec->inputs, i));
  recording_free (rec);
  g_ptr_array_unref (pubs);
  return FALSE;
}

gboolean
otc_router_media_stop_recording (OtcRouterMedia * media,
    const gchar * recording_id, GError ** error)
{
  OtcRecording *rec;
  gint64 deadline;
  gboolean finished;
  guint i;

  g_return_val_if_fail (media != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&media->lock);
  rec = recording_id ? g_hash_table_lookup (media->recordings,
      recording_id) : NULL;
  g_mutex_unlock (&media->lock);
  if (rec == NULL) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_UNKNOWN_RECORDING, "no recording \"%s\"",
        recording_id ? recording_id : "(null)");
    return FALSE;
  }

  for (i = 0; i < rec->inputs->len; i++)
    recording_input_finish (g_ptr_array_index (rec->inputs, i));
  /* webmmux writes its index and fixes the header on EOS */
  deadline = g_get_monotonic_time () +
      RECORDING_FINALISE_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_mutex_lock (&rec->lock);
  while (!rec->eos && rec->error == NULL)
    if (!g_cond_wait_until (&rec->cond, &rec->lock, deadline))
      break;
  finished = rec->eos && rec->error == NULL;
  g_mutex_unlock (&rec->lock);

  g_mutex_lock (&media->lock);
  g_hash_table_remove (media->recordings, rec->id);
  g_mutex_unlock (&media->lock);
  /* closes the file */
  element_remove (media, rec->bin);
  if (!finished)
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "recording %s to %s was not finalised: %s", rec->id, rec->path,
        rec->error ? rec->error : "timeout");
  GST_INFO ("recording %s stopped (%s)", rec->id, finished ? "complete" :
      "incomplete");
  recording_free (rec);
  return finished;
}
