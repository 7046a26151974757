#include <openssl/crypto.h>
#include <string.h>

#include "gstotcsecretholder.h"

GST_DEBUG_CATEGORY_STATIC (otc_secret_debug);
#define GST_CAT_DEFAULT otc_secret_debug

static void
wipe_string (gchar * s)
{
  if (s != NULL) {
    OPENSSL_cleanse (s, strlen (s));
    g_free (s);
  }
}

void
gst_otc_secret_holder_init (GstOtcSecretHolder * holder, GstElement * element)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (otc_secret_debug, "otcsecret", 0,
        "otc encryption secret handling");
    g_once_init_leave (&once, 1);
  }
  memset (holder, 0, sizeof (*holder));
  holder->element = element;
  holder->session_id = g_strdup ("");
  g_mutex_init (&holder->lock);
  g_cond_init (&holder->idle);
}

void
gst_otc_secret_holder_clear (GstOtcSecretHolder * holder)
{
  gst_otc_secret_holder_stop (holder);
  wipe_string (holder->secret);
  holder->secret = NULL;
  g_free (holder->session_id);
  otc_secret_key_unref (holder->key);
  holder->key = NULL;
  g_mutex_clear (&holder->lock);
  g_cond_clear (&holder->idle);
}

/* Sets the derived key; with the lock held. */
static void
install_key (GstOtcSecretHolder * holder, OtcSecretKey * key, guint gen)
{
  otc_secret_key_unref (holder->key);
  holder->key = key;
  holder->key_generation = gen;
  g_atomic_int_inc (&holder->key_serial);
}

static void start_derivation (GstOtcSecretHolder * holder);

typedef struct
{
  GstOtcSecretHolder *holder;
  gchar *secret;
  gchar *session_id;
  guint generation;
} Job;

static gpointer
derive_thread (gpointer data)
{
  Job *job = data;
  GstOtcSecretHolder *holder = job->holder;
  GError *error = NULL;
  OtcSecretKey *key;
  gint64 start = g_get_monotonic_time ();

  key = otc_secret_key_derive_shared (job->secret, job->session_id,
      &error);
  wipe_string (job->secret);
  g_free (job->session_id);

  g_mutex_lock (&holder->lock);
  if (key == NULL) {
    GST_WARNING_OBJECT (holder->element, "Key derivation failed: %s",
        error->message);
    holder->failed_generation = job->generation;
    if (holder->error_message_name != NULL)
      gst_element_post_message (holder->element,
          gst_message_new_element (GST_OBJECT (holder->element),
              gst_structure_new (holder->error_message_name,
                  "code", G_TYPE_INT, holder->error_code,
                  "message", G_TYPE_STRING, error->message, NULL)));
    g_clear_error (&error);
  } else if (job->generation == holder->generation) {
    GST_INFO_OBJECT (holder->element, "New secret key ready after %"
        G_GINT64_FORMAT " us", g_get_monotonic_time () - start);
    install_key (holder, key, job->generation);
    key = NULL;
  }
  otc_secret_key_unref (key);   /* superseded by a newer change */
  holder->deriving--;
  /* changes made meanwhile were coalesced: derive the latest one now */
  if (holder->started && holder->secret != NULL
      && holder->generation != job->generation
      && holder->key_generation != holder->generation)
    start_derivation (holder);
  g_cond_broadcast (&holder->idle);
  g_mutex_unlock (&holder->lock);

  gst_object_unref (holder->element);
  g_free (job);
  return NULL;
}

/* With the lock held: derive for the current generation in the background;
 * one worker at a time, later changes are picked up when it ends. */
static void
start_derivation (GstOtcSecretHolder * holder)
{
  Job *job;
  GThread *thread;

  if (holder->deriving > 0)
    return;
  job = g_new0 (Job, 1);

  job->holder = holder;
  job->secret = g_strdup (holder->secret);
  job->session_id = g_strdup (holder->session_id);
  job->generation = holder->generation;
  holder->deriving++;
  gst_object_ref (holder->element);
  thread = g_thread_new ("otc-secret-derive", derive_thread, job);
  g_thread_unref (thread);
}

gboolean
gst_otc_secret_holder_set_secret (GstOtcSecretHolder * holder,
    const gchar * secret, GError ** error)
{
  if (!otc_secret_validate (secret, error))
    return FALSE;

  g_mutex_lock (&holder->lock);
  if (holder->secret != NULL && strcmp (holder->secret, secret) == 0) {
    g_mutex_unlock (&holder->lock);
    return TRUE;
  }
  wipe_string (holder->secret);
  holder->secret = g_strdup (secret);
  holder->generation++;
  GST_DEBUG_OBJECT (holder->element, "Secret changed (generation %u)",
      holder->generation);
  if (holder->started)
    start_derivation (holder);
  g_mutex_unlock (&holder->lock);
  return TRUE;
}

gboolean
gst_otc_secret_holder_set_secret_from_file (GstOtcSecretHolder * holder,
    const gchar * path, GError ** error)
{
  gchar *contents = NULL;
  gsize len = 0;
  gboolean ok;

  if (path == NULL) {
    g_set_error (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET, "No secret file given");
    return FALSE;
  }
  if (!g_file_get_contents (path, &contents, &len, error))
    return FALSE;
  if (len > 0 && contents[len - 1] == '\n')
    contents[--len] = '\0';
  if (len > 0 && contents[len - 1] == '\r')
    contents[--len] = '\0';
  if (strlen (contents) != len) {
    g_set_error (error, OTC_E2EE_ERROR,
        OTC_E2EE_ERROR_INVALID_ENCRYPTION_SECRET,
        "The secret file contains a NUL byte");
    ok = FALSE;
  } else {
    ok = gst_otc_secret_holder_set_secret (holder, contents, error);
  }
  OPENSSL_cleanse (contents, len);
  g_free (contents);
  return ok;
}

void
gst_otc_secret_holder_set_session_id (GstOtcSecretHolder * holder,
    const gchar * session_id)
{
  g_mutex_lock (&holder->lock);
  if (g_strcmp0 (holder->session_id, session_id ? session_id : "") != 0) {
    g_free (holder->session_id);
    holder->session_id = g_strdup (session_id ? session_id : "");
    holder->generation++;
    if (holder->started && holder->secret != NULL)
      start_derivation (holder);
  }
  g_mutex_unlock (&holder->lock);
}

gchar *
gst_otc_secret_holder_dup_session_id (GstOtcSecretHolder * holder)
{
  gchar *s;

  g_mutex_lock (&holder->lock);
  s = g_strdup (holder->session_id);
  g_mutex_unlock (&holder->lock);
  return s;
}

gboolean
gst_otc_secret_holder_has_secret (GstOtcSecretHolder * holder)
{
  gboolean has;

  g_mutex_lock (&holder->lock);
  has = holder->secret != NULL;
  g_mutex_unlock (&holder->lock);
  return has;
}

gchar *
gst_otc_secret_holder_dup_secret (GstOtcSecretHolder * holder)
{
  gchar *copy;

  g_mutex_lock (&holder->lock);
  copy = g_strdup (holder->secret);
  g_mutex_unlock (&holder->lock);
  return copy;
}

void
gst_otc_secret_holder_remove_secret (GstOtcSecretHolder * holder)
{
  g_mutex_lock (&holder->lock);
  wipe_string (holder->secret);
  holder->secret = NULL;
  holder->generation++;
  g_mutex_unlock (&holder->lock);
}

gboolean
gst_otc_secret_holder_is_pending (GstOtcSecretHolder * holder)
{
  gboolean pending;

  g_mutex_lock (&holder->lock);
  pending = holder->secret != NULL
      && (holder->key == NULL || holder->key_generation != holder->generation)
      && holder->failed_generation != holder->generation;
  g_mutex_unlock (&holder->lock);
  return pending;
}

gboolean
gst_otc_secret_holder_start (GstOtcSecretHolder * holder, GError ** error)
{
  gchar *secret = NULL, *session_id = NULL;
  guint gen = 0;
  OtcSecretKey *key;

  g_mutex_lock (&holder->lock);
  holder->started = TRUE;
  if (holder->secret != NULL && (holder->key == NULL
          || holder->key_generation != holder->generation)) {
    secret = g_strdup (holder->secret);
    session_id = g_strdup (holder->session_id);
    gen = holder->generation;
  }
  g_mutex_unlock (&holder->lock);

  if (secret == NULL)
    return TRUE;

  /* Before PAUSED, so that the first frame is protected. */
  key = otc_secret_key_derive_shared (secret, session_id, error);
  wipe_string (secret);
  g_free (session_id);
  if (key == NULL) {
    g_mutex_lock (&holder->lock);
    holder->started = FALSE;
    g_mutex_unlock (&holder->lock);
    return FALSE;
  }

  g_mutex_lock (&holder->lock);
  if (gen == holder->generation)
    install_key (holder, key, gen);
  else
    otc_secret_key_unref (key);
  g_mutex_unlock (&holder->lock);
  return TRUE;
}

void
gst_otc_secret_holder_stop (GstOtcSecretHolder * holder)
{
  g_mutex_lock (&holder->lock);
  holder->started = FALSE;
  while (holder->deriving > 0)
    g_cond_wait (&holder->idle, &holder->lock);
  g_mutex_unlock (&holder->lock);
}

OtcSecretKey *
gst_otc_secret_holder_poll_key (GstOtcSecretHolder * holder, gint * serial,
    gboolean * changed)
{
  OtcSecretKey *key = NULL;
  gint now = g_atomic_int_get (&holder->key_serial);

  *changed = FALSE;
  if (now == *serial)
    return NULL;

  g_mutex_lock (&holder->lock);
  *serial = holder->key_serial;
  *changed = TRUE;
  if (holder->key != NULL)
    key = otc_secret_key_ref (holder->key);
  g_mutex_unlock (&holder->lock);
  return key;
}
