/* What otcencrypt and otcdecrypt share about their secret: validation, a
 * private copy wiped when replaced, and the PBKDF2 derivation of the secret
 * key, synchronous at start and on a worker thread while running so that
 * the streaming thread never waits for it. */
#pragma once

#include <gst/gst.h>
#include <otc/e2ee.h>

G_BEGIN_DECLS

typedef struct
{
  GstElement *element;          /* the owner, not referenced */
  GMutex lock;
  gchar *secret;                /* valid secret or NULL; wiped on change */
  gchar *session_id;
  gboolean started;
  guint generation;             /* bumped by every accepted change */
  OtcSecretKey *key;            /* SK for key_generation */
  guint key_generation;
  gint key_serial;              /* atomic: bumped when @key changes */
  guint deriving;               /* worker threads running (0 or 1) */
  guint failed_generation;      /* derivation failed for this one */
  GCond idle;
  /* posted when a derivation fails on the worker thread */
  const gchar *error_message_name;
  gint error_code;
} GstOtcSecretHolder;

void gst_otc_secret_holder_init (GstOtcSecretHolder * holder,
    GstElement * element);
void gst_otc_secret_holder_clear (GstOtcSecretHolder * holder);

/* Validates and stores @secret. Invalid: FALSE and @error, the previous
 * secret stays. While started, derivation runs on a worker thread. */
gboolean gst_otc_secret_holder_set_secret (GstOtcSecretHolder * holder,
    const gchar * secret, GError ** error);
/* Reads the secret from a file (one trailing newline is dropped). */
gboolean gst_otc_secret_holder_set_secret_from_file (GstOtcSecretHolder *
    holder, const gchar * path, GError ** error);
void gst_otc_secret_holder_set_session_id (GstOtcSecretHolder * holder,
    const gchar * session_id);
gchar *gst_otc_secret_holder_dup_session_id (GstOtcSecretHolder * holder);
gboolean gst_otc_secret_holder_has_secret (GstOtcSecretHolder * holder);
/* A copy of the secret (NULL if none): wipe it (OPENSSL_cleanse) before
 * freeing. For holders that hand the secret on (otcsession). */
gchar *gst_otc_secret_holder_dup_secret (GstOtcSecretHolder * holder);
/* Only for holders that are never started (otcsession). */
void gst_otc_secret_holder_remove_secret (GstOtcSecretHolder * holder);
/* TRUE while the key of the latest secret is still being derived. */
gboolean gst_otc_secret_holder_is_pending (GstOtcSecretHolder * holder);

/* READY->PAUSED: derives a pending key before returning. */
gboolean gst_otc_secret_holder_start (GstOtcSecretHolder * holder,
    GError ** error);
/* PAUSED->READY: waits for workers. */
void gst_otc_secret_holder_stop (GstOtcSecretHolder * holder);

/* Streaming thread: when the key changed since *@serial, returns a new
 * reference to it (NULL if the secret was removed) and sets
 * *@changed. Cheap when nothing changed (one atomic read). */
OtcSecretKey *gst_otc_secret_holder_poll_key (GstOtcSecretHolder * holder,
    gint * serial, gboolean * changed);

G_END_DECLS
