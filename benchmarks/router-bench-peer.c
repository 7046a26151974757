/* otc-router-bench: the clients. Each is a webrtcbin pipeline in this
 * process with a signalling connection of its own (docs/signalling.md),
 * driven from the default main context; webrtcbin's threads hand their
 * events over with g_main_context_invoke.
 *
 * The publisher stamps every RTP packet as it enters its webrtcbin (a probe
 * on the sink pads); each subscriber looks the stamp up by payload type
 * and sequence number as the packet leaves its webrtcbin (a probe on the
 * src pads, before depayloading). The router keeps SSRC, payload type and
 * sequence numbers end to end, so the key is the same on both sides. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <nice/agent.h>
#include <string.h>

#include "router-bench.h"

#define CONNECT_TIMEOUT_MS 10000
/* The subscribers' jitterbuffer: it holds packets only while it waits for
 * a missing one, so this bounds the latency of reordered packets only. */
#define SUBSCRIBER_LATENCY_MS 20

struct _BenchClient
{
  SoupSession *session;
  SoupWebsocketConnection *ws;
  BenchPeer *peer;              /* not a ref: gets the messages */
  gboolean connected;
  gboolean closed;
  gchar *error;
};

typedef struct
{
  guint mline;
  gchar *candidate;
} PendingCandidate;

struct _BenchPeer
{
  gint refcount;
  BenchClient *client;          /* NULL: direct */
  BenchPeer *remote;            /* direct: the other end (not a ref) */
  gboolean publisher;
  BenchSendLog *log;
  gchar *session_id;
  gchar *secret;

  GstElement *pipeline;
  GstElement *webrtc;
  gchar *leg_id;                /* streamId / subscriptionId, "direct" */
  gchar *stream_id;
  gboolean offered;
  gboolean description_sent;    /* candidates go after it */
  gchar *pending_offer;         /* direct publisher, no subscriber yet */
  GQueue local_candidates;      /* PendingCandidate, until leg_id */
  gboolean remote_set;          /* set-remote-description was emitted */
  GQueue remote_candidates;     /* PendingCandidate, until remote_set */

  /* subscriber, under lock */
  GMutex lock;
  guint64 total_packets[BENCH_N_KINDS];
  guint64 packets[BENCH_N_KINDS];       /* in the window */
  guint64 unstamped[BENCH_N_POINTS][BENCH_N_KINDS];     /* in the window */
  GArray *latencies[BENCH_N_POINTS][BENCH_N_KINDS];     /* gint64 ns, ditto */
  GstElement *dec[BENCH_N_KINDS];
};

static BenchPeer *
peer_ref (BenchPeer * p)
{
  g_atomic_int_inc (&p->refcount);
  return p;
}

static void
pending_candidate_free (PendingCandidate * c)
{
  g_free (c->candidate);
  g_free (c);
}

static void
peer_unref (BenchPeer * p)
{
  guint i;

  if (!g_atomic_int_dec_and_test (&p->refcount))
    return;
  g_queue_clear_full (&p->local_candidates,
      (GDestroyNotify) pending_candidate_free);
  g_queue_clear_full (&p->remote_candidates,
      (GDestroyNotify) pending_candidate_free);
  for (i = 0; i < BENCH_N_KINDS; i++)
    gst_clear_object (&p->dec[i]);
  gst_clear_object (&p->webrtc);
  gst_clear_object (&p->pipeline);
  for (i = 0; i < BENCH_N_POINTS * BENCH_N_KINDS; i++)
    g_array_unref (p->latencies[i / BENCH_N_KINDS][i % BENCH_N_KINDS]);
  g_mutex_clear (&p->lock);
  g_free (p->pending_offer);
  g_free (p->leg_id);
  g_free (p->stream_id);
  g_free (p->session_id);
  g_free (p->secret);
  g_free (p);
}

/* ------------------------------------------------------------------------ */
/* main context */

static gboolean
tick_done (gpointer data)
{
  return G_SOURCE_REMOVE;
}

gboolean
bench_iterate_until (gboolean (*done) (gpointer), gpointer data,
    guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (done == NULL || !done (data)) {
    GSource *tick;

    if (g_get_monotonic_time () >= deadline)
      return FALSE;
    /* a blocking iteration, woken at the latest by a 10 ms tick */
    tick = g_timeout_source_new (10);
    g_source_set_callback (tick, tick_done, NULL, NULL);
    g_source_attach (tick, NULL);
    g_main_context_iteration (NULL, TRUE);
    g_source_destroy (tick);
    g_source_unref (tick);
  }
  return TRUE;
}

void
bench_iterate_for (guint ms)
{
  bench_iterate_until (NULL, NULL, ms);
}

typedef struct
{
  BenchPeer *peer;
  gchar *kind;                  /* "offer", "answer", "candidate" */
  gchar *text;
  guint mline;
} PeerEvent;

static void
peer_event_free (PeerEvent * e)
{
  peer_unref (e->peer);
  g_free (e->kind);
  g_free (e->text);
  g_free (e);
}

/* From a webrtcbin thread: @func runs on the main context. */
static void
peer_post (BenchPeer * p, GSourceFunc func, const gchar * kind,
    const gchar * text, guint mline)
{
  PeerEvent *e = g_new0 (PeerEvent, 1);

  e->peer = peer_ref (p);
  e->kind = g_strdup (kind);
  e->text = g_strdup (text);
  e->mline = mline;
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, func, e,
      (GDestroyNotify) peer_event_free);
}

/* ------------------------------------------------------------------------ */
/* signalling connection */

static void client_send_object (BenchClient * c, JsonObject * msg);
static void peer_handle_message (BenchPeer * p, JsonObject * msg);

static void
on_ws_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  BenchClient *c = user_data;
  JsonParser *parser = json_parser_new ();
  JsonObject *o;
  const gchar *msg_type;

  if (!json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_object_unref (parser);
    return;
  }
  o = json_node_get_object (json_parser_get_root (parser));
  msg_type = json_object_get_string_member_with_default (o, "type", "");
  if (g_str_equal (msg_type, "connected")) {
    c->connected = TRUE;
  } else if (g_str_equal (msg_type, "error")) {
    if (c->error == NULL)
      c->error = g_strdup_printf ("router error %" G_GINT64_FORMAT ": %s",
          json_object_get_int_member_with_default (o, "code", 0),
          json_object_get_string_member_with_default (o, "message", ""));
    g_printerr ("otc-router-bench: %s\n", c->error);
  } else if (c->peer) {
    peer_handle_message (c->peer, o);
  }
  g_object_unref (parser);
}

static void
on_ws_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  BenchClient *c = user_data;

  c->closed = TRUE;
}

typedef struct
{
  BenchClient *c;
  gboolean done;
  GError *error;
} ConnectWait;

static void
ws_connected_cb (GObject * src, GAsyncResult * res, gpointer user_data)
{
  ConnectWait *w = user_data;

  w->c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (src), res,
      &w->error);
  w->done = TRUE;
}

static gboolean
ws_connect_done (gpointer data)
{
  return ((ConnectWait *) data)->done;
}

static gboolean
client_answered (gpointer data)
{
  BenchClient *c = data;

  return c->connected || c->closed || c->error;
}

BenchClient *
bench_client_open (BenchRouter * router, const gchar * token, GError ** error)
{
  BenchClient *c = g_new0 (BenchClient, 1);
  /* http://127.0.0.1:PORT -> ws://127.0.0.1:PORT/signal */
  gchar *uri = g_strconcat ("ws", router->url + strlen ("http"), "/signal",
      NULL);
  SoupMessage *msg = soup_message_new ("GET", uri);
  ConnectWait w = { c, FALSE, NULL };
  JsonObject *o;

  c->session = soup_session_new ();
  soup_session_websocket_connect_async (c->session, msg, NULL, NULL,
      G_PRIORITY_DEFAULT, NULL, ws_connected_cb, &w);
  g_object_unref (msg);
  g_free (uri);
  if (!bench_iterate_until (ws_connect_done, &w, CONNECT_TIMEOUT_MS)
      || c->ws == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "WebSocket: %s",
        w.error ? w.error->message : "timeout");
    g_clear_error (&w.error);
    /* the pending connect holds &w: let it finish before returning */
    if (!w.done) {
      soup_session_abort (c->session);
      bench_iterate_until (ws_connect_done, &w, CONNECT_TIMEOUT_MS);
      g_clear_error (&w.error);
    }
    bench_client_free (c);
    return NULL;
  }
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 0);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_ws_message), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (on_ws_closed), c);

  o = json_object_new ();
  json_object_set_string_member (o, "type", "connect");
  json_object_set_int_member (o, "v", 1);
  json_object_set_string_member (o, "token", token);
  client_send_object (c, o);
  if (!bench_iterate_until (client_answered, c, CONNECT_TIMEOUT_MS)
      || !c->connected) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "connect: %s",
        c->error ? c->error : c->closed ? "socket closed" : "timeout");
    bench_client_free (c);
    return NULL;
  }
  return c;
}

static void
client_send_object (BenchClient * c, JsonObject * msg)
{
  JsonNode *n = json_node_new (JSON_NODE_OBJECT);
  gchar *s;

  json_node_take_object (n, msg);
  s = json_to_string (n, FALSE);
  if (c->ws && soup_websocket_connection_get_state (c->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (c->ws, s);
  g_free (s);
  json_node_unref (n);
}

void
bench_client_free (BenchClient * c)
{
  if (c == NULL)
    return;
  if (c->ws) {
    g_signal_handlers_disconnect_by_data (c->ws, c);
    if (soup_websocket_connection_get_state (c->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (c->ws, 1000, NULL);
    g_object_unref (c->ws);
  }
  g_object_unref (c->session);
  g_free (c->error);
  g_free (c);
}

/* ------------------------------------------------------------------------ */
/* probes */

/* Payload type and sequence number of an RTP packet. */
static gboolean
rtp_header (GstBuffer * buf, BenchKind * kind, guint16 * seq, guint32 * ssrc)
{
  guint8 h[12];
  guint pt;

  if (gst_buffer_extract (buf, 0, h, sizeof (h)) != sizeof (h)
      || (h[0] >> 6) != 2)
    return FALSE;
  pt = h[1] & 0x7f;
  if (pt == BENCH_VIDEO_PT)
    *kind = BENCH_KIND_VIDEO;
  else if (pt == BENCH_AUDIO_PT)
    *kind = BENCH_KIND_AUDIO;
  else
    return FALSE;
  *seq = GST_READ_UINT16_BE (h + 2);
  *ssrc = GST_READ_UINT32_BE (h + 8);
  return TRUE;
}

typedef struct
{
  BenchPeer *peer;
  BenchPoint point;
  gint64 now;
} ProbeCtx;

static gboolean
stamp_sent (GstBuffer ** buf, guint idx, gpointer user_data)
{
  ProbeCtx *ctx = user_data;
  BenchSendLog *log = ctx->peer->log;
  BenchKind kind;
  guint16 seq;
  guint32 ssrc;

  if (!rtp_header (*buf, &kind, &seq, &ssrc))
    return TRUE;
  g_mutex_lock (&log->lock);
  log->sent_ns[ctx->point][kind][seq] = ctx->now;
  if (ctx->point == BENCH_POINT_APP) {
    log->ssrc[kind] = ssrc;
    if (g_atomic_int_get (&log->measuring)) {
      log->sent_packets[kind]++;
      log->sent_bytes[kind] += gst_buffer_get_size (*buf);
    }
  }
  g_mutex_unlock (&log->lock);
  return TRUE;
}

static GstPadProbeReturn
probe_each (GstPadProbeInfo * info, GstBufferListFunc func, ProbeCtx * ctx)
{
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info), func, ctx);
  } else {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

    func (&buf, 0, ctx);
  }
  return GST_PAD_PROBE_OK;
}

/* Publisher: the packet enters webrtcbin. */
static GstPadProbeReturn
sent_app_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  ProbeCtx ctx = { user_data, BENCH_POINT_APP, router_bench_now_ns () };

  return probe_each (info, stamp_sent, &ctx);
}

/* Publisher: the packet (SRTP: the header is in the clear) goes to the
 * socket. */
static GstPadProbeReturn
sent_wire_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  ProbeCtx ctx = { user_data, BENCH_POINT_WIRE, router_bench_now_ns () };

  return probe_each (info, stamp_sent, &ctx);
}

static gboolean
stamp_received (GstBuffer ** buf, guint idx, gpointer user_data)
{
  ProbeCtx *ctx = user_data;
  BenchPeer *p = ctx->peer;
  BenchKind kind;
  guint16 seq;
  guint32 ssrc;
  gint64 sent;
  gboolean measuring;

  if (!rtp_header (*buf, &kind, &seq, &ssrc))
    return TRUE;
  g_mutex_lock (&p->log->lock);
  sent = p->log->ssrc[kind] == ssrc ?
      p->log->sent_ns[ctx->point][kind][seq] : 0;
  measuring = g_atomic_int_get (&p->log->measuring);
  g_mutex_unlock (&p->log->lock);

  g_mutex_lock (&p->lock);
  if (ctx->point == BENCH_POINT_APP) {
    p->total_packets[kind]++;
    if (measuring)
      p->packets[kind]++;
  }
  if (measuring) {
    if (sent > 0 && ctx->now >= sent) {
      gint64 latency = ctx->now - sent;

      g_array_append_val (p->latencies[ctx->point][kind], latency);
    } else {
      p->unstamped[ctx->point][kind]++;
    }
  }
  g_mutex_unlock (&p->lock);
  return TRUE;
}

/* Subscriber: the packet leaves webrtcbin. */
static GstPadProbeReturn
received_app_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  ProbeCtx ctx = { user_data, BENCH_POINT_APP, router_bench_now_ns () };

  return probe_each (info, stamp_received, &ctx);
}

/* Subscriber: the packet (still SRTP) comes from the socket. */
static GstPadProbeReturn
received_wire_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  ProbeCtx ctx = { user_data, BENCH_POINT_WIRE, router_bench_now_ns () };

  return probe_each (info, stamp_received, &ctx);
}

/* Any element made inside webrtcbin: the ICE sink (publisher) or source
 * (subscriber) gets its probe. */
static void
on_deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    BenchPeer * p)
{
  GstElementFactory *f = gst_element_get_factory (element);
  const gchar *name = f ? GST_OBJECT_NAME (f) : "";
  GstPad *pad = NULL;

  if (p->publisher && g_str_equal (name, "nicesink")) {
    pad = gst_element_get_static_pad (element, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
        GST_PAD_PROBE_TYPE_BUFFER_LIST, sent_wire_probe, p, NULL);
  } else if (!p->publisher && g_str_equal (name, "nicesrc")) {
    pad = gst_element_get_static_pad (element, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
        GST_PAD_PROBE_TYPE_BUFFER_LIST, received_wire_probe, p, NULL);
  }
  if (pad)
    gst_object_unref (pad);
}

/* ------------------------------------------------------------------------ */
/* webrtcbin */

static void
peer_send_candidate (BenchPeer * p, guint mline, const gchar * candidate)
{
  JsonObject *o;

  if (p->client == NULL) {
    if (p->remote)
      g_signal_emit_by_name (p->remote->webrtc, "add-ice-candidate", mline,
          candidate);
    return;
  }
  o = json_object_new ();
  json_object_set_string_member (o, "type", "candidate");
  json_object_set_string_member (o, "legId", p->leg_id);
  json_object_set_int_member (o, "mline", mline);
  json_object_set_string_member (o, "candidate", candidate);
  client_send_object (p->client, o);
}

static void
peer_flush_local_candidates (BenchPeer * p)
{
  PendingCandidate *c;

  if (p->leg_id == NULL || !p->description_sent)
    return;
  while ((c = g_queue_pop_head (&p->local_candidates))) {
    peer_send_candidate (p, c->mline, c->candidate);
    pending_candidate_free (c);
  }
}

static gboolean
local_candidate_cb (PeerEvent * e)
{
  BenchPeer *p = e->peer;

  if (p->leg_id == NULL || !p->description_sent) {
    PendingCandidate *c = g_new0 (PendingCandidate, 1);

    c->mline = e->mline;
    c->candidate = g_strdup (e->text);
    g_queue_push_tail (&p->local_candidates, c);
  } else {
    peer_send_candidate (p, e->mline, e->text);
  }
  return G_SOURCE_REMOVE;
}

static void
on_ice_candidate (GstElement * webrtc, guint mline, gchar * candidate,
    BenchPeer * p)
{
  peer_post (p, (GSourceFunc) local_candidate_cb, "candidate", candidate,
      mline);
}

static void
peer_add_remote_candidate (BenchPeer * p, guint mline, const gchar * candidate)
{
  if (!p->remote_set) {
    PendingCandidate *c = g_new0 (PendingCandidate, 1);

    c->mline = mline;
    c->candidate = g_strdup (candidate);
    g_queue_push_tail (&p->remote_candidates, c);
    return;
  }
  g_signal_emit_by_name (p->webrtc, "add-ice-candidate", mline, candidate);
}

static void on_local_description (GstPromise * promise, gpointer user_data);

/* Main context: the remote description, then the candidates that came
 * before it; a subscriber answers. */
static void
peer_set_remote (BenchPeer * p, const gchar * type, const gchar * text)
{
  GstSDPMessage *sdp;
  GstWebRTCSessionDescription *desc;
  PendingCandidate *c;

  if (gst_sdp_message_new_from_text (text, &sdp) != GST_SDP_OK) {
    g_printerr ("otc-router-bench: unparseable %s\n", type);
    return;
  }
  desc = gst_webrtc_session_description_new (g_str_equal (type, "offer") ?
      GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
  g_signal_emit_by_name (p->webrtc, "set-remote-description", desc, NULL);
  gst_webrtc_session_description_free (desc);
  p->remote_set = TRUE;
  while ((c = g_queue_pop_head (&p->remote_candidates))) {
    g_signal_emit_by_name (p->webrtc, "add-ice-candidate", c->mline,
        c->candidate);
    pending_candidate_free (c);
  }
  if (!p->publisher)
    g_signal_emit_by_name (p->webrtc, "create-answer", NULL,
        gst_promise_new_with_change_func (on_local_description, peer_ref (p),
            (GDestroyNotify) peer_unref));
}

static void
publisher_send_offer (BenchPeer * p, const gchar * sdp)
{
  JsonObject *o;

  if (p->client == NULL) {
    if (p->remote)
      peer_set_remote (p->remote, "offer", sdp);
    else
      p->pending_offer = g_strdup (sdp);
    return;
  }
  o = json_object_new ();
  json_object_set_string_member (o, "type", "publish");
  json_object_set_string_member (o, "name", "otc-router-bench");
  json_object_set_boolean_member (o, "hasAudio", TRUE);
  json_object_set_boolean_member (o, "hasVideo", TRUE);
  json_object_set_string_member (o, "sdp", sdp);
  client_send_object (p->client, o);
}

static gboolean
local_description_cb (PeerEvent * e)
{
  BenchPeer *p = e->peer;
  JsonObject *o;

  if (p->publisher) {
    publisher_send_offer (p, e->text);
  } else if (p->client == NULL) {
    if (p->remote)
      peer_set_remote (p->remote, "answer", e->text);
  } else {
    o = json_object_new ();
    json_object_set_string_member (o, "type", "subscribeAnswer");
    json_object_set_string_member (o, "subscriptionId", p->leg_id);
    json_object_set_string_member (o, "sdp", e->text);
    client_send_object (p->client, o);
  }
  p->description_sent = TRUE;
  peer_flush_local_candidates (p);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  BenchPeer *peer;
  gchar *kind;
  gchar *sdp;
} LocalSet;

static void
local_set_free (LocalSet * l)
{
  peer_unref (l->peer);
  g_free (l->kind);
  g_free (l->sdp);
  g_free (l);
}

/* webrtcbin thread: the local description is in place. Posting it only
 * now keeps a direct peer from answering before it is. */
static void
on_local_set (GstPromise * promise, gpointer user_data)
{
  LocalSet *l = user_data;

  gst_promise_unref (promise);
  peer_post (l->peer, (GSourceFunc) local_description_cb, l->kind, l->sdp, 0);
}

/* webrtcbin thread: the offer (publisher) or answer (subscriber). */
static void
on_local_description (GstPromise * promise, gpointer user_data)
{
  BenchPeer *p = user_data;
  const GstStructure *reply = gst_promise_get_reply (promise);
  const gchar *field = p->publisher ? "offer" : "answer";
  GstWebRTCSessionDescription *desc = NULL;
  LocalSet *l;

  if (reply)
    gst_structure_get (reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
        &desc, NULL);
  gst_promise_unref (promise);
  if (desc == NULL) {
    g_printerr ("otc-router-bench: webrtcbin made no %s\n", field);
    return;
  }
  l = g_new0 (LocalSet, 1);
  l->peer = peer_ref (p);
  l->kind = g_strdup (field);
  l->sdp = gst_sdp_message_as_text (desc->sdp);
  g_signal_emit_by_name (p->webrtc, "set-local-description", desc,
      gst_promise_new_with_change_func (on_local_set, l,
          (GDestroyNotify) local_set_free));
  gst_webrtc_session_description_free (desc);
}

static void
on_negotiation_needed (GstElement * webrtc, BenchPeer * p)
{
  if (!p->publisher || p->offered)
    return;
  p->offered = TRUE;
  g_signal_emit_by_name (webrtc, "create-offer", NULL,
      gst_promise_new_with_change_func (on_local_description, peer_ref (p),
          (GDestroyNotify) peer_unref));
}

static void
peer_handle_message (BenchPeer * p, JsonObject * o)
{
  const gchar *type = json_object_get_string_member_with_default (o, "type",
      "");

  if (p->publisher && g_str_equal (type, "publishAnswer") && !p->leg_id) {
    p->leg_id = g_strdup (json_object_get_string_member (o, "streamId"));
    p->stream_id = g_strdup (p->leg_id);
    peer_set_remote (p, "answer", json_object_get_string_member (o, "sdp"));
    peer_flush_local_candidates (p);
  } else if (!p->publisher && g_str_equal (type, "subscribeOffer")
      && !p->leg_id && g_strcmp0 (json_object_get_string_member (o,
              "streamId"), p->stream_id) == 0) {
    p->leg_id = g_strdup (json_object_get_string_member (o, "subscriptionId"));
    peer_set_remote (p, "offer", json_object_get_string_member (o, "sdp"));
  } else if (g_str_equal (type, "candidate") && p->leg_id
      && g_strcmp0 (json_object_get_string_member (o, "legId"),
          p->leg_id) == 0) {
    const gchar *cand = json_object_get_string_member (o, "candidate");

    if (cand && *cand)
      peer_add_remote_candidate (p,
          (guint) json_object_get_int_member (o, "mline"), cand);
  } else if (g_str_equal (type, "unsubscribed")
      || (g_str_equal (type, "streamDestroyed")
          && g_strcmp0 (json_object_get_string_member (o, "streamId"),
              p->stream_id) == 0)) {
    g_printerr ("otc-router-bench: %s (%s)\n", type,
        json_object_get_string_member_with_default (o, "reason", ""));
  }
}

/* ICE on 127.0.0.1 only: libnice leaves loopback out by default. */
static gboolean
restrict_ice_to_loopback (GstElement * webrtc, GError ** error)
{
  GObject *ice = NULL, *agent = NULL;
  NiceAddress addr;
  gboolean ok = FALSE;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  if (ice && g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent")) {
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "ice-tcp"))
      g_object_set (ice, "ice-tcp", FALSE, NULL);
    g_object_get (ice, "agent", &agent, NULL);
  }
  if (agent) {
    /* no UPnP port mapping on loopback (libnice would try one per agent) */
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (agent), "upnp"))
      g_object_set (agent, "upnp", FALSE, NULL);
    nice_address_init (&addr);
    ok = nice_address_set_from_string (&addr, "127.0.0.1")
        && nice_agent_add_local_address (NICE_AGENT (agent), &addr);
  }
  if (!ok)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
        "cannot restrict webrtcbin's ICE agent to 127.0.0.1");
  g_clear_object (&agent);
  g_clear_object (&ice);
  return ok;
}

static BenchPeer *
peer_new (BenchClient * client, gboolean publisher,
    const BenchMediaConfig * config, BenchSendLog * log)
{
  BenchPeer *p = g_new0 (BenchPeer, 1);
  guint i;

  p->refcount = 1;
  p->client = client;
  p->publisher = publisher;
  p->log = log;
  p->session_id = g_strdup (config->session_id);
  p->secret = g_strdup (config->secret);
  g_queue_init (&p->local_candidates);
  g_queue_init (&p->remote_candidates);
  g_mutex_init (&p->lock);
  for (i = 0; i < BENCH_N_POINTS * BENCH_N_KINDS; i++)
    p->latencies[i / BENCH_N_KINDS][i % BENCH_N_KINDS] =
        g_array_new (FALSE, FALSE, sizeof (gint64));
  if (client)
    client->peer = p;
  return p;
}

static gboolean
peer_setup_webrtc (BenchPeer * p, GError ** error)
{
  if (!restrict_ice_to_loopback (p->webrtc, error))
    return FALSE;
  g_signal_connect (p->webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), p);
  g_signal_connect (p->webrtc, "on-negotiation-needed",
      G_CALLBACK (on_negotiation_needed), p);
  return TRUE;
}

static void
probe_pad (GstElement * element, const gchar * pad_name,
    GstPadProbeCallback cb, BenchPeer * p)
{
  GstPad *pad = gst_element_get_static_pad (element, pad_name);

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, cb, p, NULL);
  gst_object_unref (pad);
}

BenchPeer *
bench_peer_publish (BenchClient * client, const BenchMediaConfig * config,
    BenchSendLog * log, GError ** error)
{
  BenchPeer *p = peer_new (client, TRUE, config, log);
  /* pattern=smpte: its noise corner keeps a 1 Mbit/s CBR encoder busy
   * (pattern=ball undershoots tenfold); mtu 1200 as browsers */
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true pattern=smpte "
      "! video/x-raw,width=%u,height=%u,framerate=%u/1 "
      "! vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate=%u "
      "keyframe-max-dist=300 "
      "! otcencrypt name=venc ! rtpvp8pay pt=%u mtu=1200 ! queue ! w.sink_0 "
      "audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=2 "
      "! opusenc bitrate=%u ! otcencrypt name=aenc "
      "! rtpopuspay pt=%u mtu=1200 ! queue ! w.sink_1 "
      "webrtcbin name=w bundle-policy=max-bundle",
      config->width, config->height, config->fps, config->video_bitrate,
      BENCH_VIDEO_PT, config->audio_bitrate, BENCH_AUDIO_PT);
  const gchar *encs[] = { "venc", "aenc" };
  guint i;

  /* a missing element gives a partial pipeline and an error */
  p->pipeline = gst_parse_launch_full (desc, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, error);
  g_free (desc);
  if (p->pipeline == NULL)
    goto fail;
  for (i = 0; i < G_N_ELEMENTS (encs); i++) {
    GstElement *enc = gst_bin_get_by_name (GST_BIN (p->pipeline), encs[i]);

    /* not in the launch line, which debug logs may print */
    g_object_set (enc, "session-id", config->session_id,
        "encryption-secret", config->secret, NULL);
    gst_object_unref (enc);
  }
  p->webrtc = gst_bin_get_by_name (GST_BIN (p->pipeline), "w");
  if (!peer_setup_webrtc (p, error))
    goto fail;
  for (i = 0; i < 2; i++) {
    GstWebRTCRTPTransceiver *trans = NULL;

    g_signal_emit_by_name (p->webrtc, "get-transceiver", i, &trans);
    if (trans == NULL) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
          "no transceiver %u", i);
      goto fail;
    }
    g_object_set (trans, "direction",
        GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
    gst_object_unref (trans);
  }
  probe_pad (p->webrtc, "sink_0", sent_app_probe, p);
  probe_pad (p->webrtc, "sink_1", sent_app_probe, p);
  g_signal_connect (p->pipeline, "deep-element-added",
      G_CALLBACK (on_deep_element_added), p);
  if (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
        "the publisher pipeline did not start");
    goto fail;
  }
  return p;

fail:
  if (client)
    client->peer = NULL;
  if (p->pipeline)
    gst_element_set_state (p->pipeline, GST_STATE_NULL);
  peer_unref (p);
  return NULL;
}

/* Subscriber webrtcbin, streaming thread: RTP ! depay ! otcdecrypt. */
static void
on_subscriber_pad_added (GstElement * webrtc, GstPad * pad, BenchPeer * p)
{
  GstCaps *caps;
  const gchar *encoding = NULL;
  BenchKind kind;
  GstElement *bin, *dec;
  GstPad *sink;
  gchar *desc;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  if (caps && !gst_caps_is_empty (caps))
    encoding = gst_structure_get_string (gst_caps_get_structure (caps, 0),
        "encoding-name");
  kind = g_ascii_strcasecmp (encoding ? encoding : "", "OPUS") == 0 ?
      BENCH_KIND_AUDIO : BENCH_KIND_VIDEO;
  gst_clear_caps (&caps);

  desc = g_strdup_printf ("%s ! otcdecrypt name=dec mismatch-delay=0 "
      "! fakesink sync=false async=false", kind == BENCH_KIND_AUDIO ?
      "rtpopusdepay" : "rtpvp8depay");
  bin = gst_parse_bin_from_description (desc, TRUE, NULL);
  g_free (desc);
  dec = gst_bin_get_by_name (GST_BIN (bin), "dec");
  g_object_set (dec, "session-id", p->session_id, "encryption-secret",
      p->secret, NULL);
  g_mutex_lock (&p->lock);
  gst_clear_object (&p->dec[kind]);
  p->dec[kind] = dec;
  g_mutex_unlock (&p->lock);

  gst_bin_add (GST_BIN (p->pipeline), bin);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, received_app_probe, p, NULL);
  sink = gst_element_get_static_pad (bin, "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    g_printerr ("otc-router-bench: cannot link %s\n", GST_PAD_NAME (pad));
  gst_object_unref (sink);
  gst_element_sync_state_with_parent (bin);
}

static BenchPeer *
subscriber_new (BenchClient * client, const BenchMediaConfig * config,
    BenchSendLog * log, GError ** error)
{
  BenchPeer *p = peer_new (client, FALSE, config, log);

  p->pipeline = gst_pipeline_new (NULL);
  p->webrtc = gst_element_factory_make ("webrtcbin", "w");
  if (p->webrtc == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "no webrtcbin");
    goto fail;
  }
  gst_object_ref (p->webrtc);
  g_object_set (p->webrtc, "bundle-policy",
      GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", SUBSCRIBER_LATENCY_MS,
      NULL);
  gst_bin_add (GST_BIN (p->pipeline), p->webrtc);
  if (!peer_setup_webrtc (p, error))
    goto fail;
  g_signal_connect (p->webrtc, "pad-added",
      G_CALLBACK (on_subscriber_pad_added), p);
  g_signal_connect (p->pipeline, "deep-element-added",
      G_CALLBACK (on_deep_element_added), p);
  if (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
        "the subscriber pipeline did not start");
    goto fail;
  }
  return p;

fail:
  if (client)
    client->peer = NULL;
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  peer_unref (p);
  return NULL;
}

BenchPeer *
bench_peer_subscribe (BenchClient * client, const gchar * stream_id,
    const BenchMediaConfig * config, BenchSendLog * log, GError ** error)
{
  BenchPeer *p = subscriber_new (client, config, log, error);
  JsonObject *o;

  if (p == NULL)
    return NULL;
  p->stream_id = g_strdup (stream_id);
  o = json_object_new ();
  json_object_set_string_member (o, "type", "subscribe");
  json_object_set_string_member (o, "streamId", stream_id);
  client_send_object (client, o);
  return p;
}

BenchPeer *
bench_peer_subscribe_direct (BenchPeer * publisher,
    const BenchMediaConfig * config, BenchSendLog * log, GError ** error)
{
  BenchPeer *p = subscriber_new (NULL, config, log, error);

  if (p == NULL)
    return NULL;
  p->leg_id = g_strdup ("direct");
  p->remote = publisher;
  publisher->remote = p;
  publisher->leg_id = g_strdup ("direct");
  if (publisher->pending_offer) {
    peer_set_remote (p, "offer", publisher->pending_offer);
    g_clear_pointer (&publisher->pending_offer, g_free);
  }
  peer_flush_local_candidates (publisher);
  return p;
}

const gchar *
bench_peer_get_stream_id (BenchPeer * p)
{
  return p->stream_id;
}

gboolean
bench_peer_connected (BenchPeer * p)
{
  GstWebRTCPeerConnectionState state;

  g_object_get (p->webrtc, "connection-state", &state, NULL);
  return state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED;
}

gboolean
bench_peer_receiving (BenchPeer * p)
{
  gboolean yes;

  g_mutex_lock (&p->lock);
  yes = p->total_packets[BENCH_KIND_VIDEO] > 0
      && p->total_packets[BENCH_KIND_AUDIO] > 0;
  g_mutex_unlock (&p->lock);
  return yes;
}

void
bench_peer_reset_window (BenchPeer * p)
{
  guint i;

  g_mutex_lock (&p->lock);
  memset (p->packets, 0, sizeof (p->packets));
  memset (p->unstamped, 0, sizeof (p->unstamped));
  for (i = 0; i < BENCH_N_POINTS * BENCH_N_KINDS; i++)
    g_array_set_size (p->latencies[i / BENCH_N_KINDS][i % BENCH_N_KINDS], 0);
  g_mutex_unlock (&p->lock);
}

guint64
bench_peer_window_packets (BenchPeer * p, BenchKind kind)
{
  guint64 n;

  g_mutex_lock (&p->lock);
  n = p->packets[kind];
  g_mutex_unlock (&p->lock);
  return n;
}

guint64
bench_peer_window_latencies (BenchPeer * p, BenchPoint point, BenchKind kind,
    GArray * out)
{
  guint64 unstamped;

  g_mutex_lock (&p->lock);
  g_array_append_vals (out, p->latencies[point][kind]->data,
      p->latencies[point][kind]->len);
  unstamped = p->unstamped[point][kind];
  g_mutex_unlock (&p->lock);
  return unstamped;
}

void
bench_peer_decrypt_stats (BenchPeer * p, guint64 * frames_out,
    guint64 * auth_failed)
{
  GstElement *dec[BENCH_N_KINDS];
  guint i;

  *frames_out = *auth_failed = 0;
  g_mutex_lock (&p->lock);
  for (i = 0; i < BENCH_N_KINDS; i++)
    dec[i] = p->dec[i] ? gst_object_ref (p->dec[i]) : NULL;
  g_mutex_unlock (&p->lock);
  for (i = 0; i < BENCH_N_KINDS; i++) {
    GstStructure *s = NULL;
    guint64 v;

    if (dec[i] == NULL)
      continue;
    g_object_get (dec[i], "stats", &s, NULL);
    if (s && gst_structure_get_uint64 (s, "frames-out", &v))
      *frames_out += v;
    if (s && gst_structure_get_uint64 (s, "frames-auth-failed", &v))
      *auth_failed += v;
    if (s)
      gst_structure_free (s);
    gst_object_unref (dec[i]);
  }
}

void
bench_peer_free (BenchPeer * p)
{
  if (p == NULL)
    return;
  if (p->client && p->client->peer == p)
    p->client->peer = NULL;
  if (p->remote && p->remote->remote == p)
    p->remote->remote = NULL;
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  peer_unref (p);
}
