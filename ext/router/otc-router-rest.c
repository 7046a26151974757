/* The REST API of otc-router (docs/rest-api.md), compatible with the
 * Vonage Video (OpenTok) REST API where they overlap. */
#include <gst/gst.h>
#include <string.h>

#include "otc-router-private.h"

#define GST_CAT_DEFAULT otc_router_debug
#define MAX_BODY (64 * 1024)

static const gchar *e2ee_refusal = "This feature needs the router to decode "
    "media, which end-to-end encrypted sessions do not allow";

/* X-OPENTOK-AUTH: 401 when absent or not a JWT, 403 when it does not
 * verify (forged, expired, wrong issuer). */
static gboolean
authorize (OtcRouterServer * server, SoupServerMessage * msg)
{
  const gchar *jwt = soup_message_headers_get_one
      (soup_server_message_get_request_headers (msg), "X-OPENTOK-AUTH");
  GError *error = NULL;
  gchar *text;

  if (otc_router_auth_verify_project_jwt (server->auth, jwt, &error))
    return TRUE;
  text = g_strdup_printf ("Authentication failed: %s", error->message);
  otc_router_reply_error (msg,
      error->code == OTC_ROUTER_AUTH_ERROR_MISSING
      || error->code == OTC_ROUTER_AUTH_ERROR_MALFORMED ?
      SOUP_STATUS_UNAUTHORIZED : SOUP_STATUS_FORBIDDEN, text);
  g_free (text);
  g_error_free (error);
  return FALSE;
}

static gchar *
body_text (SoupServerMessage * msg, gsize * len)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  GBytes *bytes = soup_message_body_flatten (body);
  const gchar *data = g_bytes_get_data (bytes, len);
  gchar *text = g_strndup (data, *len);

  g_bytes_unref (bytes);
  return text;
}

static gchar *
format_date (gint64 ms)
{
  GDateTime *t = g_date_time_new_from_unix_utc (ms / 1000);
  gchar *s = g_date_time_format (t, "%a %b %d %H:%M:%S UTC %Y");

  g_date_time_unref (t);
  return s;
}

static void
session_create (OtcRouterServer * server, SoupServerMessage * msg)
{
  gsize len = 0;
  gchar *text = body_text (msg, &len);
  GHashTable *form = g_hash_table_new (g_str_hash, g_str_equal);
  const gchar *e2ee, *p2p, *archive;
  gboolean want_e2ee, relayed, always;
  OtcRouterSession *session;
  JsonBuilder *b;
  gchar *date;

  if (len > 0) {
    g_hash_table_unref (form);
    form = soup_form_decode (text);
  }
  g_free (text);
  e2ee = g_hash_table_lookup (form, "e2ee");
  p2p = g_hash_table_lookup (form, "p2p.preference");
  archive = g_hash_table_lookup (form, "archiveMode");

  if ((e2ee && !g_str_equal (e2ee, "true") && !g_str_equal (e2ee, "false"))
      || (p2p && !g_str_equal (p2p, "disabled")
          && !g_str_equal (p2p, "enabled"))
      || (archive && !g_str_equal (archive, "manual")
          && !g_str_equal (archive, "always"))) {
    otc_router_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "e2ee must be true or false, p2p.preference disabled or enabled, "
        "archiveMode manual or always");
    goto out;
  }
  want_e2ee = e2ee && g_str_equal (e2ee, "true");
  relayed = p2p && g_str_equal (p2p, "enabled");
  always = archive && g_str_equal (archive, "always");
  if (want_e2ee && !server->e2ee_enabled) {
    otc_router_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "End-to-end encryption is not enabled for this project");
    goto out;
  }
  if (want_e2ee && relayed) {
    otc_router_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "End-to-end encryption needs routed media: use "
        "p2p.preference=disabled");
    goto out;
  }
  if (want_e2ee && always) {
    otc_router_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "End-to-end encrypted sessions cannot be archived: use "
        "archiveMode=manual");
    goto out;
  }

  session = otc_router_session_new (otc_router_auth_get_api_key
      (server->auth), want_e2ee, relayed, always);
  g_hash_table_insert (server->sessions, session->id, session);
  GST_INFO ("session %s created (e2ee %d)", session->id, want_e2ee);

  date = format_date (session->created);
  b = json_builder_new ();
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "session_id");
  json_builder_add_string_value (b, session->id);
  json_builder_set_member_name (b, "project_id");
  json_builder_add_string_value (b, session->project_id);
  json_builder_set_member_name (b, "partner_id");
  json_builder_add_string_value (b, session->project_id);
  json_builder_set_member_name (b, "create_dt");
  json_builder_add_string_value (b, date);
  json_builder_set_member_name (b, "media_server_url");
  json_builder_add_string_value (b, "");
  json_builder_set_member_name (b, "e2ee");
  json_builder_add_boolean_value (b, want_e2ee);
  json_builder_set_member_name (b, "p2p_preference");
  json_builder_add_string_value (b, relayed ? "enabled" : "disabled");
  json_builder_set_member_name (b, "archive_mode");
  json_builder_add_string_value (b, always ? "always" : "manual");
  json_builder_end_object (b);
  json_builder_end_array (b);
  otc_router_reply_json (msg, SOUP_STATUS_OK, json_builder_get_root (b));
  g_object_unref (b);
  g_free (date);
out:
  g_hash_table_unref (form);
}

static void
on_session_create (SoupServer * soup, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer user_data)
{
  OtcRouterServer *server = user_data;

  if (g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0) {
    otc_router_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        "Use POST");
    return;
  }
  if (!authorize (server, msg))
    return;
  session_create (server, msg);
}

/* /v2/project/{apiKey}/{feature}[/{id}[/stop]] */
static void
on_project (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  OtcRouterServer *server = user_data;
  const gchar *method = soup_server_message_get_method (msg);
  gchar **parts = g_strsplit (path, "/", -1);   /* "", v2, project, key... */
  guint n = g_strv_length (parts);
  JsonObject *body = NULL;
  const gchar *feature;
  gsize len = 0;
  gchar *text = NULL;

  if (n < 5 || !g_str_equal (parts[1], "v2")
      || !g_str_equal (parts[2], "project")) {
    otc_router_reply_error (msg, SOUP_STATUS_NOT_FOUND, "No such resource");
    goto out;
  }
  if (!authorize (server, msg))
    goto out;
  if (!g_str_equal (parts[3], otc_router_auth_get_api_key (server->auth))) {
    otc_router_reply_error (msg, SOUP_STATUS_FORBIDDEN,
        "The API key in the path is not this project's");
    goto out;
  }
  feature = parts[4];

  if (g_str_equal (method, "POST") && n == 5) {
    JsonParser *parser = json_parser_new ();
    GError *error = NULL;

    text = body_text (msg, &len);
    if (len > MAX_BODY) {
      otc_router_reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
          "The request body is limited to 64 KiB");
      g_object_unref (parser);
      goto out;
    }
    /* an empty body parses to no root at all */
    if (!g_utf8_validate (text, len, NULL)
        || !json_parser_load_from_data (parser, text, len, &error)
        || json_parser_get_root (parser) == NULL
        || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
      gchar *why = error ? g_utf8_make_valid (error->message, -1) : NULL;
      gchar *m = g_strdup_printf ("The body must be a JSON object%s%s",
          why ? ": " : "", why ? why : "");

      g_free (why);
      otc_router_reply_error (msg, SOUP_STATUS_BAD_REQUEST, m);
      g_free (m);
      g_clear_error (&error);
      g_object_unref (parser);
      goto out;
    }
    body = json_node_dup_object (json_parser_get_root (parser));
    g_object_unref (parser);
  }

  if (g_str_equal (feature, "archive")) {
    otc_router_archive_handle (server, msg, method, parts + 5, body);
  } else if (g_strv_contains ((const gchar *[]) { "broadcast", "dial",
              "connect", "render", NULL }, feature)) {
    const gchar *sid = body ? otc_signalling_get_string (body, "sessionId") :
        NULL;
    OtcRouterSession *session = sid ? g_hash_table_lookup (server->sessions,
        sid) : NULL;

    if (!g_str_equal (method, "POST") || n != 5)
      otc_router_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
          "Use POST with a JSON body");
    else if (sid == NULL)
      otc_router_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
          "sessionId is required");
    else if (session == NULL)
      otc_router_reply_error (msg, SOUP_STATUS_NOT_FOUND, "No such session");
    else if (session->e2ee)
      otc_router_reply_error (msg, SOUP_STATUS_CONFLICT, e2ee_refusal);
    else
      otc_router_reply_error (msg, SOUP_STATUS_NOT_IMPLEMENTED,
          "otc-router does not implement this feature");
  } else {
    otc_router_reply_error (msg, SOUP_STATUS_NOT_FOUND, "No such resource");
  }
out:
  if (body)
    json_object_unref (body);
  g_free (text);
  g_strfreev (parts);
}

const gchar *
otc_router_e2ee_refusal (void)
{
  return e2ee_refusal;
}

/* Runs when a request's headers are in, before its body is read: a body
 * that could not be accepted is refused now, so that nobody can make the
 * router buffer it (libsoup reads a whole body into memory otherwise). */
#define DRAIN_LIMIT (16 * 1024 * 1024)
#define DRAIN_SECONDS 10

typedef struct
{
  GIOStream *io;
  guint8 buf[16384];
  gsize drained;
  gint64 deadline;
} Drain;

static void
drained (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Drain *d = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, NULL);

  if (n > 0 && (d->drained += n) < DRAIN_LIMIT
      && g_get_monotonic_time () < d->deadline) {
    g_input_stream_read_async (G_INPUT_STREAM (source), d->buf,
        sizeof d->buf, G_PRIORITY_LOW, NULL, drained, d);
    return;
  }
  g_io_stream_close (d->io, NULL, NULL);
  g_object_unref (d->io);
  g_free (d);
}

static void
drain_then_close (GIOStream * io)
{
  Drain *d = g_new0 (Drain, 1);

  d->io = io;
  d->deadline = g_get_monotonic_time () + DRAIN_SECONDS * G_USEC_PER_SEC;
  g_input_stream_read_async (g_io_stream_get_input_stream (io), d->buf,
      sizeof d->buf, G_PRIORITY_LOW, NULL, drained, d);
}

/* libsoup 3.2 would still read the body after a status set here: the
 * answer is written on the connection taken over, which is then closed. */
static void
refuse_now (SoupServerMessage * msg, guint status, const gchar * message)
{
  GIOStream *io = soup_server_message_steal_connection (msg);
  gchar *body = g_strdup_printf ("{\"code\":%u,\"message\":\"%s\"}",
      status, message);
  gchar *reply = g_strdup_printf ("HTTP/1.1 %u %s\r\nContent-Type: "
      "application/json\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n"
      "Connection: close\r\n\r\n%s", status, soup_status_get_phrase (status),
      strlen (body), body);

  g_output_stream_write_all (g_io_stream_get_output_stream (io), reply,
      strlen (reply), NULL, NULL, NULL);
  g_free (reply);
  g_free (body);
  /* a close with unread data would reset the connection before the client
   * reads the answer: read and drop what it still sends, up to a bound */
  if (G_IS_SOCKET_CONNECTION (io))
    g_socket_shutdown (g_socket_connection_get_socket (G_SOCKET_CONNECTION
            (io)), FALSE, TRUE, NULL);
  drain_then_close (io);
}

static void
on_request_headers (SoupServer * soup, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer user_data)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);

  switch (soup_message_headers_get_encoding (h)) {
    case SOUP_ENCODING_NONE:
      break;
    case SOUP_ENCODING_CONTENT_LENGTH:
      if (soup_message_headers_get_content_length (h) > MAX_BODY)
        refuse_now (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
            "The request body is limited to 64 KiB");
      break;
    default:
      /* chunked or until EOF: no size known in advance */
      refuse_now (msg, SOUP_STATUS_LENGTH_REQUIRED,
          "Send the request body with a Content-Length (at most 64 KiB)");
      break;
  }
}

void
otc_router_rest_register (OtcRouterServer * server)
{
  /* per path: libsoup picks the early handler of the path's own entry, so
   * every path with a handler gets this one (the web client's "/" and the
   * signalling endpoint included: bodies are bounded everywhere) */
  soup_server_add_early_handler (server->soup, NULL, on_request_headers,
      server, NULL);
  soup_server_add_early_handler (server->soup, "/", on_request_headers,
      server, NULL);
  soup_server_add_early_handler (server->soup, OTC_SIGNALLING_PATH,
      on_request_headers, server, NULL);
  soup_server_add_early_handler (server->soup, "/session/create",
      on_request_headers, server, NULL);
  soup_server_add_early_handler (server->soup, "/v2/project",
      on_request_headers, server, NULL);
  soup_server_add_handler (server->soup, "/session/create", on_session_create,
      server, NULL);
  soup_server_add_handler (server->soup, "/v2/project", on_project, server,
      NULL);
}
