/* Recording (non-E2EE sessions): a bin per recording in the media
 * pipeline, fed from the publishers' tees like a subscriber leg:
 *
 *   tee ! queue ! rtpvp8depay ! webmmux ! filesink
 *   tee ! queue ! rtpopusdepay ! (same webmmux)
 *
 * No re-encoding. Stopping sends EOS into every input and waits until it
 * reached the file sink: webmmux writes its index and fixes up the header
 * then, so the file is complete when stop returns. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "otc-router-media-private.h"

#define GST_CAT_DEFAULT otc_router_media_debug

G_DEFINE_QUARK (otc_router_recording, otc_recording);

void
otc_recording_free (OtcRecording * rec)
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
    g_ptr_array_add (pubs, otc_media_leg_ref (pub));
  }
  g_mutex_unlock (&media->lock);

  rec = g_new0 (OtcRecording, 1);
  rec->media = media;
  rec->id = g_strdup (recording_id);
  rec->path = g_strdup (path);
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
    otc_router_media_remove_element (media, rec->bin);
    goto fail;
  }
  for (i = 0; i < rec->inputs->len; i++)
    otc_media_output_link (g_ptr_array_index (rec->inputs, i));
  GST_INFO ("recording %s: %u tracks to %s", recording_id, rec->inputs->len,
      path);
  g_ptr_array_unref (pubs);
  return TRUE;

fail:
  for (i = 0; i < rec->inputs->len; i++)
    otc_media_output_unlink (g_ptr_array_index (rec->inputs, i));
  otc_recording_free (rec);
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
