/* Session events, signals, connection sharing and failures of the session
 * elements: against a real otc-router, and against a fake signalling
 * server for what a real router never says. Runs in a loopback-only
 * network namespace. */
#include <gst/check/gstcheck.h>
#include <signal.h>
#include <sys/wait.h>

#include "session-common.h"

typedef struct
{
  Participant *p;
  const gchar *name;
  const gchar *field;
  const gchar *value;
} MsgWait;

static gboolean
has_message (gpointer data)
{
  MsgWait *w = data;

  return participant_count (w->p, w->name, w->field, w->value) > 0;
}

static void
wait_message (Participant * p, const gchar * name, const gchar * field,
    const gchar * value, guint timeout_ms)
{
  MsgWait w = { p, name, field, value };

  fail_unless (participants_wait (has_message, &w, timeout_ms),
      "%s: no %s (%s=%s)", p->name, name, field, value);
}

static guint
n_src_pads (Participant * p)
{
  guint n;

  GST_OBJECT_LOCK (p->session);
  n = GST_ELEMENT (p->session)->numsrcpads;
  GST_OBJECT_UNLOCK (p->session);
  return n;
}

static gboolean
no_src_pads (gpointer data)
{
  return n_src_pads (data) == 0;
}

static gboolean
has_src_pad (gpointer data)
{
  return n_src_pads (data) > 0;
}

/* Connection and stream events, signals both ways, and the end of a
 * remote stream: messages, EOS and the pad removed. */
GST_START_TEST (test_session_events_and_signals)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", SECRET,
      TRUE);
  gchar *a_conn, *b_conn, *a_id;
  GstStructure *s;
  gboolean ok = FALSE;
  gchar *big;

  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  a_conn = connection_id_of (alice);
  b_conn = connection_id_of (bob);
  fail_unless (a_conn && b_conn && g_strcmp0 (a_conn, b_conn) != 0);
  wait_message (bob, "otc-connection-created", "connection-id", a_conn,
      10000);
  wait_message (bob, "otc-stream-created", "connection-id", a_conn, 10000);
  s = participant_last (bob, "otc-stream-created");
  a_id = g_strdup (gst_structure_get_string (s, "stream-id"));
  fail_unless_equals_string (gst_structure_get_string (s, "video-type"),
      "camera");
  gst_structure_free (s);
  /* alice, already there, learns of bob from the connected message */
  wait_message (alice, "otc-connection-created", "connection-id", b_conn,
      10000);
  fail_unless (participants_wait (has_src_pad, bob, 20000));

  /* a signal to everyone, then one to alice only */
  g_signal_emit_by_name (bob->session, "send-signal", "chat", "hello all",
      NULL, &ok);
  fail_unless (ok);
  wait_message (alice, "otc-signal-received", "data", "hello all", 10000);
  wait_message (bob, "otc-signal-received", "data", "hello all", 10000);
  g_signal_emit_by_name (bob->session, "send-signal", "chat", "just you",
      a_conn, &ok);
  fail_unless (ok);
  wait_message (alice, "otc-signal-received", "data", "just you", 10000);
  s = participant_last (alice, "otc-signal-received");
  fail_unless_equals_string (gst_structure_get_string (s, "from"), b_conn);
  fail_unless_equals_string (gst_structure_get_string (s, "type"), "chat");
  gst_structure_free (s);
  /* too long: refused here, nothing sent */
  big = g_strnfill (8193, 'x');
  g_signal_emit_by_name (bob->session, "send-signal", "chat", big, NULL, &ok);
  fail_if (ok);
  g_free (big);
  /* the router refuses a bad signal type: an error message with its code */
  g_signal_emit_by_name (bob->session, "send-signal", "bad type!", "x", NULL,
      &ok);
  wait_message (bob, "otc-session-error", NULL, NULL, 10000);
  s = participant_last (bob, "otc-session-error");
  {
    gint code = 0;

    gst_structure_get_int (s, "code", &code);
    fail_unless_equals_int (code, 400);
  }
  gst_structure_free (s);

  /* alice leaves: bob is told, its pad ends and goes */
  fail_unless (gst_element_set_state (alice->pipeline, GST_STATE_NULL) ==
      GST_STATE_CHANGE_SUCCESS);
  wait_message (bob, "otc-stream-destroyed", "stream-id", a_id, 10000);
  wait_message (bob, "otc-connection-destroyed", "connection-id", a_conn,
      10000);
  fail_unless (participants_wait (no_src_pads, bob, 10000));
  fail_unless_equals_int (participant_count (bob, "error", NULL, NULL), 0);
  g_free (a_id);
  g_free (a_conn);
  g_free (b_conn);
  participant_free (bob);
  participant_free (alice);
  test_session_free (t);
}

GST_END_TEST;

/* An EOS sent to otcsrc ends its streams and the pipeline: with frames
 * flowing, and with a stream whose frames do not decrypt (nothing comes out
 * of it to carry the EOS). */
GST_START_TEST (test_eos_to_subscriber)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", SECRET,
      TRUE);
  Participant *eve = JOIN (t, participant_new_subscriber, "eve", WRONG,
      TRUE);

  g_object_set (eve->session, "mismatch-delay", 0, NULL);
  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (eve) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participants_wait (has_src_pad, bob, 20000));
  wait_message (eve, "otc-encryption-secret-mismatch", NULL, NULL, 20000);
  fail_unless (gst_element_send_event (bob->session, gst_event_new_eos ()));
  fail_unless (gst_element_send_event (eve->session, gst_event_new_eos ()));
  wait_message (bob, "eos", NULL, NULL, 10000);
  wait_message (eve, "eos", NULL, NULL, 10000);
  fail_unless_equals_int (participant_count (bob, "error", NULL, NULL), 0);
  participant_free (eve);
  participant_free (bob);
  participant_free (alice);
  test_session_free (t);
}

GST_END_TEST;

/* otcsink and otcsrc in one pipeline with the same url and token share one
 * connection: the others see one participant. */
GST_START_TEST (test_shared_connection)
{
  TestSession *t = test_session_new (TRUE);
  Participant *carol = JOIN (t, participant_new_publisher, "carol",
      "otcsink", SECRET);
  gchar *tok = test_session_token (t);
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true ! vp8enc "
      "deadline=1 ! otcsink name=pub url=%s token=%s encryption-secret=\""
      SECRET "\" otcsrc name=s url=%s token=%s encryption-secret=\"" SECRET
      "\" ! fakesink sync=false", t->router->url, tok, t->router->url, tok);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *pub = gst_bin_get_by_name (GST_BIN (pipeline), "pub");
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "s");
  gchar *c1 = NULL, *c2 = NULL;

  fail_unless (participant_start (carol) != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  g_object_get (pub, "connection-id", &c1, NULL);
  g_object_get (src, "connection-id", &c2, NULL);
  fail_unless (c1 != NULL);
  fail_unless_equals_string (c1, c2);
  /* carol sees that connection's stream, and one connection */
  wait_message (carol, "otc-stream-created", "connection-id", c1, 20000);
  fail_unless_equals_int (participant_count (carol, "otc-connection-created",
          NULL, NULL), 1);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  wait_message (carol, "otc-connection-destroyed", "connection-id", c1,
      10000);
  g_free (c1);
  g_free (c2);
  g_free (desc);
  g_free (tok);
  gst_object_unref (pub);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  participant_free (carol);
  test_session_free (t);
}

GST_END_TEST;

/* The router killed mid-session: every participant posts disconnected and
 * an error, and stops without hanging. */
GST_START_TEST (test_router_goes_away)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", SECRET,
      TRUE);
  GstStructure *s;

  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participants_wait (has_src_pad, bob, 20000));
  /* reaped by test_router_stop below */
  fail_unless_equals_int (kill (t->router->pid, SIGKILL), 0);
  wait_message (alice, "otc-session-disconnected", NULL, NULL, 10000);
  wait_message (bob, "otc-session-disconnected", NULL, NULL, 10000);
  s = participant_last (bob, "otc-session-disconnected");
  fail_unless_equals_string (gst_structure_get_string (s, "reason"),
      "networkDisconnected");
  gst_structure_free (s);
  /* and an error (posted just after the message) */
  wait_message (bob, "error", NULL, NULL, 10000);
  wait_message (alice, "error", NULL, NULL, 10000);
  fail_unless_equals_int (participant_count (bob, "error", NULL, NULL), 1);
  participant_free (bob);       /* asserts the stop succeeds */
  participant_free (alice);
  /* killed: test_router_stop only collects it */
  live_session = NULL;
  fail_unless (WIFSIGNALED (test_router_stop (t->router)));
  g_free (t->session_id);
  g_free (t);
}

GST_END_TEST;

/* A moderator (a plain signalling client here) ends a stream, then a
 * connection: the subscriber's pad goes with the stream (reason
 * forceUnpublished); the publisher posts otc-session-disconnected with
 * reason forceDisconnected and an error, and stops cleanly; the subscriber
 * hears that the connection was destroyed, with that reason. */
GST_START_TEST (test_moderator_force_disconnect)
{
  TestSession *t = test_session_new (TRUE);
  Participant *alice = JOIN (t, participant_new_publisher, "alice", "otcsink",
      SECRET);
  Participant *bob = JOIN (t, participant_new_subscriber, "bob", SECRET,
      TRUE);
  TestClient *mod = test_client_open (t->router);
  gchar *token = test_client_token (t->session_id, "moderator", 600);
  JsonObject *o = test_client_connect (mod, token), *ev;
  gchar *alice_id, *stream_id, *m;
  GstStructure *s;

  fail_unless (o != NULL);
  json_object_unref (o);
  fail_unless (participant_start (alice) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participant_start (bob) != GST_STATE_CHANGE_FAILURE);
  fail_unless (participants_wait (has_src_pad, bob, 20000));
  alice_id = connection_id_of (alice);
  s = participant_last (alice, "otc-stream-published");
  fail_unless (s != NULL);
  stream_id = g_strdup (gst_structure_get_string (s, "stream-id"));
  gst_structure_free (s);

  m = g_strdup_printf ("{\"type\":\"forceUnpublish\",\"requestId\":\"u\","
      "\"streamId\":\"%s\"}", stream_id);
  test_client_send (mod, m);
  g_free (m);
  ev = test_client_wait (mod, "forceUnpublishSent", 10000);
  fail_unless (ev != NULL);
  json_object_unref (ev);
  wait_message (bob, "otc-stream-destroyed", "reason", "forceUnpublished",
      10000);
  fail_unless (participants_wait (no_src_pads, bob, 10000));

  m = g_strdup_printf ("{\"type\":\"forceDisconnect\",\"requestId\":\"d\","
      "\"connectionId\":\"%s\"}", alice_id);
  test_client_send (mod, m);
  g_free (m);
  wait_message (alice, "otc-session-disconnected", "reason",
      "forceDisconnected", 10000);
  wait_message (alice, "error", NULL, NULL, 10000);
  wait_message (bob, "otc-connection-destroyed", "reason",
      "forceDisconnected", 10000);
  s = participant_last (bob, "otc-connection-destroyed");
  fail_unless_equals_string (gst_structure_get_string (s, "connection-id"),
      alice_id);
  gst_structure_free (s);
  fail_unless_equals_int (participant_count (bob, "otc-session-disconnected",
          NULL, NULL), 0);

  participant_free (alice);     /* asserts the stop succeeds */
  participant_free (bob);
  test_client_free (mod);
  g_free (token);
  g_free (alice_id);
  g_free (stream_id);
  test_session_free (t);
}

GST_END_TEST;

static gint
join_error (const gchar * url, const gchar * token)
{
  Participant *p = participant_new_subscriber ("p", url, token, SECRET, TRUE);
  GstStructure *s;
  gint code = 0;

  g_object_set (p->session, "connect-timeout", 5000, NULL);
  fail_unless_equals_int (participant_start (p), GST_STATE_CHANGE_FAILURE);
  s = participant_last (p, "otc-session-error");
  fail_unless (s != NULL);
  gst_structure_get_int (s, "code", &code);
  gst_structure_free (s);
  fail_unless_equals_int (participant_count (p, "error", NULL, NULL), 1);
  participant_free (p);
  return code;
}

/* Bad tokens, a session that does not exist, nobody listening. */
GST_START_TEST (test_join_failures)
{
  TestSession *t = test_session_new (TRUE);
  gchar *expired = test_client_token (t->session_id, "publisher", -60);
  gchar *missing = test_client_token ("2_no_such_session", "publisher", 600);
  gchar *forged = test_jwt ("{\"scope\":\"session.connect\"}", "not the key");
  gchar *dead_url;
  GSocket *sock;
  GSocketAddress *addr;
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);

  fail_unless_equals_int (join_error (t->router->url, expired), 1004);
  fail_unless_equals_int (join_error (t->router->url, forged), 1004);
  fail_unless_equals_int (join_error (t->router->url, "not a token"), 1004);
  fail_unless_equals_int (join_error (t->router->url, missing), 1005);

  /* a port that was free a moment ago: nobody answers */
  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  addr = g_inet_socket_address_new (lo, 0);
  fail_unless (g_socket_bind (sock, addr, FALSE, NULL));
  g_object_unref (addr);
  addr = g_socket_get_local_address (sock, NULL);
  dead_url = g_strdup_printf ("http://127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
  g_object_unref (addr);
  g_socket_close (sock, NULL);
  g_object_unref (sock);
  fail_unless_equals_int (join_error (dead_url, expired), 1006);

  g_free (dead_url);
  g_object_unref (lo);
  g_free (expired);
  g_free (missing);
  g_free (forged);
  test_session_free (t);
}

GST_END_TEST;

/* A signalling server that announces an E2EE format this client does not
 * know: the client refuses to join. */
typedef struct
{
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  gchar *url;
  const gchar *connected;       /* the "connected" message it sends */
  GThread *thread;
  GMutex lock;
  GCond cond;
  GList *sockets;
} FakeServer;

static void
fake_on_message (SoupWebsocketConnection * ws, gint type, GBytes * message,
    gpointer user_data)
{
  FakeServer *f = user_data;

  if (strstr (g_bytes_get_data (message, NULL), "\"connect\""))
    soup_websocket_connection_send_text (ws, f->connected);
}

static void
fake_on_websocket (SoupServer * server, SoupServerMessage * msg,
    const char *path, SoupWebsocketConnection * ws, gpointer user_data)
{
  FakeServer *f = user_data;

  f->sockets = g_list_prepend (f->sockets, g_object_ref (ws));
  g_signal_connect (ws, "message", G_CALLBACK (fake_on_message), f);
}

static gpointer
fake_thread (gpointer data)
{
  FakeServer *f = data;
  GSList *uris;

  g_main_context_push_thread_default (f->context);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (f->server, "/signal", NULL, NULL,
      fake_on_websocket, f, NULL);
  fail_unless (soup_server_listen_local (f->server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, NULL));
  uris = soup_server_get_uris (f->server);
  g_mutex_lock (&f->lock);
  f->url = g_uri_to_string (uris->data);
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (f->loop);
  g_list_free_full (f->sockets, g_object_unref);
  g_object_unref (f->server);
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static FakeServer *
fake_server_start (const gchar * connected)
{
  FakeServer *f = g_new0 (FakeServer, 1);

  f->connected = connected;
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->thread = g_thread_new ("fake-server", fake_thread, f);
  g_mutex_lock (&f->lock);
  while (f->url == NULL)
    g_cond_wait (&f->cond, &f->lock);
  g_mutex_unlock (&f->lock);
  return f;
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
fake_server_stop (FakeServer * f)
{
  g_main_context_invoke (f->context, quit_loop, f->loop);
  g_thread_join (f->thread);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  g_free (f->url);
  g_free (f);
}

#define CONNECTED(e2ee) "{\"type\":\"connected\",\"v\":1,\"requestId\":" \
  "\"connect\",\"sessionId\":\"2_fake\",\"connectionId\":\"c_fake\"," \
  "\"role\":\"publisher\",\"data\":\"\",\"e2ee\":" e2ee "," \
  "\"connections\":[],\"streams\":[]}"

GST_START_TEST (test_unsupported_e2ee_format)
{
  const gchar *cases[] = {
    CONNECTED ("{\"enabled\":true,\"format\":\"OTC-E2EE\",\"formatVersion\":2,"
        "\"cipherSuite\":\"aes-256-ctr-hmac-sha512-80\"}"),
    CONNECTED ("{\"enabled\":true,\"format\":\"OTC-E2EE\",\"formatVersion\":1,"
        "\"cipherSuite\":\"rot13\"}"),
    CONNECTED ("{\"enabled\":true}"),
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    FakeServer *f = fake_server_start (cases[i]);
    Participant *p = participant_new_subscriber ("p", f->url, "token",
        SECRET, TRUE);
    GstStructure *s;
    gint code = 0;

    fail_unless_equals_int (participant_start (p), GST_STATE_CHANGE_FAILURE);
    s = participant_last (p, "otc-session-error");
    fail_unless (s != NULL);
    gst_structure_get_int (s, "code", &code);
    fail_unless_equals_int (code, 1013);
    GST_INFO ("refused: %s", gst_structure_get_string (s, "message"));
    gst_structure_free (s);
    fail_unless_equals_int (participant_count (p, "otc-session-connected",
            NULL, NULL), 0);
    participant_free (p);
    fake_server_stop (f);
  }
}

GST_END_TEST;

static Suite *
session_control_suite (void)
{
  Suite *s = suite_create ("session_control");
  TCase *tc = tcase_create ("control");

  tcase_set_timeout (tc, 120);
  tcase_add_checked_fixture (tc, NULL, session_teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_session_events_and_signals);
  tcase_add_test (tc, test_shared_connection);
  tcase_add_test (tc, test_eos_to_subscriber);
  tcase_add_test (tc, test_router_goes_away);
  tcase_add_test (tc, test_moderator_force_disconnect);
  tcase_add_test (tc, test_join_failures);
  tcase_add_test (tc, test_unsupported_e2ee_format);
  return s;
}

GST_CHECK_MAIN (session_control);
