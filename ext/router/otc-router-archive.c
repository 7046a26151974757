/* Archives: recordings of non-E2EE sessions to WebM files, started and
 * stopped over REST (POST /v2/project/{key}/archive ...), or started when
 * a stream is published in an archiveMode=always session. The router can
 * record these sessions because their media is not end-to-end encrypted;
 * for E2EE sessions every archive request is refused with 409. An archive
 * may start before its streams' media has arrived: the media module
 * begins writing once it has (no file if it is stopped before). */
#include <glib/gstdio.h>
#include <gst/gst.h>

#include "otc-router-private.h"

#define GST_CAT_DEFAULT otc_router_debug

struct _OtcRouterArchive
{
  gchar *id;
  gchar *session_id;
  gchar *name;
  gchar *path;
  gint64 created;               /* ms */
  gint64 stopped;               /* ms, 0 while recording */
  const gchar *status;          /* "started", "stopped" */
};

void
otc_router_archive_free (OtcRouterArchive * a)
{
  g_free (a->id);
  g_free (a->session_id);
  g_free (a->name);
  g_free (a->path);
  g_free (a);
}

static JsonNode *
archive_json (OtcRouterServer * server, OtcRouterArchive * a)
{
  JsonObject *o = json_object_new ();
  JsonNode *n = json_node_new (JSON_NODE_OBJECT);
  GStatBuf st;
  gint64 end = a->stopped ? a->stopped : g_get_real_time () / 1000;

  json_object_set_string_member (o, "id", a->id);
  json_object_set_string_member (o, "status", a->status);
  json_object_set_string_member (o, "name", a->name);
  json_object_set_string_member (o, "sessionId", a->session_id);
  json_object_set_string_member (o, "projectId",
      otc_router_auth_get_api_key (server->auth));
  json_object_set_int_member (o, "createdAt", a->created);
  json_object_set_int_member (o, "duration", (end - a->created) / 1000);
  json_object_set_int_member (o, "size", g_stat (a->path, &st) == 0 ?
      st.st_size : 0);
  json_object_set_string_member (o, "outputMode", "individual");
  json_object_set_string_member (o, "path", a->path);
  json_node_take_object (n, o);
  return n;
}

static OtcRouterArchive *
running_archive (OtcRouterServer * server, const gchar * session_id)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, server->archives);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    OtcRouterArchive *a = value;
    if (a->stopped == 0 && g_str_equal (a->session_id, session_id))
      return a;
  }
  return NULL;
}

/* Starts recording every announced stream of @session. */
static OtcRouterArchive *
archive_start (OtcRouterServer * server, OtcRouterSession * session,
    const gchar * name, GError ** error)
{
  OtcRouterArchive *a;
  GPtrArray *ids = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key, value;
  gchar *file;

  g_hash_table_iter_init (&it, session->streams);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    if (((OtcRouterStream *) value)->announced)
      g_ptr_array_add (ids, key);
  }
  g_ptr_array_add (ids, NULL);
  if (ids->len == 1) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "The session has no streams to archive");
    g_ptr_array_unref (ids);
    return NULL;
  }
  if (g_mkdir_with_parents (server->archive_dir, 0700) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "Cannot create the archive directory %s", server->archive_dir);
    g_ptr_array_unref (ids);
    return NULL;
  }

  a = g_new0 (OtcRouterArchive, 1);
  a->id = otc_router_new_id ("a");
  a->session_id = g_strdup (session->id);
  a->name = g_strdup (name ? name : "");
  file = g_strconcat (a->id, ".webm", NULL);
  a->path = g_build_filename (server->archive_dir, file, NULL);
  g_free (file);
  a->created = g_get_real_time () / 1000;
  a->status = "started";
  if (!otc_router_media_start_recording (server->media, a->id,
          (const gchar * const *) ids->pdata, a->path, error)) {
    otc_router_archive_free (a);
    g_ptr_array_unref (ids);
    return NULL;
  }
  g_ptr_array_unref (ids);
  g_hash_table_insert (server->archives, a->id, a);
  GST_INFO ("archive %s of session %s to %s", a->id, session->id, a->path);
  return a;
}

static gboolean
archive_stop (OtcRouterServer * server, OtcRouterArchive * a, GError ** error)
{
  if (a->stopped != 0)
    return TRUE;
  a->stopped = g_get_real_time () / 1000;
  a->status = "stopped";
  return otc_router_media_stop_recording (server->media, a->id, error);
}

void
otc_router_archive_stop_all (OtcRouterServer * server)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, server->archives);
  while (g_hash_table_iter_next (&it, NULL, &value))
    archive_stop (server, value, NULL);
}

void
otc_router_archive_auto_start (OtcRouterServer * server,
    OtcRouterSession * session)
{
  OtcRouterArchive *a;
  GError *error = NULL;

  if (!session->archive_always || session->e2ee)
    return;
  a = running_archive (server, session->id);
  /* one whose streams have all left records nothing more: it is over */
  if (a != NULL
      && otc_router_media_recording_has_ended (server->media, a->id)) {
    if (!archive_stop (server, a, &error)) {
      GST_WARNING ("archive %s: %s", a->id, error->message);
      g_clear_error (&error);
    }
    a = NULL;
  }
  if (a == NULL && archive_start (server, session, "always", &error) == NULL) {
    GST_WARNING ("session %s: archiveMode=always, but no archive: %s",
        session->id, error->message);
    g_clear_error (&error);
  }
}

void
otc_router_archive_handle (OtcRouterServer * server, SoupServerMessage * msg,
    const gchar * method, gchar ** path, JsonObject * body)
{
  guint n = g_strv_length (path);
  GError *error = NULL;

  if (n == 0 && g_str_equal (method, "GET")) {
    JsonObject *o = json_object_new ();
    JsonArray *items = json_array_new ();
    JsonNode *node = json_node_new (JSON_NODE_OBJECT);
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init (&it, server->archives);
    while (g_hash_table_iter_next (&it, NULL, &value))
      json_array_add_element (items, archive_json (server, value));
    json_object_set_int_member (o, "count", json_array_get_length (items));
    json_object_set_array_member (o, "items", items);
    json_node_take_object (node, o);
    otc_router_reply_json (msg, SOUP_STATUS_OK, node);
  } else if (n == 0 && g_str_equal (method, "POST")) {
    const gchar *sid = otc_signalling_get_string (body, "sessionId");
    const gchar *name = otc_signalling_get_string (body, "name");
    OtcRouterSession *session = sid ? g_hash_table_lookup (server->sessions,
        sid) : NULL;
    OtcRouterArchive *a;

    if (sid == NULL)
      otc_router_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
          "sessionId is required");
    else if (session == NULL)
      otc_router_reply_error (msg, SOUP_STATUS_NOT_FOUND, "No such session");
    else if (session->e2ee)
      otc_router_reply_error (msg, SOUP_STATUS_CONFLICT,
          otc_router_e2ee_refusal ());
    else if (running_archive (server, sid))
      otc_router_reply_error (msg, SOUP_STATUS_CONFLICT,
          "The session is already being archived");
    else if ((a = archive_start (server, session, name, &error)) == NULL) {
      otc_router_reply_error (msg, error->code == G_IO_ERROR_NOT_FOUND ?
          SOUP_STATUS_NOT_FOUND : SOUP_STATUS_INTERNAL_SERVER_ERROR,
          error->message);
      g_error_free (error);
    } else
      otc_router_reply_json (msg, SOUP_STATUS_OK, archive_json (server, a));
  } else if (n >= 1) {
    OtcRouterArchive *a = g_hash_table_lookup (server->archives, path[0]);

    if (a == NULL)
      otc_router_reply_error (msg, SOUP_STATUS_NOT_FOUND, "No such archive");
    else if (n == 1 && g_str_equal (method, "GET"))
      otc_router_reply_json (msg, SOUP_STATUS_OK, archive_json (server, a));
    else if (n == 2 && g_str_equal (path[1], "stop")
        && g_str_equal (method, "POST")) {
      if (a->stopped != 0)
        otc_router_reply_error (msg, SOUP_STATUS_CONFLICT,
            "The archive is already stopped");
      else if (!archive_stop (server, a, &error)) {
        otc_router_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
            error->message);
        g_error_free (error);
      } else
        otc_router_reply_json (msg, SOUP_STATUS_OK, archive_json (server, a));
    } else
      otc_router_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
          "GET an archive, or POST .../stop");
  } else {
    otc_router_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        "GET to list archives, POST to start one");
  }
}
