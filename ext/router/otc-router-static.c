/* Static files of the web client (docs/browser.md): GET / is index.html,
 * GET /NAME and /web/NAME are files of the web directory. Only regular
 * files directly in it or below, no hidden names, no "..", no symlinks out
 * of it; GET and HEAD only. */
#include <gst/gst.h>
#include <string.h>

#include "otc-router-private.h"
#include "otc-router-static.h"

#define GST_CAT_DEFAULT otc_router_debug

#define MAX_STATIC_FILE (8 * 1024 * 1024)

static gchar *web_dir_override;
static gchar *web_dir_default;

void
otc_router_static_set_web_dir (const gchar * dir)
{
  g_free (web_dir_override);
  web_dir_override = g_strdup (dir);
}

/* The build tree's binary serves the source tree (edit and reload); an
 * installed one the installed copy. */
const gchar *
otc_router_static_get_web_dir (void)
{
  if (web_dir_override != NULL)
    return web_dir_override;
  if (web_dir_default == NULL) {
    gchar *exe = g_file_read_link ("/proc/self/exe", NULL);

    if (exe != NULL && g_str_has_prefix (exe, OTC_BUILD_ROOT "/")
        && g_file_test (OTC_WEB_SOURCE_DIR, G_FILE_TEST_IS_DIR))
      web_dir_default = g_strdup (OTC_WEB_SOURCE_DIR);
    else
      web_dir_default = g_strdup (OTC_WEB_INSTALL_DIR);
    g_free (exe);
  }
  return web_dir_default;
}

static const gchar *
content_type (const gchar * name)
{
  static const struct
  {
    const gchar *ext, *type;
  } types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".md", "text/plain; charset=utf-8"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_has_suffix (name, types[i].ext))
      return types[i].type;
  return "application/octet-stream";
}

/* A relative path of the web directory, or NULL when @path may not be
 * served. */
static gchar *
relative_path (const gchar * path)
{
  gchar **parts;
  guint i;
  gboolean ok = TRUE;

  if (g_str_equal (path, "/") || g_str_equal (path, "/web")
      || g_str_equal (path, "/web/"))
    return g_strdup ("index.html");
  if (g_str_has_prefix (path, "/web/"))
    path += 4;
  if (*path != '/' || strchr (path, '\\') != NULL)
    return NULL;
  parts = g_strsplit (path + 1, "/", -1);
  for (i = 0; parts[i] != NULL; i++)
    if (parts[i][0] == '\0' || parts[i][0] == '.')
      ok = FALSE;
  g_strfreev (parts);
  return ok ? g_strdup (path + 1) : NULL;
}

static void
on_static (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  const gchar *method = soup_server_message_get_method (msg);
  const gchar *dir = otc_router_static_get_web_dir ();
  gchar *rel = relative_path (path);
  gchar *file = NULL, *real_dir = NULL, *real_file = NULL, *data = NULL;
  gsize len = 0;
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  if (rel != NULL) {
    file = g_build_filename (dir, rel, NULL);
    real_dir = g_canonicalize_filename (dir, NULL);
  }
  if (rel == NULL || !g_file_test (file, G_FILE_TEST_IS_REGULAR)
      || g_file_test (file, G_FILE_TEST_IS_SYMLINK)) {
    if (g_str_equal (path, "/"))
      GST_WARNING ("no web client in %s (otc-router --web-dir)", dir);
    otc_router_reply_error (msg, SOUP_STATUS_NOT_FOUND, "Not found");
    goto out;
  }
  real_file = g_canonicalize_filename (file, NULL);
  if (!g_str_has_prefix (real_file, real_dir)
      || real_file[strlen (real_dir)] != '/') {
    otc_router_reply_error (msg, SOUP_STATUS_NOT_FOUND, "Not found");
    goto out;
  }
  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD")) {
    soup_message_headers_replace (h, "Allow", "GET, HEAD");
    otc_router_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        "Method not allowed");
    goto out;
  }
  if (!g_file_get_contents (file, &data, &len, NULL) || len > MAX_STATIC_FILE) {
    otc_router_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        "Cannot read the file");
    goto out;
  }
  soup_message_headers_replace (h, "Cache-Control", "no-cache");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  /* The page loads only its own files and talks only to this router */
  soup_message_headers_replace (h, "Content-Security-Policy",
      "default-src 'self'; connect-src 'self' ws: wss:; "
      "media-src 'self' blob: mediastream:; img-src 'self' data:; "
      "object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type (rel),
      SOUP_MEMORY_TAKE, data, len);
  data = NULL;

out:
  g_free (data);
  g_free (real_file);
  g_free (real_dir);
  g_free (file);
  g_free (rel);
}

void
otc_router_static_register (OtcRouterServer * server)
{
  soup_server_add_handler (server->soup, "/", on_static, server, NULL);
  GST_INFO ("web client from %s", otc_router_static_get_web_dir ());
}
