#define GST_USE_UNSTABLE_API
/* A WebRTC participant for the router tests: a webrtcbin pipeline driven
 * through the signalling protocol by a TestClient, on the test's thread. */
#pragma once

#include <gst/webrtc/webrtc.h>

#include "router-test-util.h"

G_BEGIN_DECLS

typedef struct
{
  TestClient *sig;
  GstElement *pipeline;
  GstElement *webrtc;
  gboolean publisher;
  gboolean offered;
  gchar *leg_id;                /* streamId or subscriptionId */
  gchar *stream_id;
  GAsyncQueue *events;          /* from webrtcbin's threads */
  GMutex lock;
  GPtrArray *frames;            /* encrypted frames: sent or received */
  GPtrArray *plain;             /* publisher: vp8enc output */
  guint64 keyframes;            /* publisher: key frames encoded */
} TestPeer;

/* Publishes test video (VP8, through otcencrypt with @secret; NULL: not
 * encrypted) as @sig's connection. ->stream_id is set once the router
 * answered (pump until then). */
TestPeer *test_peer_publish (TestClient * sig, const gchar * session_id,
    const gchar * secret);
/* Subscribes to @stream_id; received frames are depayloaded (still
 * encrypted) into ->frames, then go through otcdecrypt with @secret. */
TestPeer *test_peer_subscribe (TestClient * sig, const gchar * stream_id,
    const gchar * session_id, const gchar * secret);
/* Handles signalling and webrtcbin events; call while waiting. */
void test_peer_pump (TestPeer * peer);
guint test_peer_n_frames (TestPeer * peer);
void test_peer_free (TestPeer * peer);

/* Runs every peer's pump until @done or the timeout. */
gboolean test_peers_wait (TestPeer ** peers, guint n,
    gboolean (*done) (gpointer), gpointer data, guint timeout_ms);

G_END_DECLS
