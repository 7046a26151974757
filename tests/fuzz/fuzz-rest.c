/* libFuzzer target: the router's REST API (ext/router/otc-router-rest.c,
 * otc-router-archive.c): the form of POST /session/create and the JSON
 * bodies of /v2/project/{key}/..., through the router's own handlers.
 *
 * The handlers are registered on a SoupServer as otc-router does
 * (otc_router_rest_register, then otc_router_static_register for the web
 * client's files, here from a scratch directory) and each input becomes
 * one HTTP request that the server reads from memory
 * (soup_server_accept_iostream), so libsoup parses it and calls the
 * handlers with a real SoupServerMessage. The server object has no media
 * part: no request of this API reaches it (archives need a session with
 * streams, and the two sessions here have none).
 *
 * Input: byte 0 picks the mode (value % 4), the rest is
 *   0  the form body of POST /session/create;
 *   1  the JSON body of POST /v2/project/KEY/archive;
 *   2  feature(1) then the JSON body of POST /v2/project/KEY/{broadcast,
 *      dial, connect, render, archive, archive/ID/stop};
 *   3  a whole HTTP request, where "$JWT" stands for a valid project JWT
 *      and "$KEY" for the API key.
 * Modes 0-2 carry a valid X-OPENTOK-AUTH (the clock is fixed: fuzz-clock.c),
 * so the fuzzer works on the bodies. Sessions "2_e2ee" and "2_plain"
 * exist; sessions an input creates are dropped after it.
 *
 * Properties checked besides memory safety: modes 0-2 always get a
 * complete response with a JSON body (an object, or the array of a
 * created session), never a 5xx other than the documented 501; a 200 from
 * /session/create made exactly one session, with the settings the form
 * asked for; no response ever carries the file that lies beside the web
 * directory (reachable only by "..", an encoded "..", or a symlink). */
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <unistd.h>
#include <otc-router-private.h>
#include <otc-router-static.h>

#include "fuzz-common.h"

#define API_KEY "fuzzkey"
#define API_SECRET "fuzz-api-secret-0123456789abcdef"
#define MAX_BODY_FUZZ (80 * 1024)

/* Beside the web directory, never to be served. */
#define OUTSIDE_MARKER "otc-fuzz: this file is outside the web directory"

static OtcRouterServer server;
static gchar *scratch_dir;
static GSocketAddress *local_addr, *remote_addr;
static gchar *project_jwt;
static gboolean finished;

static void
on_request_done (SoupServer * soup, SoupServerMessage * msg, gpointer data)
{
  finished = TRUE;
}

static OtcRouterSession *
fixed_session (const gchar * id, gboolean e2ee)
{
  OtcRouterSession *s = otc_router_session_new (API_KEY, e2ee, FALSE, FALSE);

  g_free (s->id);
  s->id = g_strdup (id);
  g_hash_table_insert (server.sessions, s->id, s);
  return s;
}

static void
write_file (const gchar * dir, const gchar * name, const gchar * text)
{
  gchar *path = g_build_filename (dir, name, NULL);

  g_assert (g_file_set_contents (path, text, -1, NULL));
  g_free (path);
}

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR)
        && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
      remove_tree (child);
    else
      g_unlink (child);
    g_free (child);
  }
  if (dir != NULL)
    g_dir_close (dir);
  g_rmdir (path);
}

static void
remove_scratch (void)
{
  remove_tree (scratch_dir);
}

/* scratch/web: index.html, app.js, sub/style.css, .hidden, a symlink to
 * ../outside.txt; scratch/outside.txt and scratch/web-other/x.html beside
 * it (a prefix of the web directory's name). */
static void
make_web_dir (void)
{
  gchar *web, *sub, *other, *outside;

  scratch_dir = g_dir_make_tmp ("otc-fuzz-rest-XXXXXX", NULL);
  g_assert (scratch_dir != NULL);
  atexit (remove_scratch);
  web = g_build_filename (scratch_dir, "web", NULL);
  sub = g_build_filename (web, "sub", NULL);
  other = g_build_filename (scratch_dir, "web-other", NULL);
  g_assert (g_mkdir_with_parents (sub, 0700) == 0);
  g_assert (g_mkdir_with_parents (other, 0700) == 0);
  write_file (web, "index.html", "<!doctype html><title>otc</title>");
  write_file (web, "app.js", "export {};");
  write_file (web, ".hidden", OUTSIDE_MARKER);
  write_file (sub, "style.css", "body{}");
  write_file (other, "x.html", OUTSIDE_MARKER);
  write_file (scratch_dir, "outside.txt", OUTSIDE_MARKER);
  outside = g_build_filename (scratch_dir, "outside.txt", NULL);
  {
    gchar *link = g_build_filename (web, "link.html", NULL);

    g_assert (symlink (outside, link) == 0);
    g_free (link);
  }
  otc_router_static_set_web_dir (web);
  g_free (outside);
  g_free (other);
  g_free (sub);
  g_free (web);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  /* no gst_init(): GStreamer's quarks would push GLib's quark table past
   * its first block, which GLib then leaks on purpose (and LeakSanitizer
   * reports); the category is enough for the handlers' GST_INFO */
  GST_DEBUG_CATEGORY_INIT (otc_router_debug, "otcrouter", 0, "otc-router");

  /* as otc_router_server_new() makes it, without listening or media */
  server.auth = otc_router_auth_new (API_KEY, API_SECRET);
  server.e2ee_enabled = TRUE;
  server.archive_dir = g_strdup ("/dev/null/otc-fuzz-archives");
  server.sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) otc_router_session_free);
  server.clients = g_hash_table_new (NULL, NULL);
  server.archives = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) otc_router_archive_free);
  server.soup = soup_server_new ("server-header", "otc-router", NULL);
  make_web_dir ();
  otc_router_rest_register (&server);
  otc_router_static_register (&server);
  g_signal_connect (server.soup, "request-finished",
      G_CALLBACK (on_request_done), NULL);
  g_signal_connect (server.soup, "request-aborted",
      G_CALLBACK (on_request_done), NULL);

  fixed_session ("2_e2ee", TRUE);
  fixed_session ("2_plain", FALSE);
  local_addr = g_inet_socket_address_new_from_string ("127.0.0.1", 80);
  remote_addr = g_inet_socket_address_new_from_string ("127.0.0.1", 40000);
  project_jwt = otc_router_auth_make_project_jwt (server.auth, 300);
  g_assert (project_jwt != NULL);
  return 0;
}

/* Serves one request from memory; returns what the server wrote. */
static GBytes *
serve (GBytes * request)
{
  GInputStream *is = g_memory_input_stream_new_from_bytes (request);
  GOutputStream *os = g_memory_output_stream_new_resizable ();
  GIOStream *io = g_simple_io_stream_new (is, os);
  GError *error = NULL;
  GBytes *response;
  guint spins = 0;

  finished = FALSE;
  FUZZ_CHECK (soup_server_accept_iostream (server.soup, io, local_addr,
          remote_addr,
          &error));
  /* memory streams are always ready: run until nothing is left to do */
  while (g_main_context_iteration (NULL, FALSE) && spins++ < 10000);
  FUZZ_CHECK (spins < 10000);
  g_object_unref (io);
  g_object_unref (is);
  g_output_stream_close (os, NULL, NULL);
  response = g_memory_output_stream_steal_as_bytes
      (G_MEMORY_OUTPUT_STREAM (os));
  g_object_unref (os);
  return response;
}

/* Requests left out, because they grow libsoup's memory, not the
 * router's, and LeakSanitizer cannot tell by the stack (GLib has no frame
 * pointers):
 * - libsoup 3.2.3 (Debian 12) loses the request path of a request whose
 *   Content-Length or Transfer-Encoding it cannot use (parse_headers in
 *   soup-server-message-io-http1.c returns 400/501 before its g_free;
 *   fixed upstream); such a request never reaches the router's handlers;
 * - libsoup interns every request method (g_intern_string in
 *   soup_server_message_set_method): each new method string stays for the
 *   life of the process, and GLib gives up its old quark block every 2048
 *   of them. Only the methods below are sent (the handlers tell POST, GET
 *   and the rest apart). */
static const gchar *methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD",
  "OPTIONS", "PATCH", "post", NULL
};

/* Where the header block ends as libsoup 3.2 reads it
 * (soup_message_io_data_read_headers): at an empty line, "\n" or "\r\n",
 * that is not the first line, or at the end of the input. */
static const gchar *
headers_end (const gchar * text, gsize len)
{
  const gchar *line = text, *nl;

  while ((nl = memchr (line, '\n', len - (line - text))) != NULL) {
    gsize offset = line - text;

    if ((nl == line && offset >= 2 && line[-1] == '\n')
        || (nl == line + 1 && line[0] == '\r' && offset >= 3
            && line[-1] == '\n'))
      return nl + 1;
    line = nl + 1;
  }
  return text + len;
}

static gboolean
left_out (GBytes * request)
{
  gsize len;
  const gchar *text = g_bytes_get_data (request, &len);
  const gchar *end = headers_end (text, len);
  SoupMessageHeaders *headers;
  gchar *method = NULL, *path = NULL;
  SoupHTTPVersion version;
  gboolean leak = FALSE;
  guint status;

  if (end == text)
    return FALSE;               /* nothing to read a method from */
  if (end - text > 8000)
    return TRUE;                /* libsoup splits lines of 8 KiB: not
                                 * followed here */
  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  /* (SOUP_STATUS_IS_SUCCESSFUL evaluates its argument twice) */
  status = soup_headers_parse_request (text, end - text, headers,
      &method, &path, &version);
  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    leak = soup_message_headers_get_encoding (headers) ==
        SOUP_ENCODING_UNRECOGNIZED
        || !g_strv_contains (methods, method);
  g_free (method);
  g_free (path);
  soup_message_headers_unref (headers);
  return leak;
}

/* Whether @needle is anywhere in @bytes (NULs included). */
static gboolean
contains (GBytes * bytes, const gchar * needle)
{
  gsize len, n = strlen (needle), i;
  const gchar *data = g_bytes_get_data (bytes, &len);

  for (i = 0; i + n <= len; i++)
    if (memcmp (data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

/* Status code and body of an HTTP/1.1 response; FALSE when incomplete. */
static gboolean
parse_response (GBytes * response, guint * status, const gchar ** body,
    gsize * body_len)
{
  gsize len;
  const gchar *text = g_bytes_get_data (response, &len);
  const gchar *end;
  gchar code[4];

  if (len < 12 || strncmp (text, "HTTP/1.1 ", 9) != 0)
    return FALSE;
  memcpy (code, text + 9, 3);
  code[3] = '\0';
  *status = (guint) g_ascii_strtoull (code, NULL, 10);
  end = g_strstr_len (text, len, "\r\n\r\n");
  if (end == NULL)
    return FALSE;
  *body = end + 4;
  *body_len = len - (*body - text);
  return TRUE;
}

static void
drop_created_sessions (void)
{
  GHashTableIter it;
  gpointer key;

  g_hash_table_iter_init (&it, server.sessions);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    if (!g_str_equal (key, "2_e2ee") && !g_str_equal (key, "2_plain"))
      g_hash_table_iter_remove (&it);
  }
}

static GBytes *
make_request (const gchar * path, const gchar * content_type,
    const guint8 * body, gsize body_len)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "X-OPENTOK-AUTH: %s\r\nContent-Type: %s\r\n"
      "Content-Length: %" G_GSIZE_FORMAT "\r\nConnection: close\r\n\r\n",
      path, project_jwt, content_type, body_len);
  g_string_append_len (s, (const gchar *) body, body_len);
  return g_string_free_to_bytes (s);
}

/* What the form asked for, read the way a client means it. */
static void
check_created (GHashTable * form, const gchar * body, gsize body_len)
{
  JsonParser *parser = json_parser_new ();
  JsonObject *o;
  const gchar *e2ee = form ? g_hash_table_lookup (form, "e2ee") : NULL;
  const gchar *sid;
  OtcRouterSession *session;

  FUZZ_CHECK (g_hash_table_size (server.sessions) == 3);
  FUZZ_CHECK (json_parser_load_from_data (parser, body, body_len, NULL));
  FUZZ_CHECK (JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)));
  o = json_array_get_object_element (json_node_get_array
      (json_parser_get_root (parser)), 0);
  sid = json_object_get_string_member (o, "session_id");
  session = g_hash_table_lookup (server.sessions, sid);
  FUZZ_CHECK (session != NULL);
  FUZZ_CHECK (session->e2ee == (g_strcmp0 (e2ee, "true") == 0));
  FUZZ_CHECK (json_object_get_boolean_member (o, "e2ee") == session->e2ee);
  /* E2EE needs routed media and no automatic archive */
  FUZZ_CHECK (!session->e2ee || (!session->relayed
          && !session->archive_always));
  g_object_unref (parser);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static const gchar *features[] = { "broadcast", "dial", "connect",
    "render", "archive", "archive/a_none/stop"
  };
  FuzzInput in;
  guint mode, status = 0;
  GBytes *request, *response;
  const gchar *body = NULL;
  gsize len, body_len = 0;
  const guint8 *rest;
  gboolean complete;
  GHashTable *form = NULL;

  if (size > MAX_BODY_FUZZ)
    return 0;
  fuzz_input_init (&in, data, size);
  mode = fuzz_u8 (&in) % 4;
  switch (mode) {
    case 0:
      rest = fuzz_bytes (&in, G_MAXSIZE, &len);
      request = make_request ("/session/create",
          "application/x-www-form-urlencoded", rest, len);
      if (len > 0) {
        /* what the handler reads: the body up to a NUL */
        gchar *text = g_strndup ((const gchar *) rest, len);

        form = soup_form_decode (text);
        g_free (text);
      }
      break;
    case 1:
      rest = fuzz_bytes (&in, G_MAXSIZE, &len);
      request = make_request ("/v2/project/" API_KEY "/archive",
          "application/json", rest, len);
      break;
    case 2:{
      gchar *path = g_strconcat ("/v2/project/" API_KEY "/",
          features[fuzz_u8 (&in) % G_N_ELEMENTS (features)], NULL);

      rest = fuzz_bytes (&in, G_MAXSIZE, &len);
      request = make_request (path, "application/json", rest, len);
      g_free (path);
      break;
    }
    default:{
      GString *s;

      rest = fuzz_bytes (&in, G_MAXSIZE, &len);
      s = g_string_new_len ((const gchar *) rest, len);
      g_string_replace (s, "$JWT", project_jwt, 0);
      g_string_replace (s, "$KEY", API_KEY, 0);
      request = g_string_free_to_bytes (s);
      break;
    }
  }

  if (left_out (request)) {
    FUZZ_CHECK (mode == 3);
    g_bytes_unref (request);
    if (form)
      g_hash_table_unref (form);
    return 0;
  }
  response = serve (request);
  FUZZ_CHECK (!contains (response, OUTSIDE_MARKER));
  complete = parse_response (response, &status, &body, &body_len);
  FUZZ_SAY ("mode %u: %u %.*s\n", mode, status, (int) MIN (body_len, 100),
      body ? body : "");
  if (mode < 3) {
    JsonParser *parser = json_parser_new ();

    FUZZ_CHECK (complete);
    FUZZ_CHECK (status >= 200 && status < 600);
    FUZZ_CHECK (status < 500 || status == SOUP_STATUS_NOT_IMPLEMENTED);
    FUZZ_CHECK (json_parser_load_from_data (parser, body, body_len, NULL));
    g_object_unref (parser);
    if (mode == 0 && status == SOUP_STATUS_OK)
      check_created (form, body, body_len);
    else if (status != SOUP_STATUS_OK)
      FUZZ_CHECK (g_hash_table_size (server.sessions) == 2);
  }
  if (form)
    g_hash_table_unref (form);
  drop_created_sessions ();
  g_bytes_unref (request);
  g_bytes_unref (response);
  return 0;
}
