#include <gst/check/gstcheck.h>
#include <string.h>

#include "participant.h"

static GMutex changed_lock;
static GCond changed;
static GList *live;             /* participants not freed yet */

static void
notify_changed (void)
{
  g_mutex_lock (&changed_lock);
  g_cond_broadcast (&changed);
  g_mutex_unlock (&changed_lock);
}

gboolean
participants_wait (gboolean (*done) (gpointer), gpointer data,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean ok;

  g_mutex_lock (&changed_lock);
  while (!(ok = done (data))) {
    /* a bounded wait: conditions may also change without a record */
    gint64 next = MIN (end, g_get_monotonic_time () + 50 * 1000);

    if (g_get_monotonic_time () >= end)
      break;
    g_cond_wait_until (&changed, &changed_lock, next);
  }
  g_mutex_unlock (&changed_lock);
  return ok;
}

static GstBusSyncReply
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Participant *p = user_data;
  const GstStructure *s = gst_message_get_structure (msg);
  GstStructure *copy = NULL;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && s
      && g_str_has_prefix (gst_structure_get_name (s), "otc-")) {
    copy = gst_structure_copy (s);
    gst_structure_set (copy, "at-us", G_TYPE_INT64, g_get_monotonic_time (),
        NULL);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    copy = gst_structure_new_empty ("eos");
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *e = NULL;

    gst_message_parse_error (msg, &e, NULL);
    copy = gst_structure_new ("error", "message", G_TYPE_STRING, e->message,
        "from", G_TYPE_STRING, GST_MESSAGE_SRC_NAME (msg), NULL);
    g_error_free (e);
  }
  if (copy) {
    g_mutex_lock (&p->lock);
    g_ptr_array_add (p->messages, copy);
    g_mutex_unlock (&p->lock);
    notify_changed ();
  }
  gst_message_unref (msg);      /* dropped here: ours to free */
  return GST_BUS_DROP;
}

static GPtrArray *
received_for (Participant * p, const gchar * stream_id)
{
  GPtrArray *a = g_hash_table_lookup (p->received, stream_id);

  if (a == NULL) {
    a = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
    g_hash_table_insert (p->received, g_strdup (stream_id), a);
  }
  return a;
}

typedef struct
{
  Participant *p;
  gchar *stream_id;
  gboolean keep;
} Collect;

static void
collect_free (gpointer data)
{
  Collect *c = data;

  g_free (c->stream_id);
  g_free (c);
}

static GstPadProbeReturn
collect_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Collect *c = user_data;
  Participant *p = c->p;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);

  g_mutex_lock (&p->lock);
  if (c->stream_id == NULL) {
    g_ptr_array_add (p->sent, gst_buffer_copy_deep (b));
  } else if (c->keep) {
    g_ptr_array_add (received_for (p, c->stream_id), gst_buffer_copy_deep (b));
    p->last_frame_us = g_get_monotonic_time ();
  } else {
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (p->decoded,
            c->stream_id));

    g_hash_table_insert (p->decoded, g_strdup (c->stream_id),
        GUINT_TO_POINTER (n + 1));
    p->last_frame_us = g_get_monotonic_time ();
  }
  g_mutex_unlock (&p->lock);
  notify_changed ();
  return GST_PAD_PROBE_OK;
}

static void
add_collector (Participant * p, GstPad * pad, const gchar * stream_id,
    gboolean keep)
{
  Collect *c = g_new0 (Collect, 1);

  c->p = p;
  c->stream_id = g_strdup (stream_id);
  c->keep = keep;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_probe, c,
      collect_free);
}

/* video_<id> / audio_<id>: linked to a sink that takes only the encoded
 * frames, or to a converter (then the element decodes). */
static void
on_pad_added (GstElement * element, GstPad * pad, gpointer user_data)
{
  Participant *p = user_data;
  const gchar *name = GST_PAD_NAME (pad);
  gboolean video = g_str_has_prefix (name, "video_");
  const gchar *stream_id = strchr (name, '_') + 1;
  gchar *desc;
  GstElement *bin;
  GstPad *sink, *probed;
  GstElement *fakesink;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  if (p->encoded)
    desc = g_strdup_printf ("capsfilter caps=%s ! fakesink name=sink "
        "sync=false async=false", video ? "video/x-vp8" : "audio/x-opus");
  else
    desc = g_strdup_printf ("%s ! fakesink name=sink sync=false async=false",
        video ? "videoconvert" : "audioconvert");
  bin = gst_parse_bin_from_description (desc, TRUE, NULL);
  g_free (desc);
  gst_bin_add (GST_BIN (GST_OBJECT_PARENT (p->session)), bin);
  sink = gst_element_get_static_pad (bin, "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK) {
    /* a streaming thread: no check assertion here, the test sees it */
    g_mutex_lock (&p->lock);
    g_ptr_array_add (p->messages, gst_structure_new ("error", "message",
            G_TYPE_STRING, "cannot link a received pad", NULL));
    g_mutex_unlock (&p->lock);
  }
  gst_object_unref (sink);
  fakesink = gst_bin_get_by_name (GST_BIN (bin), "sink");
  probed = gst_element_get_static_pad (fakesink, "sink");
  /* audio is counted, video kept (encoded) or counted (decoded) */
  add_collector (p, probed, stream_id, p->encoded && video);
  gst_object_unref (probed);
  gst_object_unref (fakesink);
  gst_element_sync_state_with_parent (bin);
}

static Participant *
participant_new (const gchar * name, const gchar * desc, const gchar * url,
    const gchar * token, const gchar * secret)
{
  Participant *p = g_new0 (Participant, 1);
  GError *error = NULL;
  GstBus *bus;
  GstElement *venc;

  p->name = g_strdup (name);
  live = g_list_prepend (live, p);
  g_mutex_init (&p->lock);
  p->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  p->sent = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  p->received = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_ptr_array_unref);
  p->decoded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  {
    /* in a bin even when @desc is one element, in a pipeline */
    GstElement *bin = gst_parse_launch_full (desc, NULL,
        GST_PARSE_FLAG_PLACE_IN_BIN, &error);

    fail_unless (bin != NULL, "%s", error ? error->message : "");
    p->pipeline = gst_pipeline_new (name);
    gst_bin_add (GST_BIN (p->pipeline), bin);
  }
  p->session = gst_bin_get_by_name (GST_BIN (p->pipeline), "s");
  fail_unless (p->session != NULL);
  g_object_set (p->session, "url", url, "token", token, NULL);
  if (secret)
    g_object_set (p->session, "encryption-secret", secret, NULL);
  g_signal_connect (p->session, "pad-added", G_CALLBACK (on_pad_added), p);
  bus = gst_element_get_bus (p->pipeline);
  gst_bus_set_sync_handler (bus, on_bus, p, NULL);
  gst_object_unref (bus);
  venc = gst_bin_get_by_name (GST_BIN (p->pipeline), "venc");
  if (venc) {
    GstPad *src = gst_element_get_static_pad (venc, "src");

    add_collector (p, src, NULL, TRUE);
    gst_object_unref (src);
    gst_object_unref (venc);
  }
  return p;
}

#define TEST_VIDEO "videotestsrc is-live=true pattern=ball " \
  "! video/x-raw,width=320,height=240,framerate=30/1 "

Participant *
participant_new_publisher (const gchar * name, const gchar * url,
    const gchar * token, const gchar * factory, const gchar * secret)
{
  gchar *desc = g_strdup_printf (TEST_VIDEO "! vp8enc name=venc deadline=1 "
      "keyframe-max-dist=300 ! %s name=s", factory);
  Participant *p = participant_new (name, desc, url, token, secret);

  g_free (desc);
  return p;
}

Participant *
participant_new_raw_publisher (const gchar * name, const gchar * url,
    const gchar * token, const gchar * secret)
{
  return participant_new (name, "otcsink name=s " TEST_VIDEO "! s.video_0 "
      "audiotestsrc is-live=true ! s.audio_0", url, token, secret);
}

Participant *
participant_new_subscriber (const gchar * name, const gchar * url,
    const gchar * token, const gchar * secret, gboolean encoded)
{
  Participant *p = participant_new (name, "otcsrc name=s", url, token,
      secret);

  p->encoded = encoded;
  return p;
}

Participant *
participant_new_both (const gchar * name, const gchar * url,
    const gchar * token, const gchar * secret)
{
  Participant *p = participant_new (name, TEST_VIDEO "! vp8enc name=venc "
      "deadline=1 keyframe-max-dist=300 ! otcsession name=s", url, token,
      secret);

  p->encoded = TRUE;
  return p;
}

GstStateChangeReturn
participant_start (Participant * p)
{
  p->start_result = gst_element_set_state (p->pipeline, GST_STATE_PLAYING);
  return p->start_result;
}

void
participant_free (Participant * p)
{
  live = g_list_remove (live, p);
  fail_unless (gst_element_set_state (p->pipeline, GST_STATE_NULL) ==
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (p->session);
  gst_object_unref (p->pipeline);
  g_ptr_array_unref (p->messages);
  g_ptr_array_unref (p->sent);
  g_hash_table_unref (p->received);
  g_hash_table_unref (p->decoded);
  g_mutex_clear (&p->lock);
  g_free (p->name);
  g_free (p);
}

void
participants_teardown (void)
{
  /* after a failed check: stop what is left, or its threads outlive the
   * test (and gst-check waits for them) */
  while (live) {
    Participant *p = live->data;

    live = g_list_delete_link (live, live);
    gst_element_set_state (p->pipeline, GST_STATE_NULL);
    gst_object_unref (p->session);
    gst_object_unref (p->pipeline);
  }
}

guint
participant_count (Participant * p, const gchar * name, const gchar * field,
    const gchar * value)
{
  guint i, n = 0;

  g_mutex_lock (&p->lock);
  for (i = 0; i < p->messages->len; i++) {
    GstStructure *s = g_ptr_array_index (p->messages, i);

    if (gst_structure_has_name (s, name) && (field == NULL
            || g_strcmp0 (gst_structure_get_string (s, field), value) == 0))
      n++;
  }
  g_mutex_unlock (&p->lock);
  return n;
}

GstStructure *
participant_last (Participant * p, const gchar * name)
{
  GstStructure *found = NULL;
  guint i;

  g_mutex_lock (&p->lock);
  for (i = p->messages->len; i > 0 && !found; i--) {
    GstStructure *s = g_ptr_array_index (p->messages, i - 1);

    if (gst_structure_has_name (s, name))
      found = gst_structure_copy (s);
  }
  g_mutex_unlock (&p->lock);
  return found;
}

guint
participant_n_received (Participant * p, const gchar * stream_id)
{
  GPtrArray *a;
  guint n;

  g_mutex_lock (&p->lock);
  a = stream_id ? g_hash_table_lookup (p->received, stream_id) : NULL;
  n = a ? a->len : 0;
  g_mutex_unlock (&p->lock);
  return n;
}

guint
participant_n_decoded (Participant * p, const gchar * stream_id)
{
  guint n;

  g_mutex_lock (&p->lock);
  n = stream_id ? GPOINTER_TO_UINT (g_hash_table_lookup (p->decoded,
          stream_id)) : 0;
  g_mutex_unlock (&p->lock);
  return n;
}

gchar *
participant_published_id (Participant * p)
{
  GstStructure *s = participant_last (p, "otc-stream-published");
  gchar *id;

  if (s == NULL)
    return NULL;
  id = g_strdup (gst_structure_get_string (s, "stream-id"));
  gst_structure_free (s);
  return id;
}

static gboolean
same_bytes (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;
  gboolean same;

  if (gst_buffer_get_size (a) != gst_buffer_get_size (b))
    return FALSE;
  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  same = memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return same;
}

guint
participant_check_frames (Participant * pub, Participant * sub,
    const gchar * stream_id, guint * gaps)
{
  GPtrArray *got;
  guint i, j = 0, first = G_MAXUINT, n;

  g_mutex_lock (&pub->lock);
  g_mutex_lock (&sub->lock);
  got = g_hash_table_lookup (sub->received, stream_id);
  n = got ? got->len : 0;
  *gaps = 0;
  for (i = 0; i < n; i++) {
    GstBuffer *b = g_ptr_array_index (got, i);
    guint from = j;

    while (j < pub->sent->len && !same_bytes (g_ptr_array_index (pub->sent,
                j), b))
      j++;
    fail_unless (j < pub->sent->len, "%s: frame %u of %u received from %s "
        "(%" G_GSIZE_FORMAT " bytes) is none that %s sent, in order",
        sub->name, i, n, stream_id, gst_buffer_get_size (b), pub->name);
    if (first == G_MAXUINT)
      first = j;
    else
      *gaps += j - from;
    j++;
  }
  g_mutex_unlock (&sub->lock);
  g_mutex_unlock (&pub->lock);
  return n;
}
