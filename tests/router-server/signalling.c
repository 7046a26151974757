/* otc-router's signalling WebSocket against a real router process: the
 * connect handshake with the session's E2EE parameters, connection events,
 * roles, signals, and every kind of bad input (each answered with an error
 * code while the other clients carry on). */
#include <string.h>

#include "router-test-util.h"

static TestRouter *router;
static gchar *e2ee_session;

static void
start (void)
{
  router = test_router_start (NULL);
  e2ee_session = test_create_session (router, "e2ee=true");
}

static void
stop (void)
{
  g_free (e2ee_session);
  test_router_stop (router);
}

static gint
error_code (JsonObject * o)
{
  fail_unless (o != NULL, "no error message arrived");
  return (gint) json_object_get_int_member (o, "code");
}

static TestClient *
connected_client (const gchar * role, JsonObject ** connected)
{
  TestClient *c = test_client_open (router);
  gchar *token = test_client_token (e2ee_session, role, 600);
  JsonObject *o = test_client_connect (c, token);

  fail_unless (o != NULL, "connect failed");
  if (connected)
    *connected = o;
  else
    json_object_unref (o);
  g_free (token);
  return c;
}

GST_START_TEST (test_connect_and_events)
{
  JsonObject *c1_info, *c2_info, *e2ee, *ev;
  TestClient *c1 = connected_client ("publisher", &c1_info);
  TestClient *c2;
  const gchar *id1, *id2;

  e2ee = json_object_get_object_member (c1_info, "e2ee");
  fail_unless (json_object_get_boolean_member (e2ee, "enabled"));
  fail_unless_equals_int (json_object_get_int_member (e2ee, "formatVersion"),
      1);
  fail_unless_equals_string (json_object_get_string_member (e2ee,
          "cipherSuite"), "aes-256-ctr-hmac-sha512-80");
  fail_unless_equals_string (json_object_get_string_member (c1_info,
          "sessionId"), e2ee_session);
  id1 = json_object_get_string_member (c1_info, "connectionId");

  c2 = connected_client ("subscriber", &c2_info);
  id2 = json_object_get_string_member (c2_info, "connectionId");
  /* the newcomer sees who is there; the others see the newcomer */
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member
          (c2_info, "connections")), 1);
  ev = test_client_wait (c1, "connectionCreated", 5000);
  fail_unless (ev != NULL);
  fail_unless_equals_string (json_object_get_string_member
      (json_object_get_object_member (ev, "connection"), "connectionId"), id2);
  json_object_unref (ev);

  /* a subscriber cannot publish */
  test_client_send (c2, "{\"type\":\"publish\",\"requestId\":\"r1\","
      "\"sdp\":\"v=0\"}");
  ev = test_client_wait (c2, "error", 5000);
  fail_unless_equals_int (error_code (ev), 1500);
  fail_unless_equals_string (json_object_get_string_member (ev, "requestId"),
      "r1");
  json_object_unref (ev);

  /* the one that leaves is announced */
  test_client_free (c2);
  ev = test_client_wait (c1, "connectionDestroyed", 5000);
  fail_unless (ev != NULL);
  fail_unless_equals_string (json_object_get_string_member (ev,
          "connectionId"), id2);
  json_object_unref (ev);
  fail_unless (id1 != NULL);
  json_object_unref (c1_info);
  json_object_unref (c2_info);
  test_client_free (c1);
}

GST_END_TEST;

GST_START_TEST (test_signals)
{
  JsonObject *i1, *i2, *ev;
  TestClient *c1 = connected_client ("publisher", &i1);
  TestClient *c2 = connected_client ("subscriber", &i2);
  gchar *m, *big;

  /* to one connection */
  m = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"%s\",\"signalType\":"
      "\"chat\",\"data\":\"hello\",\"requestId\":\"s1\"}",
      json_object_get_string_member (i2, "connectionId"));
  test_client_send (c1, m);
  g_free (m);
  ev = test_client_wait (c2, "signal", 5000);
  fail_unless (ev != NULL);
  fail_unless_equals_string (json_object_get_string_member (ev, "data"),
      "hello");
  fail_unless_equals_string (json_object_get_string_member (ev, "from"),
      json_object_get_string_member (i1, "connectionId"));
  json_object_unref (ev);
  ev = test_client_wait (c1, "signalSent", 5000);
  fail_unless (ev != NULL);
  json_object_unref (ev);

  /* to everyone */
  test_client_send (c2, "{\"type\":\"signal\",\"data\":\"all\"}");
  ev = test_client_wait (c1, "signal", 5000);
  fail_unless_equals_string (json_object_get_string_member (ev, "data"),
      "all");
  json_object_unref (ev);

  /* limits and unknown targets */
  big = g_strnfill (8193, 'x');
  m = g_strdup_printf ("{\"type\":\"signal\",\"data\":\"%s\"}", big);
  test_client_send (c1, m);
  fail_unless_equals_int (error_code (test_client_wait (c1, "error", 5000)),
      413);
  g_free (m);
  g_free (big);
  test_client_send (c1, "{\"type\":\"signal\",\"to\":\"c_nobody\","
      "\"data\":\"x\"}");
  fail_unless_equals_int (error_code (test_client_wait (c1, "error", 5000)),
      404);
  test_client_send (c1, "{\"type\":\"signal\",\"signalType\":\"no spaces\","
      "\"data\":\"x\"}");
  fail_unless_equals_int (error_code (test_client_wait (c1, "error", 5000)),
      400);
  json_object_unref (i1);
  json_object_unref (i2);
  test_client_free (c1);
  test_client_free (c2);
}

GST_END_TEST;

/* Every bad input gets an error with its code, and the connection (and
 * the router) carries on. */
GST_START_TEST (test_bad_input)
{
  TestClient *bystander = connected_client ("publisher", NULL);
  TestClient *c = test_client_open (router);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gchar *tok, *claims, *m, *nested, *huge;
  JsonObject *ev;
  guint i;

  /* before connect */
  test_client_send (c, "{\"type\":\"subscribe\",\"streamId\":\"x\"}");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      1010);
  /* not JSON, not an object, no type, unknown type */
  test_client_send (c, "{\"type\": ");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      400);
  test_client_send (c, "[1,2,3]");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      400);
  test_client_send (c, "{\"t\":1}");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      400);
  test_client_send (c, "{\"type\":\"dance\"}");
  ev = test_client_wait (c, "error", 5000);
  fail_unless_equals_int (error_code (ev), 1010);       /* not connected yet */
  json_object_unref (ev);
  /* deeply nested */
  nested = g_strnfill (100000, '[');
  m = g_strdup_printf ("{\"type\":\"ping\",\"x\":%s}", nested);
  test_client_send (c, m);
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      400);
  g_free (m);
  g_free (nested);
  /* over the protocol limit (but under the socket's) */
  huge = g_strnfill (300 * 1024, 'a');
  m = g_strdup_printf ("{\"type\":\"ping\",\"pad\":\"%s\"}", huge);
  test_client_send (c, m);
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      413);
  g_free (m);
  g_free (huge);
  /* binary */
  soup_websocket_connection_send_binary (c->ws, "\x01\x02", 2);
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      400);

  /* tokens: wrong version, forged, alg none, expired, not yet valid, for a
   * session that does not exist, for another session than asked */
  test_client_send (c, "{\"type\":\"connect\",\"v\":2,\"token\":\"x\"}");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      1008);
  claims = g_strdup_printf ("{\"scope\":\"session.connect\",\"session_id\":"
      "\"%s\",\"role\":\"publisher\",\"iat\":%" G_GINT64_FORMAT ",\"exp\":%"
      G_GINT64_FORMAT ",\"nonce\":\"n\"}", e2ee_session, now, now + 600);
  for (i = 0; i < 2; i++) {
    tok = test_jwt (claims, i == 0 ? "forged secret" : NULL);
    m = g_strdup_printf ("{\"type\":\"connect\",\"v\":1,\"token\":\"%s\"}",
        tok);
    test_client_send (c, m);
    fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
        1004);
    g_free (m);
    g_free (tok);
  }
  g_free (claims);
  claims = g_strdup_printf ("{\"scope\":\"session.connect\",\"session_id\":"
      "\"%s\",\"role\":\"publisher\",\"iat\":%" G_GINT64_FORMAT ",\"exp\":%"
      G_GINT64_FORMAT ",\"nonce\":\"n\"}", e2ee_session, now - 100, now - 10);
  tok = test_jwt (claims, TEST_API_SECRET);
  m = g_strdup_printf ("{\"type\":\"connect\",\"v\":1,\"token\":\"%s\"}", tok);
  test_client_send (c, m);
  ev = test_client_wait (c, "error", 5000);
  fail_unless_equals_int (error_code (ev), 1004);
  fail_unless (strstr (json_object_get_string_member (ev, "message"),
          "expired") != NULL);
  json_object_unref (ev);
  g_free (m);
  g_free (tok);
  g_free (claims);
  claims = g_strdup_printf ("{\"scope\":\"session.connect\",\"session_id\":"
      "\"%s\",\"role\":\"publisher\",\"iat\":%" G_GINT64_FORMAT ",\"nbf\":%"
      G_GINT64_FORMAT ",\"exp\":%" G_GINT64_FORMAT ",\"nonce\":\"n\"}",
      e2ee_session, now + 3600, now + 3600, now + 7200);
  tok = test_jwt (claims, TEST_API_SECRET);
  m = g_strdup_printf ("{\"type\":\"connect\",\"v\":1,\"token\":\"%s\"}", tok);
  test_client_send (c, m);
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      1004);
  g_free (m);
  g_free (tok);
  g_free (claims);
  tok = test_client_token ("2_no_such_session", "publisher", 600);
  m = g_strdup_printf ("{\"type\":\"connect\",\"v\":1,\"token\":\"%s\"}", tok);
  test_client_send (c, m);
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      1005);
  g_free (m);
  g_free (tok);
  tok = test_client_token (e2ee_session, "publisher", 600);
  m = g_strdup_printf ("{\"type\":\"connect\",\"v\":1,\"token\":\"%s\","
      "\"sessionId\":\"2_another\"}", tok);
  test_client_send (c, m);
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      1004);
  g_free (m);

  /* after all that, the connection still works */
  ev = test_client_connect (c, tok);
  fail_unless (ev != NULL);
  json_object_unref (ev);
  g_free (tok);
  test_client_send (c, "{\"type\":\"subscribe\",\"streamId\":\"s_none\"}");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      404);
  test_client_send (c, "{\"type\":\"dance\"}");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      405);
  test_client_send (c, "{\"type\":\"publish\"}");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      400);
  test_client_send (c, "{\"type\":\"publish\",\"sdp\":\"this is no sdp\"}");
  fail_unless_equals_int (error_code (test_client_wait (c, "error", 5000)),
      1501);
  test_client_send (c, "{\"type\":\"ping\",\"requestId\":\"p\"}");
  ev = test_client_wait (c, "pong", 5000);
  fail_unless (ev != NULL);
  json_object_unref (ev);

  /* and so does everybody else's */
  test_client_send (bystander, "{\"type\":\"ping\"}");
  ev = test_client_wait (bystander, "pong", 5000);
  fail_unless (ev != NULL);
  json_object_unref (ev);
  test_client_free (c);
  test_client_free (bystander);
}

GST_END_TEST;

/* A client that vanishes without closing: the others hear of it. */
GST_START_TEST (test_vanishing_client)
{
  TestClient *a = connected_client ("publisher", NULL);
  TestClient *b = connected_client ("publisher", NULL);
  JsonObject *ev;

  /* drop b's TCP connection without a close frame */
  g_io_stream_close (soup_websocket_connection_get_io_stream (b->ws), NULL,
      NULL);
  ev = test_client_wait (a, "connectionDestroyed", 10000);
  fail_unless (ev != NULL);
  json_object_unref (ev);
  test_client_free (a);
  test_client_free (b);
}

GST_END_TEST;

/* SIGTERM closes every client with 1001 (going away). */
GST_START_TEST (test_shutdown_closes_clients)
{
  TestRouter *r = test_router_start (NULL);
  gchar *sid = test_create_session (r, "e2ee=true");
  gchar *tok = test_client_token (sid, "publisher", 600);
  TestClient *c = test_client_open (r);
  JsonObject *ok = test_client_connect (c, tok);

  fail_unless (ok != NULL);
  json_object_unref (ok);
  fail_unless_equals_int (test_router_stop (r), 0);
  fail_unless (test_client_wait_closed (c, 5000));
  fail_unless_equals_int (c->close_code, 1001);
  test_client_free (c);
  g_free (tok);
  g_free (sid);
}

GST_END_TEST;

/* `otc-router token` prints a token the router accepts. */
GST_START_TEST (test_token_command)
{
  gchar *argv[] = { (gchar *) g_getenv ("OTC_ROUTER"), (gchar *) "token",
    (gchar *) "--api-key=" TEST_API_KEY,
    (gchar *) "--api-secret=" TEST_API_SECRET, NULL, (gchar *) "--role=subscriber",
    (gchar *) "--data=name=alice", NULL
  };
  gchar *out = NULL, *err = NULL;
  gint status;
  TestClient *c;
  JsonObject *ok;

  argv[4] = g_strconcat ("--session-id=", e2ee_session, NULL);
  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
          &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s", err);
  g_strstrip (out);
  c = test_client_open (router);
  ok = test_client_connect (c, out);
  fail_unless (ok != NULL);
  fail_unless_equals_string (json_object_get_string_member (ok, "role"),
      "subscriber");
  fail_unless_equals_string (json_object_get_string_member (ok, "data"),
      "name=alice");
  json_object_unref (ok);
  test_client_free (c);
  g_free (argv[4]);
  g_free (out);
  g_free (err);
}

GST_END_TEST;

static Suite *
signalling_suite (void)
{
  Suite *s = suite_create ("otc-router-signalling");
  TCase *tc = tcase_create ("signalling");

  tcase_add_unchecked_fixture (tc, start, stop);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_connect_and_events);
  tcase_add_test (tc, test_signals);
  tcase_add_test (tc, test_bad_input);
  tcase_add_test (tc, test_vanishing_client);
  tcase_add_test (tc, test_shutdown_closes_clients);
  tcase_add_test (tc, test_token_command);
  return s;
}

GST_CHECK_MAIN (signalling);
