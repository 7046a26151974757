/* otc-router: the session server and media router of otc.
 *
 *   otc-router [--port PORT] [--api-key KEY --api-secret SECRET] [--bind ADDR]
 *              [--ice-address ADDR]... [--disable-e2ee] [--archive-dir DIR]
 *              [--web-dir DIR] [--max-connections-per-address N]
 *              [--subscriber-transport direct|webrtcbin]
 *   otc-router token --session-id ID [--role ROLE] [--expire-in S] [--data T]
 *   otc-router project-token [--expire-in S]
 *
 * The first line of output is the URL the router serves. */
#include <openssl/crypto.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <openssl/rand.h>
#include <string.h>

#include "otc-router-auth.h"
#include "otc-router-server.h"
#include "otc-router-static.h"

static gchar *opt_api_key, *opt_api_secret, *opt_api_secret_file, *opt_bind;
static gchar **opt_ice;
static gint opt_port;
static gboolean opt_disable_e2ee;
static gchar *opt_archive_dir;
static gchar *opt_web_dir;
static gchar *opt_subscriber_transport;
static gint opt_max_per_address = OTC_ROUTER_DEFAULT_CONNECTIONS_PER_ADDRESS;
static gchar *opt_session_id, *opt_role = (gchar *) "publisher", *opt_data;
static gint64 opt_expire_in = 24 * 3600;

static GOptionEntry credential_entries[] = {
  {"api-key", 0, 0, G_OPTION_ARG_STRING, &opt_api_key, "The project's API key",
      "KEY"},
  {"api-secret", 0, 0, G_OPTION_ARG_STRING, &opt_api_secret,
      "The project's API secret (shows in the process list: prefer "
        "--api-secret-file)", "SECRET"},
  {"api-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_api_secret_file,
      "Read the API secret from this file", "PATH"},
  {NULL}
};

static GOptionEntry server_entries[] = {
  {"port", 'p', 0, G_OPTION_ARG_INT, &opt_port, "TCP port (0: a free one)",
      "PORT"},
  {"bind", 0, 0, G_OPTION_ARG_STRING, &opt_bind,
      "Address to listen on (default 127.0.0.1)", "ADDR"},
  {"ice-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_ice,
        "Only gather ICE candidates on this address (repeatable; default: "
        "127.0.0.1 when bound to loopback, else the bind address)", "ADDR"},
  {"disable-e2ee", 0, 0, G_OPTION_ARG_NONE, &opt_disable_e2ee,
      "The project has no E2EE add-on: E2EE sessions are refused (403)", NULL},
  {"archive-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_archive_dir,
      "Where archives of non-E2EE sessions go (default ./archives)", "DIR"},
  {"web-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_web_dir,
        "The web client served at / (default: web/ of the source tree when "
        "run from the build tree, else the installed copy)", "DIR"},
  {"max-connections-per-address", 0, 0, G_OPTION_ARG_INT,
        &opt_max_per_address, "Signalling connections open at once from one "
        "address; more are refused with 429 (default 256)", "N"},
  {"subscriber-transport", 0, 0, G_OPTION_ARG_STRING,
        &opt_subscriber_transport, "How subscriber legs send: direct "
        "(default: ICE + DTLS-SRTP driven by the router) or webrtcbin (one "
        "webrtcbin per subscriber)", "direct|webrtcbin"},
  {NULL}
};

static GOptionEntry token_entries[] = {
  {"session-id", 0, 0, G_OPTION_ARG_STRING, &opt_session_id, "Session id",
      "ID"},
  {"role", 0, 0, G_OPTION_ARG_STRING, &opt_role,
      "publisher (default), subscriber or moderator", "ROLE"},
  {"expire-in", 0, 0, G_OPTION_ARG_INT64, &opt_expire_in,
      "Seconds until it expires (default 86400)", "SECONDS"},
  {"data", 0, 0, G_OPTION_ARG_STRING, &opt_data,
      "Connection data (at most 1000 characters)", "TEXT"},
  {NULL}
};

static gchar *
state_file (void)
{
  const gchar *dir = g_getenv ("OTC_ROUTER_STATE_DIR");

  if (dir != NULL)
    return g_build_filename (dir, "credentials", NULL);
  return g_build_filename (g_get_user_state_dir (), "otc-router",
      "credentials", NULL);
}

static gchar *
random_token (guint n_bytes)
{
  guint8 buf[32];
  GString *s = g_string_new (NULL);
  guint i;

  if (RAND_bytes (buf, n_bytes) != 1)
    g_error ("no random bytes");
  for (i = 0; i < n_bytes; i++)
    g_string_append_printf (s, "%02x", buf[i]);
  return g_string_free (s, FALSE);
}

/* Key and secret from the options, a secret file, or the state directory
 * (generated there, mode 0600, on first use). */
static gboolean
load_credentials (gboolean may_generate, gchar ** where)
{
  gchar *path, *contents = NULL;
  GError *error = NULL;

  if (opt_api_secret_file) {
    gchar *s = NULL;
    if (!g_file_get_contents (opt_api_secret_file, &s, NULL, &error)) {
      g_printerr ("otc-router: %s\n", error->message);
      return FALSE;
    }
    opt_api_secret = g_strstrip (s);
  }
  if (opt_api_key && opt_api_secret)
    return TRUE;
  if (opt_api_key || opt_api_secret) {
    g_printerr ("otc-router: give both --api-key and --api-secret, or "
        "neither\n");
    return FALSE;
  }

  path = state_file ();
  if (g_file_get_contents (path, &contents, NULL, NULL)) {
    gchar **lines = g_strsplit (contents, "\n", -1);
    guint i;

    for (i = 0; lines[i]; i++) {
      if (g_str_has_prefix (lines[i], "api_key="))
        opt_api_key = g_strdup (lines[i] + 8);
      else if (g_str_has_prefix (lines[i], "api_secret="))
        opt_api_secret = g_strdup (lines[i] + 11);
    }
    g_strfreev (lines);
    g_free (contents);
  } else if (may_generate) {
    gchar *dir = g_path_get_dirname (path), *text;

    opt_api_key = random_token (8);
    opt_api_secret = random_token (24);
    text = g_strdup_printf ("api_key=%s\napi_secret=%s\n", opt_api_key,
        opt_api_secret);
    if (g_mkdir_with_parents (dir, 0700) != 0
        || !g_file_set_contents_full (path, text, -1,
            G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) {
      g_printerr ("otc-router: cannot store credentials in %s: %s\n", path,
          error ? error->message : g_strerror (errno));
      return FALSE;
    }
    g_free (text);
    g_free (dir);
  }
  if (!opt_api_key || !opt_api_secret) {
    g_printerr ("otc-router: no API key and secret (give --api-key and "
        "--api-secret, or run the router once to generate them in %s)\n",
        path);
    g_free (path);
    return FALSE;
  }
  *where = path;
  return TRUE;
}

static int
run_token (int argc, char **argv, gboolean project)
{
  GOptionContext *ctx = g_option_context_new (project ? "project-token" :
      "token");
  GError *error = NULL;
  OtcRouterAuth *auth;
  gchar *where = NULL, *token;
  OtcRole role;

  g_option_context_add_main_entries (ctx, credential_entries, NULL);
  g_option_context_add_main_entries (ctx, token_entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("otc-router: %s\n", error->message);
    return 2;
  }
  if (!load_credentials (FALSE, &where))
    return 2;
  auth = otc_router_auth_new (opt_api_key, opt_api_secret);
  if (project) {
    token = otc_router_auth_make_project_jwt (auth, MIN (opt_expire_in, 300));
  } else {
    if (!otc_role_from_string (opt_role, &role)) {
      g_printerr ("otc-router: --role is publisher, subscriber or "
          "moderator\n");
      return 2;
    }
    token = otc_router_auth_make_client_token (auth, opt_session_id, role,
        opt_expire_in, opt_data, &error);
    if (token == NULL) {
      g_printerr ("otc-router: %s\n", error->message);
      return 2;
    }
  }
  g_print ("%s\n", token);
  g_free (token);
  otc_router_auth_free (auth);
  g_option_context_free (ctx);
  return 0;
}

typedef struct
{
  GMainLoop *loop;
  OtcRouterServer *server;
} App;

static gboolean
quit_now (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  App *app = user_data;

  g_print ("otc-router: shutting down\n");
  otc_router_server_shutdown (app->server);
  /* let the close frames and the archive trailers go out */
  g_timeout_add (300, quit_now, app->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx;
  GError *error = NULL;
  OtcRouterConfig config = { 0 };
  gchar *where = NULL;
  App app;

  /* OpenSSL's exit handler would free what webrtcbin's DTLS threads may
   * still use while the process ends */
  OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
  if (argc > 1 && g_str_equal (argv[1], "token"))
    return run_token (argc - 1, argv + 1, FALSE);
  if (argc > 1 && g_str_equal (argv[1], "project-token"))
    return run_token (argc - 1, argv + 1, TRUE);

  ctx = g_option_context_new ("- otc session server and media router");
  g_option_context_add_main_entries (ctx, credential_entries, NULL);
  g_option_context_add_main_entries (ctx, server_entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("otc-router: %s\n", error->message);
    return 2;
  }
  if (opt_port < 0 || opt_port > 65535) {
    g_printerr ("otc-router: --port is 0-65535\n");
    return 2;
  }
  gst_init (&argc, &argv);
  if (!load_credentials (TRUE, &where))
    return 2;

  config.bind_address = opt_bind;
  config.port = opt_port;
  config.api_key = opt_api_key;
  config.api_secret = opt_api_secret;
  config.ice_addresses = (const gchar * const *) opt_ice;
  config.e2ee_enabled = !opt_disable_e2ee;
  config.archive_dir = opt_archive_dir;
  if (opt_max_per_address < 1) {
    g_printerr ("otc-router: --max-connections-per-address must be 1 or "
        "more\n");
    return 2;
  }
  config.max_connections_per_address = opt_max_per_address;
  if (opt_subscriber_transport == NULL
      || g_str_equal (opt_subscriber_transport, "direct")) {
    config.webrtcbin_subscribers = FALSE;
  } else if (g_str_equal (opt_subscriber_transport, "webrtcbin")) {
    config.webrtcbin_subscribers = TRUE;
  } else {
    g_printerr ("otc-router: --subscriber-transport is direct or "
        "webrtcbin\n");
    return 2;
  }
  if (opt_web_dir != NULL)
    otc_router_static_set_web_dir (opt_web_dir);
  app.server = otc_router_server_new (&config, &error);
  if (app.server == NULL) {
    g_printerr ("otc-router: %s\n", error->message);
    return 1;
  }
  g_print ("%s\n", otc_router_server_get_url (app.server));
  g_print ("api key: %s\n", opt_api_key);
  if (where)
    g_print ("credentials: %s (mode 0600)\n", where);
  g_print ("e2ee: %s\n", opt_disable_e2ee ? "disabled for this project" :
      "available");
  g_print ("web client: %s/ (files from %s)\n",
      otc_router_server_get_url (app.server), otc_router_static_get_web_dir ());

  app.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_signal, &app);
  g_unix_signal_add (SIGINT, on_signal, &app);
  g_main_loop_run (app.loop);

  otc_router_server_free (app.server);
  g_main_loop_unref (app.loop);
  g_option_context_free (ctx);
  return 0;
}
