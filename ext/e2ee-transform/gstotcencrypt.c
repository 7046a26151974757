/**
 * SECTION:element-otcencrypt
 * @title: otcencrypt
 *
 * Encrypts encoded VP8 or Opus frames end to end (OTC-E2EE v1, an SFrame
 * profile), between the encoder and the RTP payloader. Every frame leaves
 * protected: without a secret, frames are dropped and
 * `otc-encryption-secret-missing` is posted once.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc ! vp8enc ! otcencrypt encryption-secret-file=secret.txt \
 *     ! rtpvp8pay ! udpsink host=127.0.0.1 port=5004
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gio/gio.h>
#include <otc/e2ee.h>

#include "gstotce2eeelements.h"
#include "gstotcencrypt.h"
#include "gstotcmessages.h"
#include "gstotcsecretholder.h"

GST_DEBUG_CATEGORY_STATIC (gst_otc_encrypt_debug);
#define GST_CAT_DEFAULT gst_otc_encrypt_debug

#define DEFAULT_SESSION_ID ""
#define DEFAULT_CIPHER_SUITE OTC_CIPHER_SUITE_DEFAULT
#define DEFAULT_KEY_ID 0

enum
{
  PROP_0,
  PROP_ENCRYPTION_SECRET,
  PROP_ENCRYPTION_SECRET_FILE,
  PROP_SESSION_ID,
  PROP_CIPHER_SUITE,
  PROP_KEY_ID,
  PROP_STATS,
};

struct _GstOtcEncrypt
{
  GstBaseTransform parent;

  GstOtcSecretHolder secret;
  GstOtcPendingMessage pending;

  /* properties, under the object lock */
  OtcCipherSuite suite;
  guint64 key_id;

  /* streaming state; the encryptor under the object lock for stats */
  OtcFrameEncryptor *encryptor;
  OtcCodec codec;
  gint key_serial;
  gboolean missing_posted;
  gboolean unsupported_posted;
  GstOtcRateLimit error_limit;

  /* statistics, under the object lock */
  guint64 frames_in;
  guint64 frames_protected;
  guint64 bytes_in;
  guint64 bytes_out;
  guint64 dropped_no_secret;
  guint64 dropped_errors;
  guint64 clear_bytes;
  guint secret_changes;
};

#define CAPS "video/x-vp8; audio/x-opus"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));

#define gst_otc_encrypt_parent_class parent_class
G_DEFINE_TYPE (GstOtcEncrypt, gst_otc_encrypt, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (otcencrypt, "otcencrypt", GST_RANK_NONE,
    GST_TYPE_OTC_ENCRYPT);

static void
gst_otc_encrypt_set_secret (GstOtcEncrypt * self, const gchar * secret,
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
  GST_OBJECT_LOCK (self);
  self->secret_changes++;
  self->missing_posted = FALSE;
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
gst_otc_encrypt_get_stats (GstOtcEncrypt * self)
{
  const OtcCipherSuiteInfo *info;
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  info = otc_cipher_suite_get_info (self->encryptor ?
      otc_frame_encryptor_get_suite (self->encryptor) : self->suite);
  s = gst_structure_new ("application/x-otc-encrypt-stats",
      "frames-in", G_TYPE_UINT64, self->frames_in,
      "frames-protected", G_TYPE_UINT64, self->frames_protected,
      "bytes-in", G_TYPE_UINT64, self->bytes_in,
      "bytes-out", G_TYPE_UINT64, self->bytes_out,
      "clear-bytes", G_TYPE_UINT64, self->clear_bytes,
      "frames-dropped-no-secret", G_TYPE_UINT64, self->dropped_no_secret,
      "frames-dropped-error", G_TYPE_UINT64, self->dropped_errors,
      "secret-changes", G_TYPE_UINT, self->secret_changes,
      "secret-pending", G_TYPE_BOOLEAN,
      gst_otc_secret_holder_is_pending (&self->secret),
      "cipher-suite", G_TYPE_STRING, info->nick, NULL);
  if (self->encryptor != NULL) {
    gst_structure_set (s,
        "key-id", G_TYPE_UINT64,
        otc_frame_encryptor_get_key_id (self->encryptor),
        "counter", G_TYPE_UINT64,
        otc_frame_encryptor_get_counter (self->encryptor),
        "key-ready", G_TYPE_BOOLEAN,
        otc_frame_encryptor_has_secret (self->encryptor), NULL);
  }
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_otc_encrypt_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (object);

  switch (prop_id) {
    case PROP_ENCRYPTION_SECRET:
      gst_otc_encrypt_set_secret (self, g_value_get_string (value), FALSE);
      break;
    case PROP_ENCRYPTION_SECRET_FILE:
      gst_otc_encrypt_set_secret (self, g_value_get_string (value), TRUE);
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
    case PROP_KEY_ID:
      GST_OBJECT_LOCK (self);
      self->key_id = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_otc_encrypt_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (object);

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
    case PROP_KEY_ID:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->key_id);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_otc_encrypt_get_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static gboolean
gst_otc_encrypt_start (GstBaseTransform * trans)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (trans);
  GError *error = NULL;
  OtcFrameEncryptor *enc;

  if (!gst_otc_secret_holder_start (&self->secret, &error)) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not derive the encryption key"), ("%s", error->message));
    g_error_free (error);
    return FALSE;
  }

  GST_OBJECT_LOCK (self);
  /* key-id 0: a fresh random KID at every start (format page, section 5) */
  enc = otc_frame_encryptor_new (self->suite, self->key_id, 0);
  self->encryptor = enc;
  self->key_serial = -1;
  self->missing_posted = FALSE;
  self->unsupported_posted = FALSE;
  self->error_limit.last_us = 0;
  self->error_limit.suppressed = 0;
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self, "Started with KID %" G_GUINT64_FORMAT,
      otc_frame_encryptor_get_key_id (enc));
  return TRUE;
}

static gboolean
gst_otc_encrypt_stop (GstBaseTransform * trans)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (trans);

  gst_otc_secret_holder_stop (&self->secret);
  GST_OBJECT_LOCK (self);
  otc_frame_encryptor_free (self->encryptor);
  self->encryptor = NULL;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_otc_encrypt_accept_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (trans);
  gboolean ok;

  ok = GST_BASE_TRANSFORM_CLASS (parent_class)->accept_caps (trans,
      direction, caps);
  if (!ok && direction == GST_PAD_SINK && !gst_caps_is_empty (caps)
      && otc_codec_from_media_type (gst_structure_get_name
          (gst_caps_get_structure (caps, 0))) == OTC_CODEC_UNKNOWN) {
    gboolean post;
    gchar *text;

    GST_OBJECT_LOCK (self);
    post = !self->unsupported_posted;
    self->unsupported_posted = TRUE;
    GST_OBJECT_UNLOCK (self);
    if (post) {
      text = g_strdup_printf ("otcencrypt handles VP8 and Opus, not %s",
          gst_structure_get_name (gst_caps_get_structure (caps, 0)));
      GST_WARNING_OBJECT (self, "%s", text);
      gst_otc_message_post (GST_ELEMENT (self),
          gst_otc_message_new (GST_OTC_MSG_ENCRYPTION_UNSUPPORTED_CODEC,
              OTC_E2EE_ERROR_ENCRYPTION_UNSUPPORTED_CODEC, text));
      g_free (text);
    }
  }
  return ok;
}

static gboolean
gst_otc_encrypt_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (trans);

  self->codec = otc_codec_from_media_type (gst_structure_get_name
      (gst_caps_get_structure (incaps, 0)));
  return self->codec != OTC_CODEC_UNKNOWN;
}

static gboolean
gst_otc_encrypt_transform_size (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, gsize size,
    GstCaps * othercaps, gsize * othersize)
{
  if (direction == GST_PAD_SINK)
    *othersize = size + OTC_FRAME_MAX_OVERHEAD;
  else
    *othersize = size;
  return TRUE;
}

static void
gst_otc_encrypt_report_error (GstOtcEncrypt * self, const GError * error)
{
  guint64 count;
  GstStructure *s;

  if (!gst_otc_rate_limit_allow (&self->error_limit,
          g_get_monotonic_time (), &count))
    return;
  s = gst_otc_message_new (GST_OTC_MSG_ENCRYPTION_INTERNAL,
      OTC_E2EE_ERROR_ENCRYPTION_INTERNAL, error->message);
  gst_otc_message_set_key_id (s,
      otc_frame_encryptor_get_key_id (self->encryptor));
  gst_structure_set (s, "count", G_TYPE_UINT64, count, NULL);
  gst_otc_message_post (GST_ELEMENT (self), s);
}

/* Picks up a key derived since the last frame. Streaming thread. */
static void
gst_otc_encrypt_update_key (GstOtcEncrypt * self)
{
  GError *error = NULL;
  gboolean changed;
  OtcSecretKey *key;

  key = gst_otc_secret_holder_poll_key (&self->secret, &self->key_serial,
      &changed);
  if (!changed)
    return;
  GST_OBJECT_LOCK (self);
  if (!otc_frame_encryptor_set_secret_key (self->encryptor, key, &error)) {
    GST_OBJECT_UNLOCK (self);
    GST_WARNING_OBJECT (self, "Could not set up the frame key: %s",
        error->message);
    gst_otc_encrypt_report_error (self, error);
    g_error_free (error);
  } else {
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "Frame key updated for KID %" G_GUINT64_FORMAT,
        otc_frame_encryptor_get_key_id (self->encryptor));
  }
  otc_secret_key_unref (key);
}

static GstFlowReturn
gst_otc_encrypt_transform (GstBaseTransform * trans, GstBuffer * inbuf,
    GstBuffer * outbuf)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (trans);
  GstMapInfo in, out;
  GError *error = NULL;
  guint clear_len = 0;
  gssize n;
  gboolean post_missing = FALSE;

  gst_otc_encrypt_update_key (self);

  if (!otc_frame_encryptor_has_secret (self->encryptor)) {
    /* A secret whose key is still being derived is not missing. */
    gboolean has_secret = gst_otc_secret_holder_has_secret (&self->secret);

    GST_OBJECT_LOCK (self);
    self->frames_in++;
    self->dropped_no_secret++;
    post_missing = !has_secret && !self->missing_posted;
    if (post_missing)
      self->missing_posted = TRUE;
    GST_OBJECT_UNLOCK (self);
    if (post_missing) {
      GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
          ("No encryption secret set: frames are dropped until one is"),
          (NULL));
      gst_otc_message_post (GST_ELEMENT (self),
          gst_otc_message_new (GST_OTC_MSG_SECRET_MISSING,
              OTC_E2EE_ERROR_ENCRYPTION_SECRET_MISSING,
              "No encryption secret is set: frames are dropped"));
    }
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }

  if (!gst_buffer_map (inbuf, &in, GST_MAP_READ))
    return GST_FLOW_ERROR;
  if (!gst_buffer_map (outbuf, &out, GST_MAP_WRITE)) {
    gst_buffer_unmap (inbuf, &in);
    return GST_FLOW_ERROR;
  }

  if (!otc_codec_clear_length (self->codec, in.data, in.size, &clear_len,
          &error)) {
    gst_buffer_unmap (outbuf, &out);
    gst_buffer_unmap (inbuf, &in);
    gst_otc_message_post (GST_ELEMENT (self),
        gst_otc_message_new (GST_OTC_MSG_ENCRYPTION_UNSUPPORTED_CODEC,
            error->code, error->message));
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message), (NULL));
    g_error_free (error);
    return GST_FLOW_ERROR;
  }

  GST_OBJECT_LOCK (self);
  n = otc_frame_encryptor_protect (self->encryptor, in.data, in.size,
      clear_len, out.data, out.size, &error);
  self->frames_in++;
  self->bytes_in += in.size;
  if (n >= 0) {
    self->frames_protected++;
    self->bytes_out += n;
    self->clear_bytes += MIN (clear_len, in.size);
  } else {
    self->dropped_errors++;
  }
  GST_OBJECT_UNLOCK (self);

  gst_buffer_unmap (outbuf, &out);
  gst_buffer_unmap (inbuf, &in);

  if (n < 0) {
    GST_WARNING_OBJECT (self, "Frame dropped: %s", error->message);
    gst_otc_encrypt_report_error (self, error);
    g_error_free (error);
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  gst_buffer_set_size (outbuf, n);
  return GST_FLOW_OK;
}

/* Output sizes vary per frame: buffers come from the allocator in the size
 * transform_size() gives, never from a pool of fixed-size buffers. */
static gboolean
gst_otc_encrypt_decide_allocation (GstBaseTransform * trans, GstQuery * query)
{
  while (gst_query_get_n_allocation_pools (query) > 0)
    gst_query_remove_nth_allocation_pool (query, 0);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->decide_allocation (trans,
      query);
}

/* Only metadata known to describe the encoded stream (VP8 temporal layers,
 * reference timestamps) goes with the protected frame; a meta could carry
 * plaintext (an alpha plane's encoded buffer, for instance). */
static gboolean
gst_otc_encrypt_transform_meta (GstBaseTransform * trans, GstBuffer * outbuf,
    GstMeta * meta, GstBuffer * inbuf)
{
  const gchar *api = g_type_name (meta->info->api);

  return g_strcmp0 (api, "GstVP8MetaAPI") == 0
      || g_strcmp0 (api, "GstReferenceTimestampMetaAPI") == 0;
}

static GstStateChangeReturn
gst_otc_encrypt_change_state (GstElement * element, GstStateChange transition)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (element);

  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    gst_otc_flush_pending (element, &self->pending);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

static void
gst_otc_encrypt_finalize (GObject * object)
{
  GstOtcEncrypt *self = GST_OTC_ENCRYPT (object);

  gst_otc_secret_holder_clear (&self->secret);
  if (self->pending.pending)
    gst_structure_free (self->pending.pending);
  otc_frame_encryptor_free (self->encryptor);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_otc_encrypt_init (GstOtcEncrypt * self)
{
  gst_otc_secret_holder_init (&self->secret, GST_ELEMENT (self));
  self->secret.error_message_name = GST_OTC_MSG_ENCRYPTION_INTERNAL;
  self->secret.error_code = OTC_E2EE_ERROR_ENCRYPTION_INTERNAL;
  self->suite = DEFAULT_CIPHER_SUITE;
  self->key_id = DEFAULT_KEY_ID;
}

static void
gst_otc_encrypt_class_init (GstOtcEncryptClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_otc_encrypt_debug, "otcencrypt", 0,
      "otc end-to-end encryption");

  gobject_class->set_property = gst_otc_encrypt_set_property;
  gobject_class->get_property = gst_otc_encrypt_get_property;
  gobject_class->finalize = gst_otc_encrypt_finalize;

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
  g_object_class_install_property (gobject_class, PROP_KEY_ID,
      g_param_spec_uint64 ("key-id", "Key id",
          "The SFrame key id (KID) of this sender. 0 (the default) takes a "
          "fresh random KID at every start. A fixed KID must never be used "
          "by another sender, or by another process, under the same secret "
          "(counters would repeat); within this process a restart continues "
          "its counter and a second live user is refused",
          0, G_MAXUINT64, DEFAULT_KEY_ID,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Frames and bytes protected, drops, current key id and counter",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "otc end-to-end encryptor", "Filter/Network/Encryption",
      "Encrypts encoded VP8/Opus frames with OTC-E2EE v1 (SFrame)",
      "otc developers");

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_otc_encrypt_change_state);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_otc_encrypt_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_otc_encrypt_stop);
  trans_class->accept_caps = GST_DEBUG_FUNCPTR (gst_otc_encrypt_accept_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_otc_encrypt_set_caps);
  trans_class->transform_size =
      GST_DEBUG_FUNCPTR (gst_otc_encrypt_transform_size);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_otc_encrypt_transform);
  trans_class->decide_allocation =
      GST_DEBUG_FUNCPTR (gst_otc_encrypt_decide_allocation);
  trans_class->transform_meta =
      GST_DEBUG_FUNCPTR (gst_otc_encrypt_transform_meta);
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_OTC_CIPHER_SUITE, 0);
}
