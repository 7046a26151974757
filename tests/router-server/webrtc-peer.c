#include <agent.h>
#include <string.h>

#include "webrtc-peer.h"

typedef struct
{
  gchar *kind;                  /* "sdp" or "candidate" */
  gchar *text;
  guint mline;
} PeerEvent;

static void
peer_event_free (PeerEvent * e)
{
  g_free (e->kind);
  g_free (e->text);
  g_free (e);
}

static void
push_event (TestPeer * p, const gchar * kind, const gchar * text, guint mline)
{
  PeerEvent *e = g_new0 (PeerEvent, 1);

  e->kind = g_strdup (kind);
  e->text = g_strdup (text);
  e->mline = mline;
  g_async_queue_push (p->events, e);
}

static void
on_ice_candidate (GstElement * webrtc, guint mline, gchar * candidate,
    gpointer user_data)
{
  push_event (user_data, "candidate", candidate, mline);
}

static void
on_local_description (GstPromise * promise, gpointer user_data)
{
  TestPeer *p = user_data;
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *desc = NULL;
  const gchar *field = p->publisher ? "offer" : "answer";
  gchar *sdp;

  if (reply != NULL)
    gst_structure_get (reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
        &desc, NULL);
  gst_promise_unref (promise);
  if (desc == NULL)
    return;                     /* interrupted: the peer is going away */
  /* queued before it is set: candidates (gathered from then on) must not
   * reach the router ahead of the description */
  sdp = gst_sdp_message_as_text (desc->sdp);
  push_event (p, "sdp", sdp, 0);
  g_free (sdp);
  g_signal_emit_by_name (p->webrtc, "set-local-description", desc, NULL);
  gst_webrtc_session_description_free (desc);
}

static void
on_negotiation_needed (GstElement * webrtc, gpointer user_data)
{
  TestPeer *p = user_data;

  if (!p->publisher)
    return;
  g_signal_emit_by_name (webrtc, "create-offer", NULL,
      gst_promise_new_with_change_func (on_local_description, p, NULL));
}

static GstPadProbeReturn
collect (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  TestPeer *p = user_data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);

  g_mutex_lock (&p->lock);
  g_ptr_array_add (p->frames, gst_buffer_copy_deep (b));
  g_mutex_unlock (&p->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
collect_plain (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  TestPeer *p = user_data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  guint8 first = 1;

  gst_buffer_extract (b, 0, &first, 1);
  g_mutex_lock (&p->lock);
  g_ptr_array_add (p->plain, gst_buffer_copy_deep (b));
  if ((first & 1) == 0)
    p->keyframes++;
  g_mutex_unlock (&p->lock);
  return GST_PAD_PROBE_OK;
}

static void
probe_pad (GstElement * bin, const gchar * element, const gchar * pad_name,
    GstPadProbeCallback cb, TestPeer * p)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (bin), element);
  GstPad *pad = gst_element_get_static_pad (e, pad_name);

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, cb, p, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

static TestPeer *
peer_new (TestClient * sig, gboolean publisher)
{
  TestPeer *p = g_new0 (TestPeer, 1);

  p->sig = sig;
  p->publisher = publisher;
  p->events = g_async_queue_new_full ((GDestroyNotify) peer_event_free);
  p->frames = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  p->plain = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  g_mutex_init (&p->lock);
  return p;
}

/* ICE on 127.0.0.1 only (libnice leaves loopback out by default). */
static void
restrict_ice_to_loopback (GstElement * webrtc)
{
  GObject *ice = NULL, *agent = NULL;
  NiceAddress addr;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  fail_unless (ice != NULL);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "ice-tcp"))
    g_object_set (ice, "ice-tcp", FALSE, NULL);
  g_object_get (ice, "agent", &agent, NULL);
  fail_unless (agent != NULL);
  nice_address_init (&addr);
  fail_unless (nice_address_set_from_string (&addr, "127.0.0.1"));
  fail_unless (nice_agent_add_local_address (NICE_AGENT (agent), &addr));
  g_object_unref (agent);
  g_object_unref (ice);
}

static void
connect_webrtc (TestPeer * p)
{
  p->webrtc = gst_bin_get_by_name (GST_BIN (p->pipeline), "w");
  restrict_ice_to_loopback (p->webrtc);
  g_signal_connect (p->webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), p);
  g_signal_connect (p->webrtc, "on-negotiation-needed",
      G_CALLBACK (on_negotiation_needed), p);
}

TestPeer *
test_peer_publish (TestClient * sig, const gchar * session_id,
    const gchar * secret)
{
  TestPeer *p = peer_new (sig, TRUE);
  /* few natural key frames: subscribers depend on the router's requests */
  gchar *enc = secret ? g_strdup_printf ("otcencrypt name=enc session-id=%s "
      "encryption-secret=\"%s\"", session_id, secret) :
      g_strdup ("identity name=enc");
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball "
      "! video/x-raw,width=320,height=240,framerate=30/1 "
      "! vp8enc deadline=1 keyframe-max-dist=300 name=venc ! %s "
      "! rtpvp8pay pt=96 ! queue ! w. "
      "webrtcbin name=w bundle-policy=max-bundle latency=50", enc);
  GstWebRTCRTPTransceiver *trans = NULL;
  GError *error = NULL;

  p->pipeline = gst_parse_launch (desc, &error);
  fail_unless (p->pipeline != NULL, "%s", error ? error->message : "");
  g_free (desc);
  g_free (enc);
  connect_webrtc (p);
  g_signal_emit_by_name (p->webrtc, "get-transceiver", 0, &trans);
  fail_unless (trans != NULL);
  g_object_set (trans, "direction",
      GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
  gst_object_unref (trans);
  probe_pad (p->pipeline, "enc", "src", collect, p);
  probe_pad (p->pipeline, "enc", "sink", collect_plain, p);
  fail_unless (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  return p;
}

static void
on_pad_added (GstElement * webrtc, GstPad * pad, gpointer user_data)
{
  TestPeer *p = user_data;
  GstElement *bin;
  GstPad *sink;
  gchar *desc;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  desc = g_strdup_printf ("rtpvp8depay name=depay ! otcdecrypt name=dec "
      "session-id=%s encryption-secret=\"%s\" mismatch-delay=0 "
      "! fakesink name=sink sync=false",
      (gchar *) g_object_get_data (G_OBJECT (webrtc), "sid"),
      (gchar *) g_object_get_data (G_OBJECT (webrtc), "secret"));
  bin = gst_parse_bin_from_description (desc, TRUE, NULL);
  g_free (desc);
  gst_object_set_name (GST_OBJECT (bin), "rx");
  gst_bin_add (GST_BIN (p->pipeline), bin);
  probe_pad (bin, "depay", "src", collect, p);
  sink = gst_element_get_static_pad (bin, "sink");
  fail_unless_equals_int (gst_pad_link (pad, sink), GST_PAD_LINK_OK);
  gst_object_unref (sink);
  gst_element_sync_state_with_parent (bin);
}

TestPeer *
test_peer_subscribe (TestClient * sig, const gchar * stream_id,
    const gchar * session_id, const gchar * secret)
{
  TestPeer *p = peer_new (sig, FALSE);
  gchar *m;

  p->pipeline = gst_pipeline_new (NULL);
  p->webrtc = gst_element_factory_make ("webrtcbin", "w");
  g_object_set (p->webrtc, "bundle-policy",
      GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", 50, NULL);
  gst_bin_add (GST_BIN (p->pipeline), p->webrtc);
  connect_webrtc (p);
  g_object_set_data_full (G_OBJECT (p->webrtc), "sid", g_strdup (session_id),
      g_free);
  g_object_set_data_full (G_OBJECT (p->webrtc), "secret", g_strdup (secret),
      g_free);
  g_signal_connect (p->webrtc, "pad-added", G_CALLBACK (on_pad_added), p);
  fail_unless (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  p->stream_id = g_strdup (stream_id);
  m = g_strdup_printf ("{\"type\":\"subscribe\",\"streamId\":\"%s\"}",
      stream_id);
  test_client_send (sig, m);
  g_free (m);
  return p;
}

static void
send_candidate (TestPeer * p, guint mline, const gchar * candidate)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "type", "candidate");
  json_object_set_string_member (o, "legId", p->leg_id);
  json_object_set_int_member (o, "mline", mline);
  json_object_set_string_member (o, "candidate", candidate);
  test_client_send_object (p->sig, o);
}

static void
set_remote (TestPeer * p, const gchar * type, const gchar * text)
{
  GstSDPMessage *sdp;
  GstWebRTCSessionDescription *desc;

  fail_unless (gst_sdp_message_new_from_text (text, &sdp) == GST_SDP_OK);
  desc = gst_webrtc_session_description_new (g_str_equal (type, "offer") ?
      GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
  g_signal_emit_by_name (p->webrtc, "set-remote-description", desc, NULL);
  gst_webrtc_session_description_free (desc);
  if (!p->publisher)
    g_signal_emit_by_name (p->webrtc, "create-answer", NULL,
        gst_promise_new_with_change_func (on_local_description, p, NULL));
}

void
test_peer_pump (TestPeer * p)
{
  PeerEvent *e;
  GList *l, *next;

  /* router -> webrtcbin */
  for (l = p->sig->messages.head; l; l = next) {
    JsonObject *o = l->data;
    const gchar *type = json_object_get_string_member_with_default (o, "type",
        "");
    gboolean mine = FALSE;

    next = l->next;
    if (p->publisher && g_str_equal (type, "publishAnswer") && !p->leg_id) {
      p->leg_id = g_strdup (json_object_get_string_member (o, "streamId"));
      p->stream_id = g_strdup (p->leg_id);
      set_remote (p, "answer", json_object_get_string_member (o, "sdp"));
      mine = TRUE;
    } else if (!p->publisher && g_str_equal (type, "subscribeOffer")
        && !p->leg_id && g_strcmp0 (json_object_get_string_member (o,
                "streamId"), p->stream_id) == 0) {
      p->leg_id = g_strdup (json_object_get_string_member (o,
              "subscriptionId"));
      set_remote (p, "offer", json_object_get_string_member (o, "sdp"));
      mine = TRUE;
    } else if (g_str_equal (type, "candidate") && p->leg_id
        && g_strcmp0 (json_object_get_string_member (o, "legId"),
            p->leg_id) == 0) {
      g_signal_emit_by_name (p->webrtc, "add-ice-candidate",
          (guint) json_object_get_int_member (o, "mline"),
          json_object_get_string_member (o, "candidate"));
      mine = TRUE;
    }
    if (mine) {
      json_object_unref (o);
      g_queue_delete_link (&p->sig->messages, l);
    }
  }

  /* webrtcbin -> router; candidates wait for the leg id */
  if (p->leg_id == NULL && !p->publisher)
    return;
  while ((e = g_async_queue_try_pop (p->events)) != NULL) {
    if (g_str_equal (e->kind, "sdp")) {
      JsonObject *o;

      if (p->publisher && p->offered) {
        peer_event_free (e);    /* renegotiation: not used by these tests */
        continue;
      }
      o = json_object_new ();
      if (p->publisher) {
        p->offered = TRUE;
        json_object_set_string_member (o, "type", "publish");
        json_object_set_string_member (o, "name", "test video");
        json_object_set_boolean_member (o, "hasAudio", FALSE);
        json_object_set_boolean_member (o, "hasVideo", TRUE);
      } else {
        json_object_set_string_member (o, "type", "subscribeAnswer");
        json_object_set_string_member (o, "subscriptionId", p->leg_id);
      }
      json_object_set_string_member (o, "sdp", e->text);
      test_client_send_object (p->sig, o);
    } else if (p->leg_id == NULL) {
      /* a publisher's candidate before its stream id: keep it */
      g_async_queue_push_front (p->events, e);
      return;
    } else {
      send_candidate (p, e->mline, e->text);
    }
    peer_event_free (e);
  }
}

guint
test_peer_n_frames (TestPeer * p)
{
  guint n;

  g_mutex_lock (&p->lock);
  n = p->frames->len;
  g_mutex_unlock (&p->lock);
  return n;
}

typedef struct
{
  TestPeer **peers;
  guint n;
  gboolean (*done) (gpointer);
  gpointer data;
} PumpWait;

static gboolean
pump_done (gpointer data)
{
  PumpWait *w = data;
  guint i;

  for (i = 0; i < w->n; i++)
    test_peer_pump (w->peers[i]);
  return w->done (w->data);
}

gboolean
test_peers_wait (TestPeer ** peers, guint n, gboolean (*done) (gpointer),
    gpointer data, guint timeout_ms)
{
  PumpWait w = { peers, n, done, data };

  return test_iterate_until (pump_done, &w, timeout_ms);
}

void
test_peer_free (TestPeer * p)
{
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  gst_object_unref (p->webrtc);
  gst_object_unref (p->pipeline);
  g_async_queue_unref (p->events);
  g_ptr_array_unref (p->frames);
  g_ptr_array_unref (p->plain);
  g_mutex_clear (&p->lock);
  g_free (p->leg_id);
  g_free (p->stream_id);
  g_free (p);
}
