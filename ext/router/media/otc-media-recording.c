/* Recording (non-E2EE sessions): a bin per recording in the media
 * pipeline, fed from the publishers' tees like a subscriber leg:
 *
 *   tee ! queue ! rtpvp8depay ! webmmux ! filesink
 *   tee ! queue ! rtpopusdepay ! (same webmmux)
 *
 * No re-encoding. A recording may be started before its streams' media has
 * arrived (a tee exists only once RTP came in): it waits, and its inputs
 * are made all at once when every m-line of its streams has a tee, since
 * webmmux takes no new track once it has begun writing. Stopping sends EOS
 * into every input and waits until it reached the file sink: webmmux
 * writes its index and fixes up the header then, so the file is complete
 * when stop returns. Stopped while still waiting: no file at all. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib/gstdio.h>
#include <unistd.h>

#include "otc-router-media-private.h"

#define GST_CAT_DEFAULT otc_router_media_debug

G_DEFINE_QUARK (otc_router_recording, otc_recording);

void
otc_recording_free (OtcRecording * rec)
{
  g_ptr_array_unref (rec->inputs);
  g_ptr_array_unref (rec->publishers);
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

void
otc_recording_set_error (OtcRouterMedia * media, const gchar * id,
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

/* Context thread: this input ends (stop, or its publisher left). */
void
otc_recording_input_finish (OtcOutput * in)
{
  if (in->eos_sent)
    return;
  in->eos_sent = TRUE;
  otc_media_output_unlink (in);
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
  g_ptr_array_add (rec->inputs, otc_media_output_new (pub, index, NULL, ghost));
  return TRUE;
}

/* Under media->lock: every m-line of the publishers still there has media,
 * and there is at least one. */
static gboolean
recording_is_ready_locked (OtcRecording * rec)
{
  guint i, j, tracks = 0;

  for (i = 0; i < rec->publishers->len; i++) {
    OtcMediaLeg *pub = g_ptr_array_index (rec->publishers, i);

    if (pub->closing)
      continue;
    for (j = 0; j < pub->streams->len; j++) {
      if (((OtcPublisherStream *) g_ptr_array_index (pub->streams,
                  j))->tee == NULL)
        return FALSE;
      tracks++;
    }
  }
  return tracks > 0;
}

/* Context thread: the inputs of every publisher still there, then the bin
 * goes into the pipeline and the inputs are linked to the tees. */
static gboolean
recording_start (OtcRecording * rec, GError ** error)
{
  OtcRouterMedia *media = rec->media;
  guint i, j;

  rec->started = TRUE;
  for (i = 0; i < rec->publishers->len; i++) {
    OtcMediaLeg *pub = g_ptr_array_index (rec->publishers, i);
    gboolean closing;

    g_mutex_lock (&media->lock);
    closing = pub->closing;
    g_mutex_unlock (&media->lock);
    if (closing)
      continue;
    for (j = 0; j < pub->streams->len; j++) {
      if (!recording_add_input (rec, pub, j, error))
        return FALSE;
    }
  }
  gst_bin_add (GST_BIN (media->pipeline), rec->bin);
  if (!gst_element_sync_state_with_parent (rec->bin)) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "cannot record to %s", rec->path);
    return FALSE;
  }
  for (i = 0; i < rec->inputs->len; i++)
    otc_media_output_link (g_ptr_array_index (rec->inputs, i));
  GST_INFO ("recording %s: %u tracks to %s", rec->id, rec->inputs->len,
      rec->path);
  return TRUE;
}

/* Context thread: undoes a recording_start() that failed. */
static void
recording_abort (OtcRecording * rec)
{
  guint i;

  for (i = 0; i < rec->inputs->len; i++)
    otc_media_output_unlink (g_ptr_array_index (rec->inputs, i));
  otc_router_media_remove_element (rec->media, rec->bin);
}

/* Context thread, when a publisher stream's media arrived or a publisher
 * left: the waiting recordings that can begin now begin. One that fails
 * keeps its error for stop_recording. */
void
otc_recording_start_ready (OtcRouterMedia * media)
{
  GPtrArray *ready = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  guint i;

  g_mutex_lock (&media->lock);
  if (!media->shut_down) {
    g_hash_table_iter_init (&it, media->recordings);
    while (g_hash_table_iter_next (&it, NULL, &value)) {
      OtcRecording *rec = value;

      if (!rec->started && recording_is_ready_locked (rec))
        g_ptr_array_add (ready, rec);
    }
  }
  g_mutex_unlock (&media->lock);

  /* recordings are freed on this thread only: these stay valid */
  for (i = 0; i < ready->len; i++) {
    OtcRecording *rec = g_ptr_array_index (ready, i);
    GError *err = NULL;

    if (!recording_start (rec, &err)) {
      GST_WARNING ("recording %s could not start: %s", rec->id, err->message);
      recording_abort (rec);
      g_mutex_lock (&rec->lock);
      if (rec->error == NULL)
        rec->error = g_strdup (err->message);
      g_cond_broadcast (&rec->cond);
      g_mutex_unlock (&rec->lock);
      g_clear_error (&err);
    }
  }
  g_ptr_array_unref (ready);
}

static OtcRecording *
recording_new (OtcRouterMedia * media, const gchar * recording_id,
    GPtrArray * publishers, const gchar * path, GError ** error)
{
  OtcRecording *rec;
  GstElement *sink;
  GstPad *sink_pad;
  gchar *name;

  rec = g_new0 (OtcRecording, 1);
  rec->media = media;
  rec->id = g_strdup (recording_id);
  rec->path = g_strdup (path);
  rec->publishers = g_ptr_array_ref (publishers);
  g_mutex_init (&rec->lock);
  g_cond_init (&rec->cond);
  rec->inputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
      otc_media_output_unref);
  name = g_strdup_printf ("rec%u", media->recording_serial++);
  rec->bin = gst_bin_new (name);
  g_free (name);
  gst_object_ref_sink (rec->bin);
  g_object_set_qdata_full (G_OBJECT (rec->bin), otc_recording_quark (),
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
    otc_recording_free (rec);
    return NULL;
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
  return rec;
}

gboolean
otc_router_media_start_recording (OtcRouterMedia * media,
    const gchar * recording_id, const gchar * const *stream_ids,
    const gchar * path, GError ** error)
{
  OtcRecording *rec;
  GPtrArray *pubs;
  gboolean ready;
  guint i;

  g_return_val_if_fail (media != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (recording_id == NULL || *recording_id == '\0' || stream_ids == NULL
      || stream_ids[0] == NULL || path == NULL || *path == '\0') {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
        OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT,
        "a recording needs an id, streams and a path");
    return FALSE;
  }
  /* the file is written only once the media arrives: a directory that
   * cannot take it is refused now, not then */
  {
    gchar *dir = g_path_get_dirname (path);
    gboolean ok = g_file_test (dir, G_FILE_TEST_IS_DIR)
        && g_access (dir, W_OK) == 0;

    if (!ok)
      g_set_error (error, OTC_ROUTER_MEDIA_ERROR,
          OTC_ROUTER_MEDIA_ERROR_INVALID_ARGUMENT,
          "cannot write a recording in %s", dir);
    g_free (dir);
    if (!ok)
      return FALSE;
  }

  pubs = g_ptr_array_new_with_free_func ((GDestroyNotify) otc_media_leg_unref);
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
    if (!g_ptr_array_find (pubs, pub, NULL))
      g_ptr_array_add (pubs, otc_media_leg_ref (pub));
  }
  g_mutex_unlock (&media->lock);

  rec = recording_new (media, recording_id, pubs, path, error);
  g_ptr_array_unref (pubs);
  if (rec == NULL)
    return FALSE;

  g_mutex_lock (&media->lock);
  g_hash_table_insert (media->recordings, rec->id, rec);
  ready = recording_is_ready_locked (rec);
  g_mutex_unlock (&media->lock);
  if (!ready) {
    /* otc_recording_start_ready() starts it */
    GST_INFO ("recording %s to %s waits for the media of its streams",
        recording_id, path);
    return TRUE;
  }
  if (!recording_start (rec, error)) {
    recording_abort (rec);
    g_mutex_lock (&media->lock);
    g_hash_table_remove (media->recordings, rec->id);
    g_mutex_unlock (&media->lock);
    otc_recording_free (rec);
    return FALSE;
  }
  return TRUE;
}

gboolean
otc_router_media_recording_has_ended (OtcRouterMedia * media,
    const gchar * recording_id)
{
  OtcRecording *rec;
  gboolean ended = FALSE;
  guint i;

  g_return_val_if_fail (media != NULL, FALSE);

  g_mutex_lock (&media->lock);
  rec = recording_id ? g_hash_table_lookup (media->recordings,
      recording_id) : NULL;
  if (rec) {
    ended = TRUE;
    for (i = 0; i < rec->publishers->len; i++)
      ended = ended && ((OtcMediaLeg *) g_ptr_array_index (rec->publishers,
              i))->closing;
  }
  g_mutex_unlock (&media->lock);
  return ended;
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

  if (!rec->started) {
    /* nothing was written: no file */
    g_mutex_lock (&media->lock);
    g_hash_table_remove (media->recordings, rec->id);
    g_mutex_unlock (&media->lock);
    GST_INFO ("recording %s stopped before its media arrived: no file",
        rec->id);
    otc_recording_free (rec);
    return TRUE;
  }

  for (i = 0; i < rec->inputs->len; i++)
    otc_recording_input_finish (g_ptr_array_index (rec->inputs, i));
  /* webmmux writes its index and fixes the header on EOS */
  deadline = g_get_monotonic_time () +
      OTC_RECORDING_FINALISE_TIMEOUT_S * G_TIME_SPAN_SECOND;
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
  otc_router_media_remove_element (media, rec->bin);
  if (!finished)
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "recording %s to %s was not finalised: %s", rec->id, rec->path,
        rec->error ? rec->error : "timeout");
  GST_INFO ("recording %s stopped (%s)", rec->id, finished ? "complete" :
      "incomplete");
  otc_recording_free (rec);
  return finished;
}
