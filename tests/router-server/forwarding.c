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

/* @method @path on the archive API with a project JWT: the answer, which
 * must have @status, as a JSON object. */
static JsonObject *
archive_call (TestRouter * r, const gchar * method, const gchar * path,
    const gchar * body, guint status)
{
  gchar *jwt = test_project_jwt (), *answer = NULL;
  JsonParser *parser = json_parser_new ();
  JsonObject *o;
  guint got = test_http (r, method, path, jwt, body ? "application/json" :
      NULL, body, &answer);

  fail_unless_equals_int (got, status);
  fail_unless (json_parser_load_from_data (parser, answer, -1, NULL), "%s",
      answer);
  fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)), "%s",
      answer);
  o = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  g_object_unref (parser);
  g_free (answer);
  g_free (jwt);
  return o;
}

/* POST .../archive for @sid: it answers 200 "started" at once. */
static JsonObject *
archive_start (TestRouter * r, const gchar * sid)
{
  gchar *body = g_strdup_printf ("{\"sessionId\":\"%s\",\"name\":\"t\"}",
      sid);
  JsonObject *a = archive_call (r, "POST", "/v2/project/" TEST_API_KEY
      "/archive", body, 200);

  fail_unless_equals_string (json_object_get_string_member (a, "status"),
      "started");
  fail_unless_equals_string (json_object_get_string_member (a, "sessionId"),
      sid);
  g_free (body);
  return a;
}

/* POST .../archive/{id}/stop: 200 "stopped". */
static JsonObject *
archive_stop (TestRouter * r, JsonObject * archive)
{
  gchar *path = g_strdup_printf ("/v2/project/" TEST_API_KEY
      "/archive/%s/stop", json_object_get_string_member (archive, "id"));
  JsonObject *a = archive_call (r, "POST", path, NULL, 200);

  fail_unless_equals_string (json_object_get_string_member (a, "status"),
      "stopped");
  g_free (path);
  return a;
}

/* The WebM file at @path plays to its end through matroskademux ! vp8dec,
 * which decodes at least @min_frames frames. */
static void
assert_archive_plays (const gchar * path, guint64 min_frames)
{
  gchar *d = g_strdup_printf ("filesrc location=%s ! matroskademux "
      "! vp8dec ! fakesink name=sink", path);
  GstElement *play, *sink;
  GstMessage *msg;
  GstPad *pad;
  guint64 decoded = 0;

  fail_unless (g_file_test (path, G_FILE_TEST_IS_REGULAR), "no file %s", path);
  play = gst_parse_launch (d, NULL);
  g_free (d);
  fail_unless (play != NULL);
  sink = gst_bin_get_by_name (GST_BIN (play), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
      (GstPadProbeCallback) count_buffer, &decoded, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_element_set_state (play, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (play), 20 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "the archive %s does not play to its end", path);
  gst_message_unref (msg);
  gst_element_set_state (play, GST_STATE_NULL);
  gst_object_unref (play);
  fail_unless (decoded >= min_frames, "%" G_GUINT64_FORMAT " frames decoded",
      decoded);
}

/* Holding a publisher's RTP back from the router: buffers stop at its
 * webrtcbin, so the router has no media of the stream until released. */
typedef struct
{
  GstPad *pad;
  gulong probe;
} MediaHold;

static GstPadProbeReturn
drop_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer unused)
{
  return GST_PAD_PROBE_DROP;
}

/* Right after test_peer_publish(), before anything is sent. */
static void
media_hold (TestPeer * pub, MediaHold * h)
{
  h->pad = gst_element_get_static_pad (pub->webrtc, "sink_0");
  fail_unless (h->pad != NULL);
  h->probe = gst_pad_add_probe (h->pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, drop_buffer, NULL, NULL);
}

static void
media_release (MediaHold * h)
{
  gst_pad_remove_probe (h->pad, h->probe);
  gst_clear_object (&h->pad);
}

typedef struct
{
  TestPeer *peer;
  guint n;
} FramesBeyond;

static gboolean
frames_beyond (gpointer data)
{
  FramesBeyond *f = data;

  return test_peer_n_frames (f->peer) >= f->n;
}

/* @pub sends another @n frames (after its media was released). */
static void
wait_more_frames (TestPeer * pub, guint n)
{
  FramesBeyond f = { pub, test_peer_n_frames (pub) + n };

  fail_unless (test_peers_wait (&pub, 1, frames_beyond, &f, 20000),
      "the publisher sent no more frames");
}

/* GET .../archive/{id}. */
static JsonObject *
archive_get (TestRouter * r, JsonObject * archive)
{
  gchar *path = g_strdup_printf ("/v2/project/" TEST_API_KEY "/archive/%s",
      json_object_get_string_member (archive, "id"));
  JsonObject *a = archive_call (r, "GET", path, NULL, 200);

  g_free (path);
  return a;
}

/* A non-E2EE session archived over REST to a WebM file that plays back.
 * The archive is started right after the publish, while the router has
 * none of the stream's media: it records once the media arrives. */
GST_START_TEST (test_archive_plays_back)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=false");
  gchar *tok = test_client_token (sid, "publisher", 600);
  gchar *path;
  TestClient *c = test_client_open (r);
  JsonObject *ok, *archive, *now, *stopped;
  TestPeer *pub;
  MediaHold hold;

  ok = test_client_connect (c, tok);
  json_object_unref (ok);
  pub = test_peer_publish (c, sid, NULL);
  media_hold (pub, &hold);
  fail_unless (test_peers_wait (&pub, 1, has_stream, pub, 20000));
  archive = archive_start (r, sid);
  path = g_strdup (json_object_get_string_member (archive, "path"));
  /* no media has reached the router yet: nothing written */
  wait_more_frames (pub, 30);
  now = archive_get (r, archive);
  fail_unless_equals_string (json_object_get_string_member (now, "status"),
      "started");
  fail_unless_equals_int (json_object_get_int_member (now, "size"), 0);
  json_object_unref (now);

  media_release (&hold);
  wait_more_frames (pub, 90);
  stopped = archive_stop (r, archive);
  fail_unless (json_object_get_int_member (stopped, "size") > 0);
  assert_archive_plays (path, 30);

  g_unlink (path);
  g_free (path);
  json_object_unref (stopped);
  json_object_unref (archive);
  test_peer_free (pub);
  test_client_free (c);
  g_free (tok);
  g_free (sid);
  fail_unless_equals_int (test_router_stop (r), 0);
}

GST_END_TEST;

/* archiveMode=always: publishing starts an archive (before the router has
 * the stream's media), which records the stream once its media flows. */
GST_START_TEST (test_archive_always)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=false&archiveMode=always");
  gchar *tok = test_client_token (sid, "publisher", 600);
  gchar *path;
  TestClient *c = test_client_open (r);
  JsonObject *ok, *list, *archive, *stopped;
  JsonArray *items;
  TestPeer *pub;

  ok = test_client_connect (c, tok);
  json_object_unref (ok);
  /* nothing published, nothing archived */
  list = archive_call (r, "GET", "/v2/project/" TEST_API_KEY "/archive",
      NULL, 200);
  fail_unless_equals_int (json_object_get_int_member (list, "count"), 0);
  json_object_unref (list);

  pub = test_peer_publish (c, sid, NULL);
  fail_unless (test_peers_wait (&pub, 1, has_stream, pub, 20000));
  fail_unless (test_peers_wait (&pub, 1, publisher_sent_frames, pub, 20000));
  list = archive_call (r, "GET", "/v2/project/" TEST_API_KEY "/archive",
      NULL, 200);
  fail_unless_equals_int (json_object_get_int_member (list, "count"), 1);
  items = json_object_get_array_member (list, "items");
  archive = json_object_ref (json_array_get_object_element (items, 0));
  json_object_unref (list);
  fail_unless_equals_string (json_object_get_string_member (archive,
          "sessionId"), sid);
  fail_unless_equals_string (json_object_get_string_member (archive,
          "status"), "started");
  path = g_strdup (json_object_get_string_member (archive, "path"));

  stopped = archive_stop (r, archive);
  fail_unless (json_object_get_int_member (stopped, "size") > 0);
  assert_archive_plays (path, 30);

  g_unlink (path);
  g_free (path);
  json_object_unref (stopped);
  json_object_unref (archive);
  test_peer_free (pub);
  test_client_free (c);
  g_free (tok);
  g_free (sid);
  fail_unless_equals_int (test_router_stop (r), 0);
}

GST_END_TEST;

/* Archives stopped before any of their media arrived: a clean "stopped"
 * answer, size 0 and no file, whether the publisher is still there (and
 * sends later) or left; at the router's SIGTERM as well. An
 * archiveMode=always archive whose stream left is followed by a new one. */
GST_START_TEST (test_archive_stopped_before_media)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=false");
  gchar *sid2 = test_create_session (r, "e2ee=false");
  gchar *sid3 = test_create_session (r, "e2ee=false&archiveMode=always");
  gchar *tok = test_client_token (sid, "publisher", 600);
  gchar *tok2 = test_client_token (sid2, "publisher", 600);
  gchar *tok3 = test_client_token (sid3, "publisher", 600);
  gchar *body, *path, *path3 = NULL, *stop;
  TestClient *c = test_client_open (r), *c2 = test_client_open (r);
  TestClient *watch2 = test_client_open (r), *c3 = test_client_open (r);
  TestClient *c3a = test_client_open (r);
  JsonObject *ok, *archive, *stopped, *now, *list, *ev;
  JsonArray *items;
  TestPeer *pub, *pub2, *pub3;
  MediaHold hold, hold2, hold3;
  guint i, n3 = 0;

  ok = test_client_connect (c, tok);
  json_object_unref (ok);
  ok = test_client_connect (c2, tok2);
  json_object_unref (ok);
  ok = test_client_connect (watch2, tok2);
  json_object_unref (ok);
  ok = test_client_connect (c3, tok3);
  json_object_unref (ok);
  ok = test_client_connect (c3a, tok3);
  json_object_unref (ok);

  /* no stream yet: nothing to archive */
  body = g_strdup_printf ("{\"sessionId\":\"%s\"}", sid);
  json_object_unref (archive_call (r, "POST", "/v2/project/" TEST_API_KEY
          "/archive", body, 404));
  g_free (body);

  /* the publisher is connected but sends nothing: started, stopped */
  pub = test_peer_publish (c, sid, NULL);
  media_hold (pub, &hold);
  fail_unless (test_peers_wait (&pub, 1, has_stream, pub, 20000));
  archive = archive_start (r, sid);
  path = g_strdup (json_object_get_string_member (archive, "path"));
  wait_more_frames (pub, 30);
  stopped = archive_stop (r, archive);
  fail_unless_equals_int (json_object_get_int_member (stopped, "size"), 0);
  fail_if (g_file_test (path, G_FILE_TEST_EXISTS), "%s was written", path);
  json_object_unref (stopped);
  stop = g_strdup_printf ("/v2/project/" TEST_API_KEY "/archive/%s/stop",
      json_object_get_string_member (archive, "id"));
  json_object_unref (archive_call (r, "POST", stop, NULL, 409));
  g_free (stop);
  /* its media arrives afterwards: the archive stays as it was */
  media_release (&hold);
  wait_more_frames (pub, 60);
  now = archive_get (r, archive);
  fail_unless_equals_string (json_object_get_string_member (now, "status"),
      "stopped");
  fail_unless_equals_int (json_object_get_int_member (now, "size"), 0);
  fail_if (g_file_test (path, G_FILE_TEST_EXISTS), "%s was written", path);
  json_object_unref (now);
  json_object_unref (archive);
  g_free (path);

  /* the publisher leaves before any media: stopping is clean */
  pub2 = test_peer_publish (c2, sid2, NULL);
  media_hold (pub2, &hold2);
  fail_unless (test_peers_wait (&pub2, 1, has_stream, pub2, 20000));
  archive = archive_start (r, sid2);
  path = g_strdup (json_object_get_string_member (archive, "path"));
  test_peer_free (pub2);
  test_client_free (c2);
  media_release (&hold2);
  ev = test_client_wait (watch2, "streamDestroyed", 10000);
  fail_unless (ev != NULL, "the router did not see the publisher go");
  json_object_unref (ev);
  stopped = archive_stop (r, archive);
  fail_unless_equals_int (json_object_get_int_member (stopped, "size"), 0);
  fail_if (g_file_test (path, G_FILE_TEST_EXISTS), "%s was written", path);
  json_object_unref (stopped);
  json_object_unref (archive);
  g_free (path);

  /* archiveMode=always: the first publisher leaves before any media, so
   * its archive is over (no file); the next publish starts another, which
   * has no media either when the router gets SIGTERM */
  pub3 = test_peer_publish (c3a, sid3, NULL);
  media_hold (pub3, &hold3);
  fail_unless (test_peers_wait (&pub3, 1, has_stream, pub3, 20000));
  test_peer_free (pub3);
  test_client_free (c3a);
  media_release (&hold3);
  ev = test_client_wait (c3, "streamDestroyed", 10000);
  fail_unless (ev != NULL, "the router did not see the publisher go");
  json_object_unref (ev);
  pub3 = test_peer_publish (c3, sid3, NULL);
  media_hold (pub3, &hold3);
  fail_unless (test_peers_wait (&pub3, 1, has_stream, pub3, 20000));
  wait_more_frames (pub3, 30);
  list = archive_call (r, "GET", "/v2/project/" TEST_API_KEY "/archive",
      NULL, 200);
  items = json_object_get_array_member (list, "items");
  for (i = 0; i < json_array_get_length (items); i++) {
    JsonObject *a = json_array_get_object_element (items, i);
    const gchar *status = json_object_get_string_member (a, "status");

    if (!g_str_equal (json_object_get_string_member (a, "sessionId"), sid3))
      continue;
    n3++;
    if (g_str_equal (status, "started")) {
      fail_unless (path3 == NULL, "two archives of the session running");
      path3 = g_strdup (json_object_get_string_member (a, "path"));
    } else {
      fail_unless_equals_string (status, "stopped");
      fail_unless_equals_int (json_object_get_int_member (a, "size"), 0);
      fail_if (g_file_test (json_object_get_string_member (a, "path"),
              G_FILE_TEST_EXISTS));
    }
  }
  fail_unless_equals_int (n3, 2);
  fail_unless (path3 != NULL, "archiveMode=always started no archive");
  json_object_unref (list);
  fail_unless_equals_int (test_router_stop (r), 0);
  fail_if (g_file_test (path3, G_FILE_TEST_EXISTS), "%s was written", path3);

  media_release (&hold3);
  g_free (path3);
  test_peer_free (pub3);
  test_peer_free (pub);
  test_client_free (c);
  test_client_free (watch2);
  test_client_free (c3);
  g_free (tok);
  g_free (tok2);
  g_free (tok3);
  g_free (sid);
  g_free (sid2);
  g_free (sid3);
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
  tcase_add_test (tc, test_archive_always);
  tcase_add_test (tc, test_archive_stopped_before_media);
  tcase_add_test (tc, test_vanish_mid_negotiation);
  return s;
}

GST_CHECK_MAIN (forwarding);
