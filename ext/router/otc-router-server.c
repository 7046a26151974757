#include <gst/gst.h>
#include <string.h>

#include "otc-router-private.h"
#include "otc-router-static.h"
#include "otc-router-ws-limit.h"

GST_DEBUG_CATEGORY (otc_router_debug);
#define GST_CAT_DEFAULT otc_router_debug

void
otc_router_reply_json (SoupServerMessage * msg, guint status, JsonNode * body)
{
  gchar *text = json_to_string (body, FALSE);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_TAKE, text, strlen (text));
  json_node_unref (body);
}

void
otc_router_reply_error (SoupServerMessage * msg, guint status,
    const gchar * message)
{
  JsonObject *o = json_object_new ();
  JsonNode *n = json_node_new (JSON_NODE_OBJECT);

  json_object_set_int_member (o, "code", status);
  json_object_set_string_member (o, "message", message);
  json_node_take_object (n, o);
  otc_router_reply_json (msg, status, n);
}

/* The signalling WebSocket. Not soup_server_add_websocket_handler: the
 * connection is made here over otc-router-ws-limit's stream, which limits
 * whole messages, however fragmented (libsoup 3.2 limits single frames
 * only), and without extensions: permessage-deflate would inflate a
 * compressed frame with no limit at all (a 1 MiB frame of zeros is about
 * 1 GiB), and signalling messages gain nothing from it. */
typedef struct
{
  SoupWebsocketConnection *ws;
  gushort code;
  const gchar *reason;          /* static */
} RefusedClose;

static gboolean
close_refused (gpointer user_data)
{
  RefusedClose *c = user_data;

  if (soup_websocket_connection_get_state (c->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (c->ws, c->code, c->reason);
  return G_SOURCE_REMOVE;
}

static void
refused_close_free (RefusedClose * c)
{
  g_object_unref (c->ws);
  g_free (c);
}

/* From within libsoup's read: the close goes out from the main loop. */
static void
on_frame_refused (gpointer user_data, gushort code, const gchar * reason)
{
  RefusedClose *c = g_new0 (RefusedClose, 1);

  GST_WARNING ("a client's frame was refused (%s): closing (%u)", reason,
      code);
  c->ws = g_object_ref (user_data);
  c->code = code;
  c->reason = reason;
  g_idle_add_full (G_PRIORITY_DEFAULT, close_refused, c,
      (GDestroyNotify) refused_close_free);
}

/* Whatever ends the open state (an error libsoup found, a close from
 * either side): the input is dropped from then on, as libsoup would keep
 * it all while it waits for the close handshake. */
static void
on_ws_leaving (SoupWebsocketConnection * ws, gpointer limited)
{
  otc_ws_limit_stream_stop_input (OTC_WS_LIMIT_STREAM (limited));
}

static void
on_ws_state (SoupWebsocketConnection * ws, GParamSpec * pspec,
    gpointer limited)
{
  if (soup_websocket_connection_get_state (ws) != SOUP_WEBSOCKET_STATE_OPEN)
    otc_ws_limit_stream_stop_input (OTC_WS_LIMIT_STREAM (limited));
}

static void
on_ws_error (SoupWebsocketConnection * ws, GError * error, gpointer limited)
{
  otc_ws_limit_stream_stop_input (OTC_WS_LIMIT_STREAM (limited));
}

/* (libsoup 3.2 has no name for it) */
#define HTTP_TOO_MANY_REQUESTS 429

static void
complete_websocket_upgrade (SoupServerMessage * msg, gpointer user_data)
{
  OtcRouterServer *server = user_data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  GIOStream *stream, *limited;
  SoupWebsocketConnection *ws;
  OtcRouterClient *client;
  GUri *uri;
  gchar *origin, *host;

  g_signal_handlers_disconnect_by_func (msg, complete_websocket_upgrade,
      user_data);
  /* what the connection needs from the message, before the message may go
   * with the connection taken over */
  g_object_ref (msg);
  uri = g_uri_ref (soup_server_message_get_uri (msg));
  origin = g_strdup (soup_message_headers_get_one (req, "Origin"));
  host = g_strdup (soup_server_message_get_remote_host (msg));
  stream = soup_server_message_steal_connection (msg);
  limited = otc_ws_limit_stream_new (stream, OTC_ROUTER_MAX_WS_MESSAGE);
  g_object_unref (stream);
  ws = soup_websocket_connection_new (limited, uri,
      SOUP_WEBSOCKET_CONNECTION_SERVER, origin, NULL, NULL);
  g_uri_unref (uri);
  g_free (origin);
  g_object_unref (msg);
  /* the connection owns the stream, so outlives its reads and signals */
  otc_ws_limit_stream_set_refused_func (OTC_WS_LIMIT_STREAM (limited),
      on_frame_refused, ws);
  g_signal_connect (ws, "closing", G_CALLBACK (on_ws_leaving), limited);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), limited);
  g_signal_connect (ws, "notify::state", G_CALLBACK (on_ws_state), limited);
  g_object_unref (limited);
  client = otc_router_client_new (server, ws);
  if (host) {
    g_hash_table_insert (server->per_address, g_strdup (host),
        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup
                (server->per_address, host)) + 1));
    client->remote_host = host;
  }
  g_hash_table_add (server->clients, client);
  g_object_unref (ws);
}

void
otc_router_server_release_address (OtcRouterServer * server,
    const gchar * host)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_address, host));

  if (n <= 1)
    g_hash_table_remove (server->per_address, host);
  else
    g_hash_table_insert (server->per_address, g_strdup (host),
        GUINT_TO_POINTER (n - 1));
}

static void
on_signalling_request (SoupServer * soup, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer user_data)
{
  OtcRouterServer *server = user_data;
  GError *error = NULL;
  const gchar *host;

  if (!soup_websocket_server_check_handshake (msg, NULL, NULL, NULL, &error)) {
    GST_INFO ("not a WebSocket handshake: %s", error->message);
    otc_router_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "The signalling endpoint takes a WebSocket handshake "
        "(docs/signalling.md)");
    g_error_free (error);
    return;
  }
  /* One address cannot take every connection the process can hold (file
   * descriptors, memory): a client that is closed for flooding and comes
   * back, many times over, runs into this. Counted from the upgrade on;
   * handshakes still on their way are not (a few more may get through). */
  host = soup_server_message_get_remote_host (msg);
  if (host && GPOINTER_TO_UINT (g_hash_table_lookup (server->per_address,
              host)) >= server->max_per_address) {
    gchar *m = g_strdup_printf ("Too many signalling connections from this "
        "address (at most %u at once)", server->max_per_address);

    GST_INFO ("refusing a signalling connection from %s: %u open", host,
        server->max_per_address);
    otc_router_reply_error (msg, HTTP_TOO_MANY_REQUESTS, m);
    g_free (m);
    return;
  }
  /* no extensions offered back: see above */
  if (soup_websocket_server_process_handshake (msg, NULL, NULL, NULL, NULL))
    g_signal_connect (msg, "wrote-informational",
        G_CALLBACK (complete_websocket_upgrade), user_data);
}

OtcRouterServer *
otc_router_server_new (const OtcRouterConfig * config, GError ** error)
{
  OtcRouterServer *server = g_new0 (OtcRouterServer, 1);
  const gchar *bind = config->bind_address ? config->bind_address :
      "127.0.0.1";
  const gchar *loopback[] = { "127.0.0.1", NULL };
  const gchar *const *ice = config->ice_addresses;
  GInetAddress *addr;
  GSocketAddress *sockaddr;
  GSList *uris;
  gboolean ok;

  GST_DEBUG_CATEGORY_INIT (otc_router_debug, "otcrouter", 0, "otc-router");

  /* ICE stays on loopback when the router is bound there */
  if (ice == NULL || ice[0] == NULL) {
    if (g_str_has_prefix (bind, "127.") || g_str_equal (bind, "::1"))
      ice = loopback;
    else
      ice = (const gchar * const []) { bind, NULL };
  }

  addr = g_inet_address_new_from_string (bind);
  if (addr == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "Not an IP address: %s", bind);
    g_free (server);
    return NULL;
  }
  server->media = otc_router_media_new (ice, error);
  if (server->media == NULL) {
    g_object_unref (addr);
    g_free (server);
    return NULL;
  }
  otc_router_media_set_subscriber_transport (server->media,
      config->webrtcbin_subscribers ?
      OTC_ROUTER_MEDIA_SUBSCRIBER_TRANSPORT_WEBRTCBIN :
      OTC_ROUTER_MEDIA_SUBSCRIBER_TRANSPORT_DIRECT);
  server->auth = otc_router_auth_new (config->api_key, config->api_secret);
  server->e2ee_enabled = config->e2ee_enabled;
  server->archive_dir = g_strdup (config->archive_dir ? config->archive_dir :
      "archives");
  server->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) otc_router_session_free);
  server->clients = g_hash_table_new_full (NULL, NULL,
      (GDestroyNotify) otc_router_client_free, NULL);
  server->archives = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) otc_router_archive_free);
  server->per_address = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  server->max_per_address = config->max_connections_per_address ?
      config->max_connections_per_address :
      OTC_ROUTER_DEFAULT_CONNECTIONS_PER_ADDRESS;

  server->soup = soup_server_new ("server-header", "otc-router", NULL);
  soup_server_add_handler (server->soup, OTC_SIGNALLING_PATH,
      on_signalling_request, server, NULL);
  otc_router_rest_register (server);
  otc_router_static_register (server);

  sockaddr = g_inet_socket_address_new (addr, config->port);
  ok = soup_server_listen (server->soup, sockaddr, 0, error);
  g_object_unref (sockaddr);
  g_object_unref (addr);
  if (!ok) {
    otc_router_server_free (server);
    return NULL;
  }
  uris = soup_server_get_uris (server->soup);
  server->url = g_uri_to_string (uris->data);
  if (g_str_has_suffix (server->url, "/"))
    server->url[strlen (server->url) - 1] = '\0';
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  GST_INFO ("listening on %s", server->url);
  return server;
}

const gchar *
otc_router_server_get_url (OtcRouterServer * server)
{
  return server->url;
}

void
otc_router_server_shutdown (OtcRouterServer * server)
{
  GHashTableIter it;
  gpointer client;

  otc_router_archive_stop_all (server);
  g_hash_table_iter_init (&it, server->clients);
  while (g_hash_table_iter_next (&it, &client, NULL))
    otc_router_client_close (client, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "routerShutdown");
}

void
otc_router_server_free (OtcRouterServer * server)
{
  if (server->soup) {
    soup_server_disconnect (server->soup);
    g_object_unref (server->soup);
  }
  g_hash_table_unref (server->clients);
  g_hash_table_unref (server->per_address);
  g_hash_table_unref (server->archives);
  g_hash_table_unref (server->sessions);
  otc_router_media_free (server->media);
  otc_router_auth_free (server->auth);
  g_free (server->archive_dir);
  g_free (server->url);
  g_free (server);
}
