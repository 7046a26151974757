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

/* What secret material looks like once written down, to search output
 * for. Each secret, whole, as given. Then, of the SK of each valid secret
 * and, for each of @kids in every cipher suite, of its sender base key,
 * SFrame key (with the authentication key of the CTR suites) and SFrame
 * salt, and of each secret of 8 bytes or more: every run of 8 bytes, as
 * raw bytes (not a secret's: its runs are words), as hex (lower and upper
 * case, with and without a space between bytes), and as base64 and
 * base64url of each run of 6 bytes starting at any offset (the 8
 * characters that any base64 text holding 8 or more consecutive bytes of
 * it contains, whatever the alignment). Opaque to the caller. */
GPtrArray *otc_test_secret_needles (const gchar * const *secrets,
    const gchar * session_id, const guint64 * kids, guint n_kids);
/* Fails naming @what, the needle and where it is, when any needle is in
 * @haystack (a string). One pass over the haystack, whatever the number
 * of needles. */
void otc_test_assert_clean (const gchar * what, const gchar * haystack,
    GPtrArray * needles);
/* The same over @len bytes, which may hold NULs. */
void otc_test_assert_clean_len (const gchar * what, const guint8 * haystack,
    gsize len, GPtrArray * needles);
/* What the first needle found in @haystack is (a description), and *@at
 * where; NULL when none is. */
const gchar *otc_test_find_secret (const guint8 * haystack, gsize len,
    GPtrArray * needles, gsize * at);
/* A temporary file holding @secret (0600); the caller unlinks it. */
gchar *otc_test_write_secret_file (const gchar * secret);

/* The @i-th KID of a flood of forged KIDs (@i < OTC_TEST_FLOOD_KIDS):
 * distinct for distinct @i, of every encoded length (0 to 8 bytes after
 * the SFrame config byte: large KIDs make long headers), scattered over
 * the 64-bit range, and never in [2^16, 2^20): genuine streams beside a
 * flood take their KIDs there. */
#define OTC_TEST_FLOOD_KIDS (G_GUINT64_CONSTANT (1) << 20)
#define OTC_TEST_FLOOD_FREE_KID(kid) ((kid) >= (1 << 16) && (kid) < (1 << 20))
guint64 otc_test_flood_kid (guint64 i);

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
