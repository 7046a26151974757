/* The SFrame header (RFC 9605 section 4.3): a config byte, then the key id
 * and the counter as big-endian integers of 1-8 bytes when they do not fit
 * in the config byte's 3 bits. Covers the full 64-bit range of both. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTC_SFRAME_HEADER_MAX_SIZE 17

/* Writes the minimal encoding into @out; returns its length (1-17). */
gsize otc_sframe_header_encode (guint64 kid, guint64 ctr,
    guint8 out[OTC_SFRAME_HEADER_MAX_SIZE]);

/* The length otc_sframe_header_encode() would write. */
gsize otc_sframe_header_size (guint64 kid, guint64 ctr);

/* Parses a header at the start of @data. Returns its length, or 0 when
 * @len is too short for the lengths the config byte announces. */
gsize otc_sframe_header_decode (const guint8 * data, gsize len,
    guint64 * kid, guint64 * ctr);

G_END_DECLS
