#include <glib/gstdio.h>
#include <jwt.h>
#include <sys/prctl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "router-test-util.h"

/* The router goes when the test process goes, whatever ends it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

TestRouter *
test_router_start (const gchar * const *extra_args)
{
  TestRouter *r = g_new0 (TestRouter, 1);
  GPtrArray *argv = g_ptr_array_new ();
  gchar **envp = g_get_environ ();
  GError *error = NULL;
  GString *line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  gchar *secret_file;
  guint i;

  r->state_dir = g_dir_make_tmp ("otc-router-state-XXXXXX", NULL);
  r->archive_dir = g_build_filename (r->state_dir, "archives", NULL);
  envp = g_environ_setenv (envp, "OTC_ROUTER_STATE_DIR", r->state_dir, TRUE);
  g_ptr_array_add (argv, (gpointer) g_getenv ("OTC_ROUTER"));
  g_ptr_array_add (argv, "--port=0");
  g_ptr_array_add (argv, "--api-key=" TEST_API_KEY);
  /* the secret through a file: never on a command line */
  secret_file = g_build_filename (r->state_dir, "api-secret", NULL);
  fail_unless (g_file_set_contents_full (secret_file, TEST_API_SECRET, -1,
          G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
  g_ptr_array_add (argv, g_strconcat ("--api-secret-file=", secret_file,
          NULL));
  g_ptr_array_add (argv, g_strconcat ("--archive-dir=", r->archive_dir,
          NULL));
  for (i = 0; extra_args && extra_args[i]; i++)
    g_ptr_array_add (argv, (gpointer) extra_args[i]);
  g_ptr_array_add (argv, NULL);
  fail_unless (g_getenv ("OTC_ROUTER") != NULL);
  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv->pdata, envp,
          G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL, &r->pid, NULL,
          &r->out_fd,
          NULL, &error))
    fail ("cannot start otc-router: %s", error->message);
  g_strfreev (envp);
  g_free (g_ptr_array_index (argv, 3));
  g_free (g_ptr_array_index (argv, 4));
  g_free (secret_file);
  g_ptr_array_unref (argv);

  /* the first line is the URL */
  while (g_get_monotonic_time () < deadline) {
    gchar ch;
    gssize n = read (r->out_fd, &ch, 1);

    if (n <= 0)
      break;
    if (ch == '\n')
      break;
    g_string_append_c (line, ch);
  }
  fail_unless (g_str_has_prefix (line->str, "http://127.0.0.1:"),
      "otc-router printed \"%s\"", line->str);
  r->url = g_string_free (line, FALSE);
  return r;
}

gint
test_router_stop (TestRouter * r)
{
  gint status = -1;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  kill (r->pid, SIGTERM);
  while (g_get_monotonic_time () < deadline) {
    pid_t p = waitpid (r->pid, &status, WNOHANG);

    if (p == r->pid)
      break;
    g_main_context_iteration (NULL, FALSE);
    g_usleep (5000);            /* polling the child's exit, bounded */
  }
  g_spawn_close_pid (r->pid);
  close (r->out_fd);
  g_free (r->url);
  {
    gchar *f = g_build_filename (r->state_dir, "api-secret", NULL);
    g_unlink (f);
    g_free (f);
  }
  /* empty by now: the tests remove the archives they made */
  g_rmdir (r->archive_dir);
  g_rmdir (r->state_dir);
  g_free (r->archive_dir);
  g_free (r->state_dir);
  g_free (r);
  return status;
}

gchar *
test_jwt (const gchar * claims_json, const gchar * secret)
{
  jwt_t *jwt = NULL;
  gchar *out;
  char *s;

  jwt_new (&jwt);
  jwt_add_grants_json (jwt, claims_json);
  if (secret)
    jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *) secret,
        strlen (secret));
  s = jwt_encode_str (jwt);
  out = g_strdup (s);
  free (s);
  jwt_free (jwt);
  return out;
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

gchar *
test_project_jwt (void)
{
  gchar *claims = g_strdup_printf ("{\"iss\":\"%s\",\"ist\":\"project\","
      "\"iat\":%" G_GINT64_FORMAT ",\"exp\":%" G_GINT64_FORMAT ",\"jti\":\"%u\"}",
      TEST_API_KEY, now_s (), now_s () + 180, g_random_int ());
  gchar *jwt = test_jwt (claims, TEST_API_SECRET);

  g_free (claims);
  return jwt;
}

gchar *
test_client_token (const gchar * session_id, const gchar * role,
    gint64 expire_in)
{
  gchar *claims = g_strdup_printf ("{\"scope\":\"session.connect\","
      "\"session_id\":\"%s\",\"role\":\"%s\",\"iat\":%" G_GINT64_FORMAT
      ",\"exp\":%" G_GINT64_FORMAT ",\"nonce\":\"%u\"}", session_id, role,
      now_s (), now_s () + expire_in, g_random_int ());
  gchar *jwt = test_jwt (claims, TEST_API_SECRET);

  g_free (claims);
  return jwt;
}

guint
test_http (TestRouter * r, const gchar * method, const gchar * path,
    const gchar * auth, const gchar * content_type, const gchar * body,
    gchar ** response)
{
  SoupSession *session = soup_session_new ();
  gchar *uri = g_strconcat (r->url, path, NULL);
  SoupMessage *msg = soup_message_new (method, uri);
  GBytes *reply;
  GError *error = NULL;
  guint status;

  fail_unless (msg != NULL, "bad uri %s", uri);
  if (auth)
    soup_message_headers_append (soup_message_get_request_headers (msg),
        "X-OPENTOK-AUTH", auth);
  if (body)
    soup_message_set_request_body_from_bytes (msg, content_type,
        g_bytes_new (body, strlen (body)));
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  fail_unless (reply != NULL, "%s %s: %s", method, path,
      error ? error->message : "");
  status = soup_message_get_status (msg);
  if (response)
    *response = g_strndup (g_bytes_get_data (reply, NULL),
        g_bytes_get_size (reply));
  g_bytes_unref (reply);
  g_object_unref (msg);
  g_object_unref (session);
  g_free (uri);
  return status;
}

gchar *
test_create_session (TestRouter * r, const gchar * form)
{
  gchar *jwt = test_project_jwt (), *resp = NULL, *id;
  JsonParser *p = json_parser_new ();
  JsonObject *o;
  guint status = test_http (r, "POST", "/session/create", jwt,
      "application/x-www-form-urlencoded", form, &resp);

  fail_unless_equals_int (status, 200);
  fail_unless (json_parser_load_from_data (p, resp, -1, NULL));
  o = json_array_get_object_element (json_node_get_array
      (json_parser_get_root (p)), 0);
  id = g_strdup (json_object_get_string_member (o, "session_id"));
  g_object_unref (p);
  g_free (resp);
  g_free (jwt);
  return id;
}

static void
on_ws_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  TestClient *c = user_data;
  JsonParser *p = json_parser_new ();

  if (json_parser_load_from_data (p, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), NULL))
    g_queue_push_tail (&c->messages,
        json_node_dup_object (json_parser_get_root (p)));
  g_object_unref (p);
}

static void
on_ws_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  TestClient *c = user_data;

  c->closed = TRUE;
  c->close_code = soup_websocket_connection_get_close_code (ws);
}

typedef struct
{
  TestClient *c;
  gboolean done;
  GError *error;
} ConnectData;

static void
connected_cb (GObject * src, GAsyncResult * res, gpointer user_data)
{
  ConnectData *d = user_data;

  d->c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (src), res,
      &d->error);
  d->done = TRUE;
}

static gboolean
connect_done (gpointer data)
{
  return ((ConnectData *) data)->done;
}

static gboolean
tick_done (gpointer data)
{
  return G_SOURCE_REMOVE;
}

gboolean
test_iterate_until (gboolean (*done) (gpointer), gpointer data,
    guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (!done (data)) {
    GSource *tick;

    if (g_get_monotonic_time () > deadline)
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

TestClient *
test_client_try_open (TestRouter * r, guint * status)
{
  TestClient *c = g_new0 (TestClient, 1);
  /* http://127.0.0.1:PORT -> ws://127.0.0.1:PORT/signal */
  gchar *uri = g_strconcat ("ws", r->url + strlen ("http"), "/signal", NULL);
  SoupMessage *msg;
  ConnectData d = { c, FALSE, NULL };

  c->session = soup_session_new ();
  msg = soup_message_new ("GET", uri);
  soup_session_websocket_connect_async (c->session, msg, NULL, NULL, 0, NULL,
      connected_cb, &d);
  fail_unless (test_iterate_until (connect_done, &d, 10000));
  g_free (uri);
  *status = soup_message_get_status (msg);
  if (c->ws == NULL) {
    GST_INFO ("websocket refused (%u): %s", *status, d.error ?
        d.error->message : "?");
    g_clear_error (&d.error);
    g_object_unref (msg);
    g_object_unref (c->session);
    g_free (c);
    return NULL;
  }
  g_object_unref (msg);
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 0);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_ws_message), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (on_ws_closed), c);
  return c;
}

TestClient *
test_client_open (TestRouter * r)
{
  guint status;
  TestClient *c = test_client_try_open (r, &status);

  fail_unless (c != NULL, "websocket refused: HTTP %u", status);
  return c;
}

void
test_client_send (TestClient * c, const gchar * json)
{
  soup_websocket_connection_send_text (c->ws, json);
}

void
test_client_send_object (TestClient * c, JsonObject * msg)
{
  JsonNode *n = json_node_new (JSON_NODE_OBJECT);
  gchar *s;

  json_node_take_object (n, msg);
  s = json_to_string (n, FALSE);
  test_client_send (c, s);
  g_free (s);
  json_node_unref (n);
}

typedef struct
{
  TestClient *c;
  const gchar *type;
  JsonObject *found;
} WaitData;

static gboolean
message_arrived (gpointer data)
{
  WaitData *w = data;

  while (!g_queue_is_empty (&w->c->messages)) {
    JsonObject *o = g_queue_pop_head (&w->c->messages);

    if (g_strcmp0 (json_object_get_string_member_with_default (o, "type",
                ""), w->type) == 0) {
      w->found = o;
      return TRUE;
    }
    json_object_unref (o);
  }
  return w->c->closed;
}

JsonObject *
test_client_wait (TestClient * c, const gchar * type, guint timeout_ms)
{
  WaitData w = { c, type, NULL };

  test_iterate_until (message_arrived, &w, timeout_ms);
  return w.found;
}

JsonObject *
test_client_connect (TestClient * c, const gchar * token)
{
  gchar *m = g_strdup_printf ("{\"type\":\"connect\",\"v\":1,"
      "\"token\":\"%s\"}", token);

  test_client_send (c, m);
  g_free (m);
  return test_client_wait (c, "connected", 5000);
}

static gboolean
is_closed (gpointer data)
{
  return ((TestClient *) data)->closed;
}

gboolean
test_client_wait_closed (TestClient * c, guint timeout_ms)
{
  return test_iterate_until (is_closed, c, timeout_ms);
}

void
test_client_free (TestClient * c)
{
  if (c->ws) {
    g_signal_handlers_disconnect_by_data (c->ws, c);
    if (soup_websocket_connection_get_state (c->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (c->ws, 1000, NULL);
    g_object_unref (c->ws);
  }
  g_queue_clear_full (&c->messages, (GDestroyNotify) json_object_unref);
  g_object_unref (c->session);
  g_free (c);
}

/* A JWT built by hand: @header_json and @claims_json base64url-encoded,
 * signed with HMAC-@hash over @secret (no signature when @secret is
 * NULL; @signature when given instead). */
static gchar *
b64url (const guint8 * data, gsize len)
{
  gchar *b = g_base64_encode (data, len), *p;

  for (p = b; *p; p++) {
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  }
  for (p = b + strlen (b); p > b && p[-1] == '='; p--)
    p[-1] = '\0';
  return b;
}

gchar *
test_handmade_jwt (const gchar * header_json, const gchar * claims_json,
    GChecksumType hash, const gchar * secret, const gchar * signature)
{
  gchar *h = b64url ((const guint8 *) header_json, strlen (header_json));
  gchar *c = b64url ((const guint8 *) claims_json, strlen (claims_json));
  gchar *input = g_strconcat (h, ".", c, NULL), *sig, *out;

  if (secret) {
    GHmac *mac = g_hmac_new (hash, (const guchar *) secret, strlen (secret));
    guint8 digest[64];
    gsize dlen = sizeof (digest);

    g_hmac_update (mac, (const guchar *) input, -1);
    g_hmac_get_digest (mac, digest, &dlen);
    g_hmac_unref (mac);
    sig = b64url (digest, dlen);
  } else {
    sig = g_strdup (signature ? signature : "");
  }
  out = g_strconcat (input, ".", sig, NULL);
  g_free (h);
  g_free (c);
  g_free (input);
  g_free (sig);
  return out;
}

gint
test_router_suite_result (gint failed, gint status)
{
  if (status == 0)
    return failed;
  if (status == -1)
    g_printerr ("FAILED: the shared otc-router did not exit within 10 s of "
        "its SIGTERM\n");
  else if (WIFSIGNALED (status))
    g_printerr ("FAILED: the shared otc-router was killed by signal %d\n",
        WTERMSIG (status));
  else
    g_printerr ("FAILED: the shared otc-router exited with status %d\n",
        WEXITSTATUS (status));
  return 1;
}
