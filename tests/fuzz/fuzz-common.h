/* Shared by the libFuzzer targets: a reader over the input bytes and the
 * set-up every target does once. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* The input, consumed from the front; reads past the end give zeros, so
 * every input is a valid program for the targets. */
typedef struct
{
  const guint8 *data;
  gsize len;
  gsize pos;
} FuzzInput;

static inline void
fuzz_input_init (FuzzInput * in, const guint8 * data, gsize len)
{
  in->data = data;
  in->len = len;
  in->pos = 0;
}

static inline gsize
fuzz_input_left (const FuzzInput * in)
{
  return in->len - in->pos;
}

static inline guint8
fuzz_u8 (FuzzInput * in)
{
  return in->pos < in->len ? in->data[in->pos++] : 0;
}

static inline guint16
fuzz_u16 (FuzzInput * in)
{
  guint16 hi = fuzz_u8 (in);

  return (guint16) ((hi << 8) | fuzz_u8 (in));
}

static inline guint64
fuzz_u64 (FuzzInput * in)
{
  guint64 v = 0;
  guint i;

  for (i = 0; i < 8; i++)
    v = (v << 8) | fuzz_u8 (in);
  return v;
}

/* Up to @max bytes (fewer at the end of the input); *len gets the count. */
static inline const guint8 *
fuzz_bytes (FuzzInput * in, gsize max, gsize * len)
{
  const guint8 *p = in->data + in->pos;

  *len = MIN (max, fuzz_input_left (in));
  in->pos += *len;
  return p;
}

/* Bugs the targets found (README.md, crashes/). A target stops at them, as
 * at any bug, unless OTC_FUZZ_KNOWN_BUGS names them (comma-separated ids):
 * then each is counted, shown once, and the fuzzer goes on past it, which
 * is how fuzzing can go on while a reported bug waits for its fix. Both
 * below are fixed (5d83afd); their ids stay for trees from before.
 * @message: the GLib critical it shows as, if it does. */
typedef struct
{
  const gchar *id;
  const gchar *message;
} FuzzKnownBug;

static const FuzzKnownBug fuzz_known_bugs[] = {
  /* otc-router-rest.c: JSON_NODE_HOLDS_OBJECT on the NULL root of an
   * empty or blank body (crashes/rest/empty-json-body) */
  {"rest-empty-body",
      "json_node_get_node_type: assertion 'JSON_NODE_IS_VALID (node)' failed"},
  /* otc-signalling.c: json-glib turns a lone surrogate escape ("\ud800x")
   * into a string that is not UTF-8 (crashes/signalling/lone-surrogate) */
  {"signalling-lone-surrogate", NULL},
};

static guint fuzz_known_bug_hits[G_N_ELEMENTS (fuzz_known_bugs)];

static inline gboolean
fuzz_known_bug_allowed (guint i)
{
  const gchar *env = g_getenv ("OTC_FUZZ_KNOWN_BUGS");
  gchar **ids;
  gboolean allowed;

  if (env == NULL)
    return FALSE;
  ids = g_strsplit (env, ",", -1);
  allowed = g_strv_contains ((const gchar * const *) ids,
      fuzz_known_bugs[i].id);
  g_strfreev (ids);
  return allowed;
}

static inline void
fuzz_known_bug_passed (guint i)
{
  if (fuzz_known_bug_hits[i]++ == 0)
    g_printerr ("fuzz: passing known bug %s (OTC_FUZZ_KNOWN_BUGS; shown "
        "once)\n", fuzz_known_bugs[i].id);
}

/* A target met bug @id: aborts (a crash for libFuzzer), or returns TRUE
 * when OTC_FUZZ_KNOWN_BUGS lets it pass; the caller then skips the rest of
 * the input. */
static inline gboolean
fuzz_known_bug (const gchar * id, const gchar * what)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fuzz_known_bugs); i++) {
    if (g_str_equal (fuzz_known_bugs[i].id, id)
        && fuzz_known_bug_allowed (i)) {
      fuzz_known_bug_passed (i);
      return TRUE;
    }
  }
  g_printerr ("fuzz: bug %s: %s\n", id, what);
  abort ();
}

/* A GLib critical or warning (a g_return_if_fail that input reached, a
 * bad GObject call) is a bug: abort, so that libFuzzer reports it with a
 * stack and keeps the input. (G_DEBUG=fatal-criticals would raise SIGTRAP,
 * which libFuzzer does not catch.) */
static inline GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level, const GLogField * fields,
    gsize n_fields, gpointer user_data)
{
  gsize i, k;

  if (!(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
              G_LOG_LEVEL_WARNING)))
    return g_log_writer_default (level, fields, n_fields, user_data);

  for (i = 0; i < n_fields; i++) {
    if (!g_str_equal (fields[i].key, "MESSAGE") || fields[i].length >= 0)
      continue;
    for (k = 0; k < G_N_ELEMENTS (fuzz_known_bugs); k++) {
      if (fuzz_known_bugs[k].message != NULL
          && strstr (fields[i].value, fuzz_known_bugs[k].message) != NULL
          && fuzz_known_bug_allowed (k)) {
        fuzz_known_bug_passed (k);
        return G_LOG_WRITER_HANDLED;
      }
    }
  }
  g_log_writer_standard_streams (level, fields, n_fields, user_data);
  abort ();
}

/* OTC_FUZZ_VERBOSE=1: the targets say what they did with each input (to
 * check seeds and reproducers). */
static gboolean fuzz_verbose;

static inline void
fuzz_make_criticals_fatal (void)
{
  fuzz_verbose = g_getenv ("OTC_FUZZ_VERBOSE") != NULL;
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

/* A reference output of the same size: heap buffers of exactly the
 * length the API promises, so that AddressSanitizer sees any byte written
 * or read past it. */
static inline guint8 *
fuzz_dup (const guint8 * data, gsize len)
{
  guint8 *p = g_malloc (len ? len : 1);

  if (len)
    memcpy (p, data, len);
  return p;
}

#define FUZZ_SAY(...) \
  G_STMT_START { if (fuzz_verbose) g_printerr (__VA_ARGS__); } G_STMT_END

#define FUZZ_CHECK(cond) \
  G_STMT_START { \
    if (G_UNLIKELY (!(cond))) { \
      g_printerr ("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort (); \
    } \
  } G_STMT_END

/* The wall clock of the router targets (fuzz-clock.c), in seconds:
 * 2025-06-15. */
#define FUZZ_NOW G_GINT64_CONSTANT (1750000000)
