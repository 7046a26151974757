#include <openssl/crypto.h>
#include <string.h>

#include "otc-connection.h"
#include "otc-router-signaller.h"
#include "otc-signalling.h"

GST_DEBUG_CATEGORY_STATIC (otc_connection_debug);
#define GST_CAT_DEFAULT otc_connection_debug

#define KEY_IDS_PER_CONNECTION 256

struct _OtcConnection
{
  gint users;                   /* under the pool's lock */
  OtcConnectionPool *pool;      /* NULL when not pooled */
  gchar *key;
  OtcSignaller *signaller;

  GMutex lock;
  GCond cond;
  gboolean connected;
  gboolean done;                /* connected once, or failed */
  gboolean disconnected;
  gchar *reason;
  gint error_code;
  gchar *error_message;
  GstStructure *info;
  GHashTable *streams;          /* stream id -> GstStructure */
  GHashTable *connections;      /* connection id -> GstStructure */
  guint64 n_published;
  guint tag_seq;
};

struct _OtcConnectionPool
{
  GObject parent;
  GMutex lock;
  GHashTable *connections;      /* key -> OtcConnection */
};

/* Held by each handler of ours for its whole run, and while they are
 * disconnected: once connection_free has them disconnected, none is running
 * (the signaller's thread may still be in an emission when the last user
 * leaves) */
static GMutex handler_lock;

G_DEFINE_TYPE_WITH_CODE (OtcConnectionPool, otc_connection_pool,
    G_TYPE_OBJECT, GST_DEBUG_CATEGORY_INIT (otc_connection_debug,
        "otcconnection", 0, "otc session connections"));

static void
otc_connection_pool_init (OtcConnectionPool * pool)
{
  g_mutex_init (&pool->lock);
  pool->connections = g_hash_table_new (g_str_hash, g_str_equal);
}

static void
otc_connection_pool_finalize (GObject * object)
{
  OtcConnectionPool *pool = OTC_CONNECTION_POOL (object);

  /* connections hold a reference on their pool: none is left here */
  g_hash_table_unref (pool->connections);
  g_mutex_clear (&pool->lock);
  G_OBJECT_CLASS (otc_connection_pool_parent_class)->finalize (object);
}

static void
otc_connection_pool_class_init (OtcConnectionPoolClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = otc_connection_pool_finalize;
}

OtcConnectionPool *
otc_connection_pool_from_context (GstContext * context)
{
  const GstStructure *s;
  OtcConnectionPool *pool = NULL;

  if (g_strcmp0 (gst_context_get_context_type (context),
          OTC_CONNECTION_POOL_CONTEXT) != 0)
    return NULL;
  s = gst_context_get_structure (context);
  if (!gst_structure_get (s, "pool", OTC_TYPE_CONNECTION_POOL, &pool, NULL))
    return NULL;
  return pool;
}

GstContext *
otc_connection_pool_new_context (void)
{
  GstContext *context = gst_context_new (OTC_CONNECTION_POOL_CONTEXT, TRUE);
  OtcConnectionPool *pool = g_object_new (OTC_TYPE_CONNECTION_POOL, NULL);

  gst_structure_set (gst_context_writable_structure (context), "pool",
      OTC_TYPE_CONNECTION_POOL, pool, NULL);
  g_object_unref (pool);
  return context;
}

/* --- signaller events that the connection keeps ------------------------- */

static void
on_connected (OtcSignaller * sig, const GstStructure * info,
    OtcConnection * conn)
{
  g_mutex_lock (&handler_lock);
  g_mutex_lock (&conn->lock);
  if (conn->info == NULL)
    conn->info = gst_structure_copy (info);
  conn->connected = TRUE;
  conn->done = TRUE;
  g_cond_broadcast (&conn->cond);
  g_mutex_unlock (&conn->lock);
  g_mutex_unlock (&handler_lock);
}

static void
on_disconnected (OtcSignaller * sig, const gchar * reason,
    OtcConnection * conn)
{
  g_mutex_lock (&handler_lock);
  g_mutex_lock (&conn->lock);
  conn->connected = FALSE;
  conn->disconnected = TRUE;
  conn->done = TRUE;
  g_free (conn->reason);
  conn->reason = g_strdup (reason);
  if (conn->error_code == 0) {
    conn->error_code = OTC_SIGNALLING_ERROR_CONNECT_FAILED;
    conn->error_message = g_strdup_printf ("Disconnected (%s)", reason);
  }
  g_cond_broadcast (&conn->cond);
  g_mutex_unlock (&conn->lock);
  g_mutex_unlock (&handler_lock);
}

static void
on_error (OtcSignaller * sig, gint code, const gchar * message,
    const gchar * tag, OtcConnection * conn)
{
  g_mutex_lock (&handler_lock);
  g_mutex_lock (&conn->lock);
  /* errors before "connected" (or answering connect) fail the connection */
  if (!conn->connected && (tag == NULL || g_str_equal (tag, "connect"))) {
    conn->error_code = code;
    g_free (conn->error_message);
    conn->error_message = g_strdup (message);
    conn->done = TRUE;
    g_cond_broadcast (&conn->cond);
  }
  g_mutex_unlock (&conn->lock);
  g_mutex_unlock (&handler_lock);
}

static void
on_stream_created (OtcSignaller * sig, const GstStructure * s,
    OtcConnection * conn)
{
  const gchar *id = gst_structure_get_string (s, "stream-id");

  g_mutex_lock (&handler_lock);
  if (id == NULL) {
    g_mutex_unlock (&handler_lock);
    return;
  }
  g_mutex_lock (&conn->lock);
  g_hash_table_replace (conn->streams, g_strdup (id), gst_structure_copy (s));
  g_mutex_unlock (&conn->lock);
  g_mutex_unlock (&handler_lock);
}

static void
on_stream_destroyed (OtcSignaller * sig, const gchar * id,
    const gchar * reason, OtcConnection * conn)
{
  g_mutex_lock (&handler_lock);
  if (id == NULL) {
    g_mutex_unlock (&handler_lock);
    return;
  }
  g_mutex_lock (&conn->lock);
  g_hash_table_remove (conn->streams, id);
  g_mutex_unlock (&conn->lock);
  g_mutex_unlock (&handler_lock);
}

static void
on_connection_created (OtcSignaller * sig, const GstStructure * s,
    OtcConnection * conn)
{
  const gchar *id = gst_structure_get_string (s, "connection-id");

  g_mutex_lock (&handler_lock);
  if (id == NULL) {
    g_mutex_unlock (&handler_lock);
    return;
  }
  g_mutex_lock (&conn->lock);
  g_hash_table_replace (conn->connections, g_strdup (id),
      gst_structure_copy (s));
  g_mutex_unlock (&conn->lock);
  g_mutex_unlock (&handler_lock);
}

static void
on_connection_destroyed (OtcSignaller * sig, const gchar * id,
    const gchar * reason, OtcConnection * conn)
{
  g_mutex_lock (&handler_lock);
  if (id == NULL) {
    g_mutex_unlock (&handler_lock);
    return;
  }
  g_mutex_lock (&conn->lock);
  g_hash_table_remove (conn->connections, id);
  g_mutex_unlock (&conn->lock);
  g_mutex_unlock (&handler_lock);
}

static OtcConnection *
connection_new (OtcSignaller * signaller)
{
  OtcConnection *conn = g_new0 (OtcConnection, 1);

  conn->signaller = signaller;
  g_mutex_init (&conn->lock);
  g_cond_init (&conn->cond);
  conn->streams = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) gst_structure_free);
  conn->connections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) gst_structure_free);
  /* connected first: the elements' handlers run after these */
  g_signal_connect (signaller, "connected", G_CALLBACK (on_connected), conn);
  g_signal_connect (signaller, "disconnected", G_CALLBACK (on_disconnected),
      conn);
  g_signal_connect (signaller, "error", G_CALLBACK (on_error), conn);
  g_signal_connect (signaller, "stream-created",
      G_CALLBACK (on_stream_created), conn);
  g_signal_connect (signaller, "stream-destroyed",
      G_CALLBACK (on_stream_destroyed), conn);
  g_signal_connect (signaller, "connection-created",
      G_CALLBACK (on_connection_created), conn);
  g_signal_connect (signaller, "connection-destroyed",
      G_CALLBACK (on_connection_destroyed), conn);
  return conn;
}

static void
connection_free (OtcConnection * conn)
{
  /* then the last reference joins the router signaller's thread: no
   * handler of ours runs after this */
  g_mutex_lock (&handler_lock);
  g_signal_handlers_disconnect_by_data (conn->signaller, conn);
  g_mutex_unlock (&handler_lock);
  g_object_unref (conn->signaller);
  if (conn->pool)
    g_object_unref (conn->pool);
  g_free (conn->key);
  g_free (conn->reason);
  g_free (conn->error_message);
  if (conn->info)
    gst_structure_free (conn->info);
  g_hash_table_unref (conn->streams);
  g_hash_table_unref (conn->connections);
  g_mutex_clear (&conn->lock);
  g_cond_clear (&conn->cond);
  g_free (conn);
}

OtcConnection *
otc_connection_pool_acquire (OtcConnectionPool * pool, const gchar * url,
    const gchar * session_id, const gchar * token, OtcSignaller * signaller)
{
  OtcConnection *conn;
  gchar *key;

  if (signaller != NULL) {
    conn = connection_new (g_object_ref (signaller));
    conn->users = 1;
    otc_signaller_start (signaller, url, session_id, token);
    return conn;
  }
  /* the token is part of the key: it names the participant */
  {
    /* the token is a credential: only its digest is kept */
    gchar *joined = g_strjoin ("\n", url ? url : "", session_id ?
        session_id : "", token ? token : "", NULL);

    key = g_compute_checksum_for_string (G_CHECKSUM_SHA256, joined, -1);
    OPENSSL_cleanse (joined, strlen (joined));
    g_free (joined);
  }
  g_mutex_lock (&pool->lock);
  conn = g_hash_table_lookup (pool->connections, key);
  if (conn && !otc_connection_is_connected (conn, NULL)
      && conn->done) {
    /* failed or gone: a new one replaces it for later users */
    g_hash_table_remove (pool->connections, key);
    g_clear_object (&conn->pool);
    g_clear_pointer (&conn->key, g_free);
    conn = NULL;
  }
  if (conn) {
    conn->users++;
    g_mutex_unlock (&pool->lock);
    g_free (key);
    GST_DEBUG ("sharing a connection (%d users)", conn->users);
    return conn;
  }
  conn = connection_new (otc_router_signaller_new ());
  conn->users = 1;
  conn->pool = g_object_ref (pool);
  conn->key = key;
  g_hash_table_insert (pool->connections, conn->key, conn);
  g_mutex_unlock (&pool->lock);
  otc_signaller_start (conn->signaller, url, session_id, token);
  return conn;
}

void
otc_connection_release (OtcConnection * conn)
{
  OtcConnectionPool *pool = conn->pool;
  gboolean last;

  if (pool) {
    g_object_ref (pool);
    g_mutex_lock (&pool->lock);
  }
  last = --conn->users == 0;
  if (last && pool && conn->key
      && g_hash_table_lookup (pool->connections, conn->key) == conn)
    g_hash_table_remove (pool->connections, conn->key);
  if (pool) {
    g_mutex_unlock (&pool->lock);
    g_object_unref (pool);
  }
  if (!last)
    return;
  otc_signaller_stop (conn->signaller);
  connection_free (conn);
}

gboolean
otc_connection_wait_connected (OtcConnection * conn, guint timeout_ms,
    GstStructure ** info, gint * code, gchar ** message)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean ok;

  g_mutex_lock (&conn->lock);
  while (!conn->done)
    if (!g_cond_wait_until (&conn->cond, &conn->lock, end))
      break;
  ok = conn->connected;
  if (ok) {
    *info = gst_structure_copy (conn->info);
  } else if (!conn->done) {
    *code = OTC_SIGNALLING_ERROR_CONNECT_FAILED;
    *message = g_strdup_printf ("No answer from the session server within "
        "%u ms", timeout_ms);
  } else {
    *code = conn->error_code ? conn->error_code :
        OTC_SIGNALLING_ERROR_CONNECT_FAILED;
    *message = g_strdup (conn->error_message ? conn->error_message :
        "Disconnected");
  }
  g_mutex_unlock (&conn->lock);
  return ok;
}

gboolean
otc_connection_is_connected (OtcConnection * conn, gchar ** reason)
{
  gboolean connected;

  g_mutex_lock (&conn->lock);
  connected = conn->connected;
  if (reason)
    *reason = g_strdup (conn->reason);
  g_mutex_unlock (&conn->lock);
  return connected;
}

OtcSignaller *
otc_connection_get_signaller (OtcConnection * conn)
{
  return conn->signaller;
}

static GList *
list_copies (OtcConnection * conn, GHashTable * table)
{
  GList *l = NULL;
  GHashTableIter it;
  gpointer value;

  g_mutex_lock (&conn->lock);
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, NULL, &value))
    l = g_list_prepend (l, gst_structure_copy (value));
  g_mutex_unlock (&conn->lock);
  return l;
}

GList *
otc_connection_list_streams (OtcConnection * conn)
{
  return list_copies (conn, conn->streams);
}

GList *
otc_connection_list_connections (OtcConnection * conn)
{
  return list_copies (conn, conn->connections);
}

guint64
otc_connection_next_key_id (OtcConnection * conn)
{
  guint64 base = 0, kid;

  g_mutex_lock (&conn->lock);
  if (conn->info)
    gst_structure_get_uint64 (conn->info, "key-id-base", &base);
  if (base != 0 && conn->n_published < KEY_IDS_PER_CONNECTION)
    kid = base + conn->n_published;
  else
    kid = 0;                    /* otcencrypt takes a random one */
  conn->n_published++;
  g_mutex_unlock (&conn->lock);
  return kid;
}

gchar *
otc_connection_new_tag (OtcConnection * conn, const gchar * prefix)
{
  guint n;

  g_mutex_lock (&conn->lock);
  n = ++conn->tag_seq;
  g_mutex_unlock (&conn->lock);
  return g_strdup_printf ("%s-%u", prefix, n);
}
