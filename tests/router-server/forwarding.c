/* Media through a real otc-router, as clients do it: signalling over
 * WebSocket, media over webrtcbin, in a loopback-only network namespace.
 * Two publishers and three subscribers in one E2EE session: every
 * subscriber receives, for each stream, exactly the encrypted frames its
 * publisher's otcencrypt produced, and decrypts them. */
#include <glib/gstdio.h>
#include <gst/video/video.h>
#include <string.h>

#include "webrtc-peer.h"

#define SECRET "forwarding test secret"

typedef struct
{
  TestPeer **peers;
  guint n;
  guint min_frames;
} EnoughFrames;

static gboolean
enough_frames (gpointer data)
{
  EnoughFrames *e = data;
  guint i;

  for (i = 0; i < e->n; i++) {
    if (test_peer_n_frames (e->peers[i]) < e->min_frames)
      return FALSE;
  }
  return TRUE;
}

static GstPadProbeReturn
count_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer counter)
{
  (*(guint64 *) counter)++;
  return GST_PAD_PROBE_OK;
}

static gboolean
has_stream (gpointer data)
{
  return ((TestPeer *) data)->stream_id != NULL;
}

/* @rx's frames are a contiguous run of @tx's, byte for byte. */
static void
assert_same_frames (TestPeer * tx, TestPeer * rx)
{
  guint i, j, start = G_MAXUINT;
  GstBuffer *head;

  g_mutex_lock (&tx->lock);
  g_mutex_lock (&rx->lock);
  fail_unless (rx->frames->len >= 30);
  head = g_ptr_array_index (rx->frames, 0);
  for (j = 0; j < tx->frames->len && start == G_MAXUINT; j++) {
    GstBuffer *t = g_ptr_array_index (tx->frames, j);
    if (gst_buffer_get_size (t) == gst_buffer_get_size (head)) {
      GstMapInfo m;
      gst_buffer_map (head, &m, GST_MAP_READ);
      if (gst_buffer_memcmp (t, 0, m.data, m.size) == 0)
        start = j;
      gst_buffer_unmap (head, &m);
    }
  }
  fail_unless (start != G_MAXUINT, "the first received frame was not sent");
  for (i = 0; i < rx->frames->len && start + i < tx->frames->len; i++) {
    GstBuffer *t = g_ptr_array_index (tx->frames, start + i);
    GstBuffer *r = g_ptr_array_index (rx->frames, i);
    GstMapInfo m;

    fail_unless_equals_uint64 (gst_buffer_get_size (r),
        gst_buffer_get_size (t));
    gst_buffer_map (r, &m, GST_MAP_READ);
    fail_unless (gst_buffer_memcmp (t, 0, m.data, m.size) == 0,
        "frame %u differs", i);
    gst_buffer_unmap (r, &m);
  }
  fail_unless (i >= 30, "only %u frames compared", i);
  g_mutex_unlock (&rx->lock);
  g_mutex_unlock (&tx->lock);
}

static guint64
rx_stat (TestPeer * p, const gchar * field)
{
  GstElement *dec = gst_bin_get_by_name (GST_BIN (p->pipeline), "dec");
  GstStructure *s = NULL;
  guint64 v = 0;

  fail_unless (dec != NULL);
  g_object_get (dec, "stats", &s, NULL);
  gst_structure_get_uint64 (s, field, &v);
  gst_structure_free (s);
  gst_object_unref (dec);
  return v;
}

GST_START_TEST (test_two_publishers_three_subscribers)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=true");
  TestClient *clients[5];
  TestPeer *pubs[2], *subs[6], *all[8];
  EnoughFrames enough = { subs, 6, 40 };
  JsonObject *ev;
  guint i, k;

  for (i = 0; i < 5; i++) {
    gchar *tok = test_client_token (sid, i < 2 ? "publisher" : "subscriber",
        600);
    JsonObject *ok;

    clients[i] = test_client_open (r);
    ok = test_client_connect (clients[i], tok);
    fail_unless (ok != NULL);
    json_object_unref (ok);
    g_free (tok);
  }
  for (i = 0; i < 2; i++) {
    pubs[i] = test_peer_publish (clients[i], sid, SECRET);
    all[i] = pubs[i];
    fail_unless (test_peers_wait (&pubs[i], 1, has_stream, pubs[i], 20000),
        "publisher %u got no stream id", i);
  }
  /* every subscriber subscribes to both streams */
  for (i = 0; i < 3; i++) {
    for (k = 0; k < 2; k++) {
      subs[i * 2 + k] = test_peer_subscribe (clients[2 + i],
          pubs[k]->stream_id, sid, SECRET);
      all[2 + i * 2 + k] = subs[i * 2 + k];
    }
  }
  fail_unless (test_peers_wait (all, 8, enough_frames, &enough, 30000),
      "not every subscriber received frames");

  for (i = 0; i < 6; i++) {
    assert_same_frames (pubs[i % 2], subs[i]);
    fail_unless (rx_stat (subs[i], "frames-out") > 0);
    fail_unless_equals_uint64 (rx_stat (subs[i], "frames-auth-failed"), 0);
    fail_unless_equals_uint64 (rx_stat (subs[i], "mismatches"), 0);
  }

  /* a publisher leaves: its subscribers hear of it */
  test_peer_free (pubs[0]);
  test_client_free (clients[0]);
  ev = test_client_wait (clients[2], "streamDestroyed", 10000);
  fail_unless (ev != NULL);
  json_object_unref (ev);

  for (i = 0; i < 6; i++)
    test_peer_free (subs[i]);
  test_peer_free (pubs[1]);
  for (i = 1; i < 5; i++)
    test_client_free (clients[i]);
  g_free (sid);
  fail_unless_equals_int (test_router_stop (r), 0);
}

GST_END_TEST;

typedef struct
{
  TestPeer *peer;
  guint64 more_than;
} KeyFrames;

static gboolean
more_keyframes (gpointer data)
{
  KeyFrames *k = data;
  gboolean more;

  g_mutex_lock (&k->peer->lock);
  more = k->peer->keyframes > k->more_than;
  g_mutex_unlock (&k->peer->lock);
  return more;
}

static gboolean
publisher_sent_frames (gpointer data)
{
  return test_peer_n_frames (data) >= 90;
}

/* A subscriber's key frame request (RTCP PLI) reaches the publisher's
 * encoder through the router; a new subscriber triggers one too. */
GST_START_TEST (test_keyframe_request)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=true");
  gchar *pt = test_client_token (sid, "publisher", 600);
  gchar *st = test_client_token (sid, "subscriber", 600);
  TestClient *pc = test_client_open (r), *sc = test_client_open (r);
  JsonObject *ok;
  TestPeer *pub, *sub, *both[2];
  EnoughFrames enough = { &sub, 1, 10 };
  KeyFrames k;
  GstElement *depay;

  ok = test_client_connect (pc, pt);
  json_object_unref (ok);
  ok = test_client_connect (sc, st);
  json_object_unref (ok);
  pub = test_peer_publish (pc, sid, SECRET);
  fail_unless (test_peers_wait (&pub, 1, has_stream, pub, 20000));
  /* wait past the first key frame, so the next one is a response */
  k.peer = pub;
  k.more_than = 0;
  fail_unless (test_peers_wait (&pub, 1, more_keyframes, &k, 10000));
  sub = test_peer_subscribe (sc, pub->stream_id, sid, SECRET);
  both[0] = pub;
  both[1] = sub;
  /* the subscription alone gets a key frame (keyframe-max-dist is 10 s) */
  fail_unless (test_peers_wait (both, 2, enough_frames, &enough, 20000),
      "the new subscriber got no key frame");

  g_mutex_lock (&pub->lock);
  k.more_than = pub->keyframes;
  g_mutex_unlock (&pub->lock);
  depay = gst_bin_get_by_name (GST_BIN (sub->pipeline), "depay");
  fail_unless (depay != NULL);
  gst_element_send_event (depay,
      gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE,
          0));
  fail_unless (test_peers_wait (both, 2, more_keyframes, &k, 5000),
      "the key frame request did not reach the publisher");
  gst_object_unref (depay);

  test_peer_free (sub);
  test_peer_free (pub);
  test_client_free (pc);
  test_client_free (sc);
  g_free (pt);
  g_free (st);
  g_free (sid);
  fail_unless_equals_int (test_router_stop (r), 0);
}

GST_END_TEST;

/* A non-E2EE session archived over REST to a WebM file that plays back. */
GST_START_TEST (test_archive_plays_back)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=false");
  gchar *tok = test_client_token (sid, "publisher", 600);
  gchar *jwt = test_project_jwt (), *body = NULL, *json, *path, *stop;
  TestClient *c = test_client_open (r);
  JsonParser *parser = json_parser_new ();
  JsonObject *ok, *archive;
  TestPeer *pub;
  GstElement *play;
  GstMessage *msg;
  guint64 decoded = 0;

  ok = test_client_connect (c, tok);
  json_object_unref (ok);
  pub = test_peer_publish (c, sid, NULL);
  fail_unless (test_peers_wait (&pub, 1, has_stream, pub, 20000));
  json = g_strdup_printf ("{\"sessionId\":\"%s\",\"name\":\"t\"}", sid);
  /* the router records once media has arrived: until then 500 "yet" */
  {
    gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
    guint status;

    for (;;) {
      KeyFrames k = { pub, 0 };

      status = test_http (r, "POST", "/v2/project/" TEST_API_KEY "/archive",
          jwt, "application/json", json, &body);
      if (status == 200 || g_get_monotonic_time () > deadline
          || strstr (body, "yet") == NULL)
        break;
      g_free (body);
      /* pump the publisher a little (ICE, first frames) before retrying */
      k.more_than = pub->keyframes;
      test_peers_wait (&pub, 1, more_keyframes, &k, 200);
    }
    fail_unless (status == 200, "%s", body);
  }
  fail_unless (json_parser_load_from_data (parser, body, -1, NULL));
  archive = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_string (json_object_get_string_member (archive, "status"),
      "started");
  path = g_strdup (json_object_get_string_member (archive, "path"));
  stop = g_strdup_printf ("/v2/project/" TEST_API_KEY "/archive/%s/stop",
      json_object_get_string_member (archive, "id"));
  g_free (body);

  fail_unless (test_peers_wait (&pub, 1, publisher_sent_frames, pub, 20000));
  fail_unless_equals_int (test_http (r, "POST", stop, jwt, NULL, NULL,
          &body), 200);
  fail_unless (strstr (body, "\"stopped\"") != NULL, "%s", body);
  g_free (body);

  /* plays back: demux and decode */
  {
    gchar *d = g_strdup_printf ("filesrc location=%s ! matroskademux "
        "! vp8dec ! fakesink name=sink", path);
    GstElement *sink;
    GstPad *pad;

    play = gst_parse_launch (d, NULL);
    g_free (d);
    sink = gst_bin_get_by_name (GST_BIN (play), "sink");
    g_object_set (sink, "signal-handoffs", FALSE, NULL);
    pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) count_buffer, &decoded, NULL);
    gst_object_unref (pad);
    gst_object_unref (sink);
  }
  gst_element_set_state (play, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (play), 20 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "the archive does not play to its end");
  gst_message_unref (msg);
  gst_element_set_state (play, GST_STATE_NULL);
  gst_object_unref (play);
  fail_unless (decoded >= 30, "%" G_GUINT64_FORMAT " frames decoded",
      decoded);

  g_unlink (path);
  g_free (path);
  g_free (stop);
  g_free (json);
  g_object_unref (parser);
  test_peer_free (pub);
  test_client_free (c);
  g_free (jwt);
  g_free (tok);
  g_free (sid);
  fail_unless_equals_int (test_router_stop (r), 0);
}

GST_END_TEST;

/* A publisher that vanishes in the middle of negotiation: the others hear
 * of it and the router carries on. */
GST_START_TEST (test_vanish_mid_negotiation)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=true");
  gchar *tok = test_client_token (sid, "publisher", 600);
  TestClient *a = test_client_open (r), *b = test_client_open (r), *c;
  JsonObject *ok, *ev;
  TestPeer *pub;

  ok = test_client_connect (a, tok);
  json_object_unref (ok);
  ok = test_client_connect (b, tok);
  json_object_unref (ok);
  pub = test_peer_publish (b, sid, SECRET);
  fail_unless (test_peers_wait (&pub, 1, has_stream, pub, 20000));
  /* gone before ICE is through: no close frame */
  g_io_stream_close (soup_websocket_connection_get_io_stream (b->ws), NULL,
      NULL);
  ev = test_client_wait (a, "connectionDestroyed", 10000);
  fail_unless (ev != NULL);
  json_object_unref (ev);
  test_peer_free (pub);
  test_client_free (b);

  c = test_client_open (r);
  ok = test_client_connect (c, tok);
  fail_unless (ok != NULL);
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member
          (ok, "streams")), 0);
  json_object_unref (ok);
  test_client_free (c);
  test_client_free (a);
  g_free (tok);
  g_free (sid);
  fail_unless_equals_int (test_router_stop (r), 0);
}

GST_END_TEST;

static Suite *
forwarding_suite (void)
{
  Suite *s = suite_create ("otc-router-forwarding");
  TCase *tc = tcase_create ("forwarding");

  tcase_set_timeout (tc, 150);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_two_publishers_three_subscribers);
  tcase_add_test (tc, test_keyframe_request);
  tcase_add_test (tc, test_archive_plays_back);
  tcase_add_test (tc, test_vanish_mid_negotiation);
  return s;
}

GST_CHECK_MAIN (forwarding);
