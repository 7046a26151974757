/* Media through a real otc-router, as clients do it: signalling over
 * WebSocket, media over webrtcbin, in a loopback-only network namespace.
 * Two publishers and three subscribers in one E2EE session: every
 * subscriber receives, for each stream, exactly the encrypted frames its
 * publisher's otcencrypt produced, and decrypts them. */
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

static Suite *
forwarding_suite (void)
{
  Suite *s = suite_create ("otc-router-forwarding");
  TCase *tc = tcase_create ("forwarding");

  tcase_set_timeout (tc, 150);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_two_publishers_three_subscribers);
  return s;
}

GST_CHECK_MAIN (forwarding);
