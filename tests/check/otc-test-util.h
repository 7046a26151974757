/* Helpers shared by otc's tests. */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <otc/e2ee.h>

/* Under AddressSanitizer the heap is measured with its own counter and RSS
 * is not (freed memory stays in its quarantine); under valgrind neither
 * is, and floods are smaller (valgrind checks the memory itself). */
#if defined(__SANITIZE_ADDRESS__)
#define OTC_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OTC_UNDER_ASAN 1
#endif
#endif
#ifdef OTC_UNDER_ASAN
size_t __sanitizer_get_current_allocated_bytes (void);
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

G_BEGIN_DECLS

/* Parses ../shared/testvectors/@name. 64-bit "kid" and "ctr" values are
 * kept exact: they are read from the JSON text as strings. */
JsonNode *otc_test_load_vectors (const gchar * name);
guint64 otc_test_get_u64 (JsonObject * o, const gchar * member);
/* Hex member decoded; *len receives its length. */
guint8 *otc_test_get_hex (JsonObject * o, const gchar * member, gsize * len);
gchar *otc_test_to_hex (const guint8 * data, gsize len);

/* SK for (secret, session id), derived once per test process. */
OtcSecretKey *otc_test_secret_key (const gchar * secret,
    const gchar * session_id);

/* Pops every element message named @name from @bus (non-blocking). */
guint otc_test_count_messages (GstBus * bus, const gchar * name,
    GList ** structures);

/* Waits up to @timeout_ms for an element message named @name; returns its
 * structure (a copy) or NULL. Other messages are dropped. */
GstStructure *otc_test_wait_message (GstBus * bus, const gchar * name,
    guint timeout_ms);

guint64 otc_test_stats_u64 (GstElement * element, const gchar * field);

/* Every way the secrets (and, for the valid ones, the SK, sender base keys
 * and SFrame keys of @kids in every suite) could be written down: raw,
 * hex (both cases, spaced) and base64 runs. */
GPtrArray *otc_test_secret_needles (const gchar * const *secrets,
    const gchar * session_id, const guint64 * kids, guint n_kids);
/* Fails naming @what when any needle is in @haystack. */
void otc_test_assert_clean (const gchar * what, const gchar * haystack,
    GPtrArray * needles);
/* A temporary file holding @secret (0600); the caller unlinks it. */
gchar *otc_test_write_secret_file (const gchar * secret);

/* Runs "@description ! fakesink" to EOS and returns what reached the sink
 * (GstBuffer refs); fails the test on a bus error. */
GPtrArray *otc_test_collect_buffers (const gchar * description);

/* Protects @frames with a library encryptor as otcencrypt would, using the
 * codec's clear length. */
GPtrArray *otc_test_protect_all (GPtrArray * frames, OtcCodec codec,
    const gchar * secret, const gchar * session_id, guint64 kid,
    guint64 first_ctr);

gboolean otc_test_vp8_is_keyframe (GstBuffer * buf);

/* Waits (bounded) until the element's stats say its key is derived. */
void otc_test_wait_key_ready (GstElement * element);

G_END_DECLS
