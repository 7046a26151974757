/* The media module of otc-router: one webrtcbin per leg, all in a single
 * pipeline (otc-router-media-private.h has the overview). This file: the
 * OtcRouterMedia object, its pipeline and bus, and the marshalling of
 * work to the caller's GMainContext. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gio/gio.h>

#include "otc-router-media-private.h"

GST_DEBUG_CATEGORY (otc_router_media_debug);
#define GST_CAT_DEFAULT otc_router_media_debug

G_DEFINE_QUARK (otc_router_media_error_quark, otc_router_media_error);

OtcRouterMedia *
otc_router_media_ref (OtcRouterMedia * media)
{
  g_atomic_int_inc (&media->refcount);
  return media;
}

void
otc_router_media_unref (OtcRouterMedia * media)
{
  if (!g_atomic_int_dec_and_test (&media->refcount))
    return;
  g_hash_table_unref (media->publishers);
  g_hash_table_unref (media->recordings);
  g_list_free_full (media->ice_inet_addresses, g_object_unref);
  g_strfreev (media->ice_addresses);
  if (media->dtls_identity)
    otc_dtls_identity_unref (media->dtls_identity);
  g_main_context_unref (media->context);
  g_mutex_clear (&media->lock);
  g_free (media);
}

/* Runs @func on the media's context, never inline: callers may hold locks
 * or be on a webrtcbin thread. */
void
otc_router_media_dispatch (OtcRouterMedia * media, GSourceFunc func,
    gpointer data, GDestroyNotify notify)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "otc-router-media");
  g_source_attach (source, media->context);
  g_source_unref (source);
}

void
otc_router_media_remove_element (OtcRouterMedia * media, GstElement * element)
{
  gst_element_set_locked_state (element, TRUE);
  gst_element_set_state (element, GST_STATE_NULL);
  if (GST_OBJECT_PARENT (element) == GST_OBJECT (media->pipeline))
    gst_bin_remove (GST_BIN (media->pipeline), element);
}

static gboolean
recalculate_latency_cb (OtcRouterMedia * media)
{
  if (!media->shut_down)
    gst_bin_recalculate_latency (GST_BIN (media->pipeline));
  return G_SOURCE_REMOVE;
}

/* The live leg that @object is an element of, or NULL. */
OtcMediaLeg *
otc_router_media_find_leg_locked (OtcRouterMedia * media, GstObject * object)
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
        leg = otc_router_media_find_leg_locked (media, o);
        if (leg)
          otc_media_leg_ref (leg);
        g_mutex_unlock (&media->lock);
        if (leg) {
          otc_media_leg_fail_async (leg, err->message);
          otc_media_leg_unref (leg);
          gst_object_unref (o);
          break;
        }
        rec_id = g_object_get_qdata (G_OBJECT (o), otc_recording_quark ());
        if (rec_id) {
          otc_recording_set_error (media, rec_id, err->message);
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
      otc_router_media_dispatch (media, (GSourceFunc) recalculate_latency_cb,
          otc_router_media_ref (media),
          (GDestroyNotify) otc_router_media_unref);
      break;
    default:
      break;
  }
  /* a sync handler that drops a message owns it (and with it, a reference
   * to the element that posted it: leaked, a closed leg stayed alive) */
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

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
  gst_bus_set_sync_handler (bus, bus_sync_handler, otc_router_media_ref (media),
      (GDestroyNotify) otc_router_media_unref);
  gst_object_unref (bus);
  if (gst_element_set_state (media->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, OTC_ROUTER_MEDIA_ERROR, OTC_ROUTER_MEDIA_ERROR_FAILED,
        "could not start the media pipeline");
    gst_object_unref (media->pipeline);
    otc_router_media_unref (media);
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
  legs = g_list_copy_deep (media->legs, otc_media_leg_copy, NULL);
  g_mutex_unlock (&media->lock);
  /* publishers first: they take their subscribers along */
  for (l = legs; l; l = l->next) {
    OtcMediaLeg *leg = l->data;

    if (leg->role == LEG_PUBLISHER)
      otc_media_leg_teardown (leg);
  }
  for (l = legs; l; l = l->next) {
    OtcMediaLeg *leg = l->data;

    otc_media_leg_teardown (leg);
    /* the caller's handles die with the media */
    if (!leg->user_closed) {
      leg->user_closed = TRUE;
      otc_media_leg_unref (leg);
    }
  }
  g_list_free_full (legs, (GDestroyNotify) otc_media_leg_unref);

  gst_element_set_state (media->pipeline, GST_STATE_NULL);
  bus = gst_element_get_bus (media->pipeline);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  gst_clear_object (&media->pipeline);
  otc_router_media_unref (media);
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
