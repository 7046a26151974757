/* The router's WebSocket message limit (ext/router/otc-router-ws-limit.c)
 * on its own: client frames of every size and fragmentation read through
 * it in random pieces, blocking and not. What passes is exactly what was
 * sent, up to the header of the frame that takes a message past the limit
 * (at most the part of that header a read ended in);
 * the owner hears of it once; then the input ends at the client's close
 * frame, or once the limit's worth more has been dropped. */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "otc-router-ws-limit.h"

#define LIMIT 4096

/* A masked client frame. */
static void
add_frame (GByteArray * out, gboolean fin, guint opcode, gsize len,
    GRand * rand)
{
  guint8 h[14];
  gsize n = 0, i;

  h[n++] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) {
    h[n++] = 0x80 | len;
  } else if (len <= 0xffff) {
    h[n++] = 0x80 | 126;
    h[n++] = len >> 8;
    h[n++] = len & 0xff;
  } else {
    h[n++] = 0x80 | 127;
    for (i = 0; i < 8; i++)
      h[n++] = (guint8) ((guint64) len >> (56 - 8 * i));
  }
  for (i = 0; i < 4; i++)
    h[n++] = g_rand_int (rand);
  g_byte_array_append (out, h, n);
  for (i = 0; i < len; i++) {
    guint8 b = g_rand_int (rand);

    g_byte_array_append (out, &b, 1);
  }
}

/* A message of @total payload bytes in random fragments, with pings
 * between them (*@pings_left at most: control frames are limited too). */
static void
add_message (GByteArray * out, gsize total, GRand * rand, guint * pings_left)
{
  gsize left = total;
  gboolean first = TRUE;

  do {
    gsize part = left ? g_rand_int_range (rand, 1, MIN (left, 3000) + 1) : 0;

    left -= part;
    add_frame (out, left == 0, first ? 1 : 0, part, rand);
    first = FALSE;
    if (left && *pings_left > 0 && g_rand_boolean (rand)) {
      add_frame (out, TRUE, 9, g_rand_int_range (rand, 0, 126), rand);
      (*pings_left)--;
    }
  } while (left > 0);
}

typedef struct
{
  GByteArray *got;
  gboolean eof;
  guint refused;
  gushort code;
} ReadResult;

static void
on_refused (gpointer user_data, gushort code, const gchar * reason)
{
  ReadResult *r = user_data;

  r->refused++;
  r->code = code;
  fail_unless (reason != NULL && *reason != '\0');
}

/* Reads @wire through the limit until the end of the stream, in random
 * pieces, blocking or not. */
static ReadResult
read_through (GByteArray * wire, gboolean nonblocking, GRand * rand)
{
  GInputStream *mem = g_memory_input_stream_new_from_data (g_memdup2
      (wire->data, wire->len), wire->len, g_free);
  GOutputStream *sink = g_memory_output_stream_new_resizable ();
  GIOStream *base = g_simple_io_stream_new (mem, sink);
  GIOStream *limited = otc_ws_limit_stream_new (base, LIMIT);
  GInputStream *in = g_io_stream_get_input_stream (limited);
  ReadResult r = { g_byte_array_new (), FALSE, 0, 0 };
  guint8 buf[8192];
  guint would_block = 0;

  otc_ws_limit_stream_set_refused_func (OTC_WS_LIMIT_STREAM (limited),
      on_refused, &r);
  fail_unless (G_IS_POLLABLE_INPUT_STREAM (in)
      && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (in)));
  for (;;) {
    gsize want = g_rand_boolean (rand) ? g_rand_int_range (rand, 1, 16) :
        g_rand_int_range (rand, 1, sizeof (buf));
    GError *error = NULL;
    gssize n;

    if (nonblocking)
      n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM
          (in), buf, want, NULL, &error);
    else
      n = g_input_stream_read (in, buf, want, NULL, &error);
    if (n < 0) {
      /* dropped input; the memory stream always has more or its end */
      fail_unless (nonblocking && g_error_matches (error, G_IO_ERROR,
              G_IO_ERROR_WOULD_BLOCK), "%s", error->message);
      g_error_free (error);
      fail_unless (++would_block < 100000, "never ends");
      continue;
    }
    if (n == 0) {
      r.eof = TRUE;
      break;
    }
    g_byte_array_append (r.got, buf, n);
  }
  fail_unless (g_io_stream_close (limited, NULL, NULL));
  fail_unless (g_io_stream_is_closed (base));
  g_object_unref (limited);
  g_object_unref (base);
  g_object_unref (mem);
  g_object_unref (sink);
  return r;
}

/* What passed is the first @cut bytes of @wire, and maybe the first bytes
 * of the offending frame's header when a read ended inside it (less than
 * a header: libsoup can do nothing with them). */
static void
assert_cut (const ReadResult * r, GByteArray * wire, guint cut)
{
  fail_unless (r->got->len >= cut && r->got->len < cut + 14,
      "%u bytes passed, the cut is at %u", r->got->len, cut);
  fail_unless (memcmp (r->got->data, wire->data, r->got->len) == 0,
      "the bytes differ");
}

/* Messages up to the limit, fragmented at random with pings between the
 * fragments: everything passes, byte for byte, in any read pattern. */
GST_START_TEST (test_under_the_limit_passes)
{
  guint32 seed = g_random_int ();
  GRand *rand = g_rand_new_with_seed (seed);
  guint round;

  GST_INFO ("seed %u", seed);
  for (round = 0; round < 40; round++) {
    GByteArray *wire = g_byte_array_new ();
    guint i, pings = OTC_WS_LIMIT_CONTROL_BURST;
    ReadResult r;

    for (i = 0; i < 12; i++)
      add_message (wire, i == 0 ? LIMIT : g_rand_int_range (rand, 0, LIMIT),
          rand, &pings);
    r = read_through (wire, round % 2, rand);
    fail_unless_equals_int (r.got->len, wire->len);
    fail_unless (memcmp (r.got->data, wire->data, wire->len) == 0,
        "seed %u round %u: the bytes differ", seed, round);
    fail_unless_equals_int (r.refused, 0);
    g_byte_array_unref (r.got);
    g_byte_array_unref (wire);
  }
  g_rand_free (rand);
}

GST_END_TEST;

/* A message one byte over the limit, in random fragments, after messages
 * that fit: those pass whole, nothing of the frame that passes the limit
 * does, the owner hears once, and the input ends at the close frame that
 * follows (what comes after it is not read). */
GST_START_TEST (test_over_the_limit_cut_at_the_header)
{
  guint32 seed = g_random_int ();
  GRand *rand = g_rand_new_with_seed (seed);
  guint round;

  GST_INFO ("seed %u", seed);
  for (round = 0; round < 40; round++) {
    GByteArray *wire = g_byte_array_new ();
    guint i, cut, pings = OTC_WS_LIMIT_CONTROL_BURST - 2;
    ReadResult r;

    for (i = 0; i < 3; i++)
      add_message (wire, g_rand_int_range (rand, 0, LIMIT + 1), rand, &pings);
    /* LIMIT bytes in fragments, then a one-byte fragment: the cut is at
     * its header */
    add_frame (wire, FALSE, 2, LIMIT / 2, rand);
    add_frame (wire, TRUE, 9, 5, rand);
    add_frame (wire, FALSE, 0, LIMIT / 2, rand);
    cut = wire->len;
    add_frame (wire, TRUE, 0, 1, rand);
    /* more data, the client's close, then bytes never to be read */
    add_frame (wire, TRUE, 1, 100, rand);
    add_frame (wire, TRUE, 8, 2, rand);
    add_frame (wire, TRUE, 1, 50, rand);
    r = read_through (wire, round % 2, rand);
    assert_cut (&r, wire, cut);
    fail_unless_equals_int (r.refused, 1);
    fail_unless_equals_int (r.code, 1009);
    fail_unless (r.eof);
    g_byte_array_unref (r.got);
    g_byte_array_unref (wire);
  }
  g_rand_free (rand);
}

GST_END_TEST;

/* Single frames: one announcing 2^63 bytes, one of LIMIT + 1, both cut at
 * their first byte; after the cut, a client that never sends its close
 * frame: the input ends once the limit's worth more is dropped. */
GST_START_TEST (test_single_frames_and_no_close)
{
  GRand *rand = g_rand_new_with_seed (7);
  guint k;

  for (k = 0; k < 2; k++) {
    GByteArray *wire = g_byte_array_new ();
    ReadResult r;
    guint i;

    add_frame (wire, TRUE, 1, 10, rand);
    if (k == 0) {
      const guint8 huge[14] = { 0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 1, 2, 3, 4
      };
      g_byte_array_append (wire, huge, sizeof (huge));
    } else {
      add_frame (wire, TRUE, 1, LIMIT + 1, rand);
    }
    for (i = 0; i < 10; i++)
      add_frame (wire, TRUE, 1, LIMIT / 2, rand);
    r = read_through (wire, k, rand);
    /* 10 bytes of payload, 2 of header, 4 of mask */
    assert_cut (&r, wire, 16);
    fail_unless_equals_int (r.refused, 1);
    fail_unless (r.eof);
    g_byte_array_unref (r.got);
    g_byte_array_unref (wire);
  }
  g_rand_free (rand);
}

GST_END_TEST;

/* Frames a client may not send (1002) and a flood of control frames
 * (1008): cut at their header like an oversized message; then, after
 * stop_input, everything is dropped up to the close frame. */
GST_START_TEST (test_refused_frames)
{
  GRand *rand = g_rand_new_with_seed (11);
  const struct
  {
    const gchar *what;
    guint8 b0, b1;
    gushort code;
  } bad[] = {
    {"unmasked", 0x81, 0x02, 1002},
    {"RSV1", 0xc1, 0x82, 1002},
    {"RSV3", 0x91, 0x82, 1002},
    {"opcode 3", 0x83, 0x82, 1002},
    {"opcode 11", 0x8b, 0x82, 1002},
    {"fragmented ping", 0x09, 0x82, 1002},
    {"ping of 126 bytes", 0x89, 0x80 | 126, 1002},
  };
  guint k, i;

  for (k = 0; k < G_N_ELEMENTS (bad); k++) {
    GByteArray *wire = g_byte_array_new ();
    guint8 rest[10] = { 0, 126, 1, 2, 3, 4, 'h', 'i', 0, 0 };
    guint cut;
    ReadResult r;

    add_frame (wire, TRUE, 1, 30, rand);
    cut = wire->len;
    g_byte_array_append (wire, &bad[k].b0, 1);
    g_byte_array_append (wire, &bad[k].b1, 1);
    /* the rest of that header and 2 bytes: 16-bit length, mask */
    g_byte_array_append (wire, (bad[k].b1 & 0x7f) == 126 ? rest : rest + 2,
        (bad[k].b1 & 0x7f) == 126 ? 8 : ((bad[k].b1 & 0x80) ? 6 : 2));
    add_frame (wire, TRUE, 1, 40, rand);
    add_frame (wire, TRUE, 8, 2, rand);
    add_frame (wire, TRUE, 1, 40, rand);
    r = read_through (wire, k % 2, rand);
    assert_cut (&r, wire, cut);
    fail_unless_equals_int (r.refused, 1);
    fail_unless_equals_int (r.code, bad[k].code);
    fail_unless (r.eof, "%s", bad[k].what);
    g_byte_array_unref (r.got);
    g_byte_array_unref (wire);
  }

  /* control frames: the burst passes, the next one does not */
  for (k = 0; k < 2; k++) {
    GByteArray *wire = g_byte_array_new ();
    guint cut = 0;
    ReadResult r;

    for (i = 0; i < OTC_WS_LIMIT_CONTROL_BURST + 5; i++) {
      add_frame (wire, TRUE, 1, 3, rand);
      cut = i == OTC_WS_LIMIT_CONTROL_BURST ? wire->len : cut;
      add_frame (wire, TRUE, k ? 10 : 9, 125, rand);
    }
    r = read_through (wire, k, rand);
    assert_cut (&r, wire, cut);
    fail_unless_equals_int (r.refused, 1);
    fail_unless_equals_int (r.code, 1008);
    g_byte_array_unref (r.got);
    g_byte_array_unref (wire);
  }
  /* data messages: the burst passes, the next one does not */
  {
    GByteArray *wire = g_byte_array_new ();
    guint cut = 0;
    ReadResult r;

    for (i = 0; i < OTC_WS_LIMIT_MESSAGE_BURST + 3; i++) {
      if (i == OTC_WS_LIMIT_MESSAGE_BURST)
        cut = wire->len;
      add_frame (wire, TRUE, 1, 2, rand);
    }
    r = read_through (wire, TRUE, rand);
    assert_cut (&r, wire, cut);
    fail_unless_equals_int (r.refused, 1);
    fail_unless_equals_int (r.code, 1008);
    g_byte_array_unref (r.got);
    g_byte_array_unref (wire);
  }
  g_rand_free (rand);
}

GST_END_TEST;

/* stop_input: from then on nothing passes, the client's close frame ends
 * the stream; the owner is not called. */
GST_START_TEST (test_stop_input)
{
  GRand *rand = g_rand_new_with_seed (5);
  GByteArray *wire = g_byte_array_new ();
  GInputStream *mem;
  GOutputStream *sink = g_memory_output_stream_new_resizable ();
  GIOStream *base, *limited;
  GInputStream *in;
  guint8 buf[4096];
  gsize head_len;
  gssize n;
  ReadResult r = { NULL, FALSE, 0, 0 };

  add_frame (wire, TRUE, 1, 100, rand);
  head_len = wire->len;
  add_frame (wire, TRUE, 1, 100, rand);
  add_frame (wire, TRUE, 8, 2, rand);
  add_frame (wire, TRUE, 1, 100, rand);
  mem = g_memory_input_stream_new_from_data (g_memdup2 (wire->data,
          wire->len), wire->len, g_free);
  base = g_simple_io_stream_new (mem, sink);
  limited = otc_ws_limit_stream_new (base, LIMIT);
  otc_ws_limit_stream_set_refused_func (OTC_WS_LIMIT_STREAM (limited),
      on_refused, &r);
  in = g_io_stream_get_input_stream (limited);
  n = g_input_stream_read (in, buf, head_len, NULL, NULL);
  fail_unless_equals_int (n, head_len);
  otc_ws_limit_stream_stop_input (OTC_WS_LIMIT_STREAM (limited));
  n = g_input_stream_read (in, buf, sizeof (buf), NULL, NULL);
  fail_unless_equals_int (n, 0);
  fail_unless_equals_int (r.refused, 0);
  g_object_unref (limited);
  g_object_unref (base);
  g_object_unref (mem);
  g_object_unref (sink);
  g_byte_array_unref (wire);
  g_rand_free (rand);
}

GST_END_TEST;

static Suite *
ws_limit_suite (void)
{
  Suite *s = suite_create ("otc-router-ws-limit");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_under_the_limit_passes);
  tcase_add_test (tc, test_over_the_limit_cut_at_the_header);
  tcase_add_test (tc, test_single_frames_and_no_close);
  tcase_add_test (tc, test_refused_frames);
  tcase_add_test (tc, test_stop_input);
  return s;
}

GST_CHECK_MAIN (ws_limit);
