/**
 * SECTION:element-otcdecrypt
 * @title: otcdecrypt
 *
 * Decrypts OTC-E2EE v1 frames between the RTP depayloader and the decoder.
 * Only frames that authenticate leave it, byte-identical to what the
 * sender's encoder produced. Per stream (key id) it posts
 * `otc-encryption-secret-mismatch` once when frames stop decrypting and
 * `otc-encryption-secret-match` once when they decrypt again; then, for
 * video, it drops delta frames and asks upstream for a key frame (every
 * 400 ms) until one arrives, so the decoder never shows garbage.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 udpsrc port=5004 caps="application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=96" \
 *     ! rtpvp8depay ! otcdecrypt encryption-secret-file=secret.txt ! vp8dec ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>
#include <otc/e2ee.h>

#include "gstotce2eeelements.h"
#include "gstotcdecrypt.h"
#include "gstotcmessages.h"
#include "gstotcsecretholder.h"

GST_DEBUG_CATEGORY_STATIC (gst_otc_decrypt_debug);
#define GST_CAT_DEFAULT gst_otc_decrypt_debug

#define DEFAULT_SESSION_ID ""
#define DEFAULT_CIPHER_SUITE OTC_CIPHER_SUITE_DEFAULT
#define KEYFRAME_REQUEST_INTERVAL_US (400 * G_TIME_SPAN_MILLISECOND)
/* Mismatch reports for new key ids; a flood of forged KIDs is counted. */
#define MAX_NEW_STREAM_REPORTS_PER_SECOND 8
#define DEFAULT_MISMATCH_DELAY 1000
/* Frames held at most, whatever the delay (about 10 s of 30 fps video). */
#define MAX_HELD 300
/* While a new key is still being derived, held frames wait this much more. */
#define MAX_EXTRA_HOLD_US (5 * G_USEC_PER_SEC)

enum
{
  PROP_0,
  PROP_ENCRYPTION_SECRET,
  PROP_ENCRYPTION_SECRET_FILE,
  PROP_SESSION_ID,
  PROP_CIPHER_SUITE,
  PROP_MISMATCH_DELAY,
  PROP_STATS,
};

typedef struct
{
  GstBuffer *buffer;
  gint64 arrival;
  guint64 kid;
  gboolean first_for_kid;       /* its KID was new: reports are limited */
} HeldFrame;

static void
held_frame_free (HeldFrame * f)
{
  gst_buffer_unref (f->buffer);
  g_free (f);
}

struct _GstOtcDecrypt
{
  GstBaseTransform parent;

  GstOtcSecretHolder secret;
  GstOtcPendingMessage pending;
  OtcCipherSuite suite;         /* properties, under the object lock */
  guint hold_time_ms;

  /* streaming state */
  OtcFrameDecryptor *decryptor;
  OtcCodec codec;
  gint key_serial;
  gint missing_posted;           /* atomic: reset by the property setter */
  gboolean unsupported_posted;
  gboolean awaiting_keyframe;
  gint64 last_keyframe_request;
  GstOtcRateLimit error_limit;
  GQueue held;                  /* of HeldFrame, oldest first */
  gint64 hold_us;
  gint64 new_stream_window_start;
  guint new_stream_reports;

  /* statistics, under the object lock */
  guint64 frames_in;
  guint64 frames_out;
  guint64 bytes_in;
  guint64 bytes_out;
  guint64 auth_failures;
  guint64 malformed;
  guint64 replayed;
  guint64 internal_errors;
  guint64 dropped_no_secret;
  guint64 dropped_awaiting_keyframe;
  guint64 keyframe_requests;
  guint64 mismatches;
  guint64 matches;
  guint64 reports_suppressed;
  guint64 recovered;
  guint64 n_held;               /* mirrors the length of @held */
  guint n_streams;              /* mirrors the decryptor's */
};

#define CAPS "video/x-vp8; audio/x-opus"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));

#define gst_otc_decrypt_parent_class parent_class
G_DEFINE_TYPE (GstOtcDecrypt, gst_otc_decrypt, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (otcdecrypt, "otcdecrypt", GST_RANK_NONE,
    GST_TYPE_OTC_DECRYPT);

static void
gst_otc_decrypt_set_secret (GstOtcDecrypt * self, const gchar * secret,
    gboolean from_file)
{
  GError *error = NULL;
  gboolean ok;

  if (from_file)
    ok = gst_otc_secret_holder_set_secret_from_file (&self->secret, secret,
        &error);
  else
    ok = gst_otc_secret_holder_set_secret (&self->secret, secret, &error);
  if (!ok) {
    gst_otc_report_invalid_secret (GST_ELEMENT (self), &self->pending, error);
    g_error_free (error);
    return;
  }
  g_atomic_int_set (&self->missing_posted, FALSE);
}

static GstStructure *
gst_otc_decrypt_get_stats (GstOtcDecrypt * self)
{
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("application/x-otc-decrypt-stats",
      "frames-in", G_TYPE_UINT64, self->frames_in,
      "frames-out", G_TYPE_UINT64, self->frames_out,
      "bytes-in", G_TYPE_UINT64, self->bytes_in,
      "bytes-out", G_TYPE_UINT64, self->bytes_out,
      "frames-auth-failed", G_TYPE_UINT64, self->auth_failures,
      "frames-malformed", G_TYPE_UINT64, self->malformed,
      "frames-replayed", G_TYPE_UINT64, self->replayed,
      "frames-internal-error", G_TYPE_UINT64, self->internal_errors,
      "frames-dropped-no-secret", G_TYPE_UINT64, self->dropped_no_secret,
      "frames-dropped-awaiting-keyframe", G_TYPE_UINT64,
      self->dropped_awaiting_keyframe,
      "keyframe-requests", G_TYPE_UINT64, self->keyframe_requests,
      "mismatches", G_TYPE_UINT64, self->mismatches,
      "matches", G_TYPE_UINT64, self->matches,
      "reports-suppressed", G_TYPE_UINT64, self->reports_suppressed,
      "frames-held", G_TYPE_UINT64, self->n_held,
      "frames-recovered", G_TYPE_UINT64, self->recovered,
      "secret-pending", G_TYPE_BOOLEAN,
      gst_otc_secret_holder_is_pending (&self->secret),
      "streams", G_TYPE_UINT, self->n_streams,
      "cipher-suite", G_TYPE_STRING,
      otc_cipher_suite_get_info (self->suite)->nick, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_otc_decrypt_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (object);

  switch (prop_id) {
    case PROP_ENCRYPTION_SECRET:
      gst_otc_decrypt_set_secret (self, g_value_get_string (value), FALSE);
      break;
    case PROP_ENCRYPTION_SECRET_FILE:
      gst_otc_decrypt_set_secret (self, g_value_get_string (value), TRUE);
      break;
    case PROP_SESSION_ID:
      gst_otc_secret_holder_set_session_id (&self->secret,
          g_value_get_string (value));
      break;
    case PROP_CIPHER_SUITE:
      GST_OBJECT_LOCK (self);
      self->suite = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MISMATCH_DELAY:
      GST_OBJECT_LOCK (self);
      self->hold_time_ms = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_otc_decrypt_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (object);

  switch (prop_id) {
    case PROP_SESSION_ID:
      g_value_take_string (value,
          gst_otc_secret_holder_dup_session_id (&self->secret));
      break;
    case PROP_CIPHER_SUITE:
      GST_OBJECT_LOCK (self);
      g_value_set_enum (value, self->suite);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MISMATCH_DELAY:
      GST_OBJECT_LOCK (self);
      g_value_set_uint (value, self->hold_time_ms);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_otc_decrypt_get_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static gboolean
gst_otc_decrypt_start (GstBaseTransform * trans)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (trans);
  GError *error = NULL;

  if (!gst_otc_secret_holder_start (&self->secret, &error)) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not derive the decryption key"), ("%s", error->message));
    g_error_free (error);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->decryptor = otc_frame_decryptor_new (self->suite, 0, 0);
  self->hold_us = (gint64) self->hold_time_ms * G_TIME_SPAN_MILLISECOND;
  self->key_serial = -1;
  g_atomic_int_set (&self->missing_posted, FALSE);
  self->unsupported_posted = FALSE;
  self->awaiting_keyframe = FALSE;
  self->error_limit.last_us = 0;
  self->error_limit.suppressed = 0;
  self->new_stream_window_start = 0;
  self->new_stream_reports = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_otc_decrypt_stop (GstBaseTransform * trans)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (trans);

  gst_otc_secret_holder_stop (&self->secret);
  g_queue_clear_full (&self->held, (GDestroyNotify) held_frame_free);
  GST_OBJECT_LOCK (self);
  self->n_held = 0;
  otc_frame_decryptor_free (self->decryptor);
  self->decryptor = NULL;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_otc_decrypt_accept_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (trans);
  gboolean ok;

  ok = GST_BASE_TRANSFORM_CLASS (parent_class)->accept_caps (trans,
      direction, caps);
  if (!ok && direction == GST_PAD_SINK && !gst_caps_is_empty (caps)
      && otc_codec_from_media_type (gst_structure_get_name
          (gst_caps_get_structure (caps, 0))) == OTC_CODEC_UNKNOWN) {
    gboolean post;

    GST_OBJECT_LOCK (self);
    post = !self->unsupported_posted;
    self->unsupported_posted = TRUE;
    GST_OBJECT_UNLOCK (self);
    if (post) {
      gchar *text = g_strdup_printf ("otcdecrypt handles VP8 and Opus, not %s",
          gst_structure_get_name (gst_caps_get_structure (caps, 0)));

      GST_WARNING_OBJECT (self, "%s", text);
      gst_otc_message_post (GST_ELEMENT (self),
          gst_otc_message_new (GST_OTC_MSG_DECRYPTION_UNSUPPORTED_CODEC,
              OTC_E2EE_ERROR_DECRYPTION_UNSUPPORTED_CODEC, text));
      g_free (text);
    }
  }
  return ok;
}

static gboolean
gst_otc_decrypt_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (trans);

  self->codec = otc_codec_from_media_type (gst_structure_get_name
      (gst_caps_get_structure (incaps, 0)));
  return self->codec != OTC_CODEC_UNKNOWN;
}

static gboolean
gst_otc_decrypt_update_key (GstOtcDecrypt * self, gint64 now)
{
  gboolean changed;
  OtcSecretKey *key;

  key = gst_otc_secret_holder_poll_key (&self->secret, &self->key_serial,
      &changed);
  if (!changed)
    return FALSE;
  GST_OBJECT_LOCK (self);
  otc_frame_decryptor_set_secret_key (self->decryptor, key, now);
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "Secret key updated");
  otc_secret_key_unref (key);
  return TRUE;
}

static void
gst_otc_decrypt_request_keyframe (GstOtcDecrypt * self, gint64 now)
{
  GST_DEBUG_OBJECT (self, "Requesting a key frame");
  self->last_keyframe_request = now;
  GST_OBJECT_LOCK (self);
  self->keyframe_requests++;
  GST_OBJECT_UNLOCK (self);
  gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (self),
      gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
          TRUE, 0));
}

/* Mismatch reports for KIDs seen for the first time are limited, so that
 * forged KIDs cannot flood the bus; known streams always report. */
static gboolean
gst_otc_decrypt_allow_report (GstOtcDecrypt * self,
    const OtcUnprotectResult * res, gint64 now)
{
  if (!res->first_for_kid)
    return TRUE;
  if (now - self->new_stream_window_start >= G_USEC_PER_SEC) {
    self->new_stream_window_start = now;
    self->new_stream_reports = 0;
  }
  return ++self->new_stream_reports <= MAX_NEW_STREAM_REPORTS_PER_SECOND;
}

static void
gst_otc_decrypt_report_internal (GstOtcDecrypt * self,
    const OtcUnprotectResult * res, gint64 now)
{
  GstStructure *s;
  guint64 count;

  if (!gst_otc_rate_limit_allow (&self->error_limit, now, &count))
    return;
  s = gst_otc_message_new (GST_OTC_MSG_DECRYPTION_INTERNAL,
      OTC_E2EE_ERROR_DECRYPTION_INTERNAL,
      res->status == OTC_FRAME_MALFORMED ?
      "Malformed frames were dropped" :
      "The crypto library failed while decrypting");
  gst_structure_set (s, "reason", G_TYPE_STRING,
      otc_frame_status_name (res->status), "count", G_TYPE_UINT64, count,
      NULL);
  if (res->kid_known)
    gst_otc_message_set_key_id (s, res->kid);
  gst_otc_message_post (GST_ELEMENT (self), s);
}

/* Frames that fail to authenticate are held for a while before the
 * stream is declared mismatched: during a secret change the sender may
 * switch keys before this side has derived (or even been given) the new
 * secret, and those frames decrypt once it has. */
/* @retry: the stream's mismatch was declared before, its report held
 * back by the limit; this is one of its later failing frames. A report
 * held back is tried again at each of them, so that a real mismatch among
 * forged KIDs is reported once the limit allows. */
static void
gst_otc_decrypt_post_mismatch (GstOtcDecrypt * self, guint64 kid,
    gboolean first_for_kid, gboolean retry, gint64 now)
{
  OtcUnprotectResult r = { 0 };

  r.first_for_kid = first_for_kid;
  if (!retry) {
    GST_INFO_OBJECT (self, "Stream %" G_GUINT64_FORMAT " does not decrypt",
        kid);
    GST_OBJECT_LOCK (self);
    self->mismatches++;
    GST_OBJECT_UNLOCK (self);
  }
  if (gst_otc_decrypt_allow_report (self, &r, now)) {
    GstStructure *s = gst_otc_message_new (GST_OTC_MSG_SECRET_MISMATCH,
        OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISMATCH,
        "Frames do not decrypt with the encryption secret set here");
    gst_otc_message_set_key_id (s, kid);
    gst_otc_message_post (GST_ELEMENT (self), s);
    if (retry) {
      GST_OBJECT_LOCK (self);
      self->reports_suppressed--;
      GST_OBJECT_UNLOCK (self);
    }
  } else {
    otc_frame_decryptor_defer_report (self->decryptor, kid);
    if (!retry) {
      GST_OBJECT_LOCK (self);
      self->reports_suppressed++;
      GST_OBJECT_UNLOCK (self);
    }
  }
}

/* Drops held frames; with @declare, their streams turn mismatched. Only
 * frames of @kid when @only_kid. */
static void
gst_otc_decrypt_drop_held (GstOtcDecrypt * self, gboolean declare,
    gboolean only_kid, guint64 kid, gint64 now)
{
  GList *l = self->held.head;

  while (l != NULL) {
    GList *next = l->next;
    HeldFrame *f = l->data;

    if (!only_kid || f->kid == kid) {
      if (declare && otc_frame_decryptor_declare_mismatch (self->decryptor,
              f->kid) == OTC_STREAM_EVENT_MISMATCH)
        gst_otc_decrypt_post_mismatch (self, f->kid, f->first_for_kid, FALSE,
            now);
      GST_OBJECT_LOCK (self);
      self->auth_failures++;
      GST_OBJECT_UNLOCK (self);
      held_frame_free (f);
      g_queue_delete_link (&self->held, l);
    }
    l = next;
  }
}

/* What one frame changes in the statistics, applied under the object lock
 * once per incoming buffer. */
typedef struct
{
  guint64 out, bytes_out, auth_failed, malformed, replayed, internal;
  guint64 no_secret, awaiting_keyframe, recovered, matches;
} StatsDelta;

/* Decrypts @buf in place and does the bookkeeping. Returns TRUE when @buf
 * (now the plain frame) is to be pushed; *@held when it was kept for later
 * (then unchanged, with a reference taken). */
static gboolean
gst_otc_decrypt_process (GstOtcDecrypt * self, GstBuffer * buf,
    gint64 arrival, gint64 now, gboolean * held, StatsDelta * d)
{
  OtcUnprotectResult res;
  GstMapInfo map;
  gboolean keyframe = FALSE, drop_delta = FALSE;
  gboolean hold_enabled = self->hold_us > 0;

  *held = FALSE;
  if (!gst_buffer_map (buf, &map, GST_MAP_READWRITE))
    return FALSE;
  otc_frame_decryptor_unprotect_full (self->decryptor, map.data, map.size,
      map.data, map.size, now,
      hold_enabled ? OTC_UNPROTECT_DEFER_MISMATCH : 0, &res);
  if (res.status == OTC_FRAME_OK && self->codec == OTC_CODEC_VP8)
    keyframe = res.out_len > 0 && (map.data[0] & 0x1) == 0;
  gst_buffer_unmap (buf, &map);

  if (res.status == OTC_FRAME_AUTH_FAILED && hold_enabled) {
    if (!res.was_mismatched && g_queue_get_length (&self->held) < MAX_HELD) {
      HeldFrame *f = g_new0 (HeldFrame, 1);

      f->buffer = gst_buffer_ref (buf);
      f->arrival = arrival;
      f->kid = res.kid;
      f->first_for_kid = res.first_for_kid;
      g_queue_push_tail (&self->held, f);
      *held = TRUE;
      return FALSE;
    }
    /* (unless its held-back report is due again) */
    if (res.event == OTC_STREAM_EVENT_NONE)
      res.event = otc_frame_decryptor_declare_mismatch (self->decryptor,
          res.kid);
  }
  /* A stream that decrypts: what it left behind was damaged, not a
   * secret change. */
  if (res.status == OTC_FRAME_OK && !g_queue_is_empty (&self->held))
    gst_otc_decrypt_drop_held (self, FALSE, TRUE, res.kid, now);

  if (res.status == OTC_FRAME_OK && self->awaiting_keyframe) {
    if (keyframe)
      self->awaiting_keyframe = FALSE;
    else
      drop_delta = TRUE;
  }
  if (res.event == OTC_STREAM_EVENT_MATCH && self->codec == OTC_CODEC_VP8
      && !keyframe) {
    /* The decoder missed frames: hold deltas back until a key frame. */
    self->awaiting_keyframe = TRUE;
    drop_delta = TRUE;
  }

  switch (res.status) {
    case OTC_FRAME_OK:
      if (drop_delta) {
        d->awaiting_keyframe++;
      } else {
        d->out++;
        d->bytes_out += res.out_len;
        if (arrival != now)
          d->recovered++;
      }
      break;
    case OTC_FRAME_AUTH_FAILED:
      d->auth_failed++;
      break;
    case OTC_FRAME_MALFORMED:
      d->malformed++;
      break;
    case OTC_FRAME_REPLAYED:
      d->replayed++;
      break;
    case OTC_FRAME_NO_SECRET:
      d->no_secret++;
      break;
    case OTC_FRAME_INTERNAL_ERROR:
      d->internal++;
      break;
  }

  /* A secret whose key is still being derived is not missing. */
  if (res.status == OTC_FRAME_NO_SECRET
      && !g_atomic_int_get (&self->missing_posted)
      && !gst_otc_secret_holder_has_secret (&self->secret)) {
    g_atomic_int_set (&self->missing_posted, TRUE);
    GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
        ("No decryption secret set: frames are dropped until one is"),
        (NULL));
    gst_otc_message_post (GST_ELEMENT (self),
        gst_otc_message_new (GST_OTC_MSG_SECRET_MISSING,
            OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING,
            "No encryption secret is set: frames are dropped"));
  }

  if (res.event == OTC_STREAM_EVENT_MISMATCH) {
    gst_otc_decrypt_post_mismatch (self, res.kid, res.first_for_kid,
        res.report_retry, now);
  } else if (res.event == OTC_STREAM_EVENT_MATCH && res.match_unreported) {
    /* its mismatch was never reported (held back by the limit): no match
     * either; it stays counted in reports-suppressed */
    GST_INFO_OBJECT (self, "Stream %" G_GUINT64_FORMAT " decrypts again",
        res.kid);
  } else if (res.event == OTC_STREAM_EVENT_MATCH) {
    GstStructure *s = gst_otc_message_new (GST_OTC_MSG_SECRET_MATCH, 0,
        "Frames decrypt again");

    d->matches++;
    GST_INFO_OBJECT (self, "Stream %" G_GUINT64_FORMAT " decrypts again",
        res.kid);
    gst_otc_message_set_key_id (s, res.kid);
    gst_otc_message_post (GST_ELEMENT (self), s);
    if (self->awaiting_keyframe)
      gst_otc_decrypt_request_keyframe (self, now);
  }

  if (self->awaiting_keyframe
      && now - self->last_keyframe_request >= KEYFRAME_REQUEST_INTERVAL_US)
    gst_otc_decrypt_request_keyframe (self, now);

  if (res.status == OTC_FRAME_MALFORMED
      || res.status == OTC_FRAME_INTERNAL_ERROR)
    gst_otc_decrypt_report_internal (self, &res, now);

  if (res.status != OTC_FRAME_OK || drop_delta)
    return FALSE;
  gst_buffer_set_size (buf, res.out_len);
  return TRUE;
}

/* After a key change: held frames are tried again, in order, and those
 * that decrypt now go downstream ahead of the current frame. */
static GstFlowReturn
gst_otc_decrypt_retry_held (GstOtcDecrypt * self, gint64 now, StatsDelta * d)
{
  GQueue retry = self->held;
  GstFlowReturn ret = GST_FLOW_OK;
  HeldFrame *f;

  g_queue_init (&self->held);
  while ((f = g_queue_pop_head (&retry)) != NULL) {
    /* ours alone once the queue let go of it: decrypted in place */
    GstBuffer *buf = gst_buffer_make_writable (f->buffer);
    gboolean held;

    f->buffer = NULL;
    if (gst_otc_decrypt_process (self, buf, f->arrival, now, &held, d)
        && ret == GST_FLOW_OK) {
      GST_LOG_OBJECT (self, "Held frame decrypts after the key change");
      ret = gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), buf);
    } else {
      /* still failing: process() queued it again, with its first arrival */
      gst_buffer_unref (buf);
    }
    g_free (f);
  }
  return ret;
}

/* Held frames that are old enough (and no key is on its way) fail for
 * good: their streams are mismatched. */
static void
gst_otc_decrypt_expire_held (GstOtcDecrypt * self, gint64 now, gboolean all)
{
  HeldFrame *head = g_queue_peek_head (&self->held);
  gint64 age;

  if (head == NULL)
    return;
  age = now - head->arrival;
  if (all || age >= self->hold_us + MAX_EXTRA_HOLD_US
      || (age >= self->hold_us
          && !gst_otc_secret_holder_is_pending (&self->secret)))
    gst_otc_decrypt_drop_held (self, TRUE, FALSE, 0, now);
}

static void
gst_otc_decrypt_apply_stats (GstOtcDecrypt * self, gsize bytes_in,
    const StatsDelta * d)
{
  GST_OBJECT_LOCK (self);
  if (bytes_in != G_MAXSIZE) {
    self->frames_in++;
    self->bytes_in += bytes_in;
  }
  self->frames_out += d->out;
  self->bytes_out += d->bytes_out;
  self->auth_failures += d->auth_failed;
  self->malformed += d->malformed;
  self->replayed += d->replayed;
  self->internal_errors += d->internal;
  self->dropped_no_secret += d->no_secret;
  self->dropped_awaiting_keyframe += d->awaiting_keyframe;
  self->recovered += d->recovered;
  self->matches += d->matches;
  self->n_held = g_queue_get_length (&self->held);
  if (self->decryptor)
    self->n_streams = otc_frame_decryptor_get_n_streams (self->decryptor);
  self->hold_us = (gint64) self->hold_time_ms * G_TIME_SPAN_MILLISECOND;
  GST_OBJECT_UNLOCK (self);
}

static GstFlowReturn
gst_otc_decrypt_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (trans);
  gint64 now = g_get_monotonic_time ();
  GstFlowReturn ret = GST_FLOW_OK;
  StatsDelta d = { 0 };
  gsize bytes_in = gst_buffer_get_size (buf);
  gboolean held;

  if (gst_otc_decrypt_update_key (self, now) && !g_queue_is_empty (&self->held))
    ret = gst_otc_decrypt_retry_held (self, now, &d);
  gst_otc_decrypt_expire_held (self, now, FALSE);

  if (ret == GST_FLOW_OK
      && !gst_otc_decrypt_process (self, buf, now, now, &held, &d))
    ret = GST_BASE_TRANSFORM_FLOW_DROPPED;
  gst_otc_decrypt_apply_stats (self, bytes_in, &d);
  return ret;
}

static gboolean
gst_otc_decrypt_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (trans);
  StatsDelta none = { 0 };

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      /* the stream ends: what is held will never decrypt */
      if (self->decryptor)
        gst_otc_decrypt_expire_held (self, g_get_monotonic_time (), TRUE);
      gst_otc_decrypt_apply_stats (self, G_MAXSIZE, &none);
      break;
    case GST_EVENT_FLUSH_STOP:
      g_queue_clear_full (&self->held, (GDestroyNotify) held_frame_free);
      gst_otc_decrypt_apply_stats (self, G_MAXSIZE, &none);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static GstStateChangeReturn
gst_otc_decrypt_change_state (GstElement * element, GstStateChange transition)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (element);

  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    gst_otc_flush_pending (element, &self->pending);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

static void
gst_otc_decrypt_finalize (GObject * object)
{
  GstOtcDecrypt *self = GST_OTC_DECRYPT (object);

  gst_otc_secret_holder_clear (&self->secret);
  if (self->pending.pending)
    gst_structure_free (self->pending.pending);
  otc_frame_decryptor_free (self->decryptor);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_otc_decrypt_init (GstOtcDecrypt * self)
{
  gst_otc_secret_holder_init (&self->secret, GST_ELEMENT (self));
  self->secret.error_message_name = GST_OTC_MSG_DECRYPTION_INTERNAL;
  self->secret.error_code = OTC_E2EE_ERROR_DECRYPTION_INTERNAL;
  self->suite = DEFAULT_CIPHER_SUITE;
  self->hold_time_ms = DEFAULT_MISMATCH_DELAY;
  g_queue_init (&self->held);
}

static void
gst_otc_decrypt_class_init (GstOtcDecryptClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_otc_decrypt_debug, "otcdecrypt", 0,
      "otc end-to-end decryption");

  gobject_class->set_property = gst_otc_decrypt_set_property;
  gobject_class->get_property = gst_otc_decrypt_get_property;
  gobject_class->finalize = gst_otc_decrypt_finalize;

  g_object_class_install_property (gobject_class, PROP_ENCRYPTION_SECRET,
      g_param_spec_string ("encryption-secret", "Encryption secret",
          GST_OTC_SECRET_BLURB, NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ENCRYPTION_SECRET_FILE,
      g_param_spec_string ("encryption-secret-file", "Encryption secret file",
          GST_OTC_SECRET_FILE_BLURB, NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SESSION_ID,
      g_param_spec_string ("session-id", "Session id",
          GST_OTC_SESSION_ID_BLURB, DEFAULT_SESSION_ID,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CIPHER_SUITE,
      g_param_spec_enum ("cipher-suite", "Cipher suite",
          "The SFrame cipher suite; every participant must use the same",
          GST_TYPE_OTC_CIPHER_SUITE, DEFAULT_CIPHER_SUITE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MISMATCH_DELAY,
      g_param_spec_uint ("mismatch-delay", "Mismatch delay",
          "Milliseconds that frames which fail to decrypt are held before "
          "the stream is declared mismatched and they are dropped: a secret "
          "change on its way (being derived here, or set here a little "
          "later than at the sender) then loses no frame. 0 decides at once",
          0, 60000, DEFAULT_MISMATCH_DELAY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Frames in and out, drops by cause, mismatch/match counts",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "otc end-to-end decryptor", "Filter/Network/Decryption",
      "Decrypts OTC-E2EE v1 (SFrame) VP8/Opus frames and reports secret "
      "mismatches", "otc developers");

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_otc_decrypt_change_state);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_otc_decrypt_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_otc_decrypt_stop);
  trans_class->accept_caps = GST_DEBUG_FUNCPTR (gst_otc_decrypt_accept_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_otc_decrypt_set_caps);
  /* in place: a plain frame is never longer than its protected form */
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_otc_decrypt_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_otc_decrypt_sink_event);
  trans_class->passthrough_on_same_caps = FALSE;
}
