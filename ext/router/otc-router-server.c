#include <gst/gst.h>
#include <string.h>

#include "otc-router-private.h"
#include "otc-router-static.h"

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

static void
on_websocket (SoupServer * soup, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * ws, gpointer user_data)
{
  OtcRouterServer *server = user_data;
  OtcRouterClient *client = otc_router_client_new (server, ws);

  g_hash_table_add (server->clients, client);
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

  server->soup = soup_server_new ("server-header", "otc-router", NULL);
  soup_server_add_websocket_handler (server->soup, OTC_SIGNALLING_PATH, NULL,
      NULL, on_websocket, server, NULL);
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
  g_hash_table_unref (server->archives);
  g_hash_table_unref (server->sessions);
  otc_router_media_free (server->media);
  otc_router_auth_free (server->auth);
  g_free (server->archive_dir);
  g_free (server->url);
  g_free (server);
}
