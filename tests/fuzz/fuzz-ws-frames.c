/* libFuzzer target: the router's WebSocket message limit
 * (ext/router/otc-router-ws-limit.c), which reads the frame headers a
 * client sends before libsoup does.
 *
 * The first input byte seeds the sizes of the reads; the rest is what the
 * client sends. It is read through the limit (1,024 bytes per message)
 * with non-blocking reads of those sizes, and checked against a model
 * that parses the whole input at once: what passes is a prefix of the
 * input; without a frame to refuse (a message over the limit, a frame a
 * client may not send, a control frame past the burst) it is all of it;
 * with one, it ends at that frame's header (or inside it, where a read
 * ended) and the owner is told exactly once; the stream always ends. */
#include <string.h>

#include "fuzz-common.h"
#include "otc-router-ws-limit.h"

#define LIMIT 1024

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  return 0;
}

/* The model: the offset of the header of the first frame that takes its
 * message past LIMIT, or -1. */
static gssize
model_cut (const guint8 * p, gsize len)
{
  gsize off = 0;
  guint64 total = 0;
  guint controls = 0, messages = 0;

  while (off + 2 <= len) {
    guint8 b0 = p[off], b1 = p[off + 1];
    guint len7 = b1 & 0x7f, ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    gsize hsize = 2 + ext + ((b1 & 0x80) ? 4 : 0), i;
    guint64 plen = len7;
    guint opcode = b0 & 0x0f;

    if (off + hsize > len)
      return -1;
    if (ext) {
      plen = 0;
      for (i = 0; i < ext; i++)
        plen = (plen << 8) | p[off + 2 + i];
    }
    /* frames a client may not send; control frames past the burst (the
     * bucket refills 5 a second: nothing within one input) */
    if (!(b1 & 0x80) || (b0 & 0x70) || (opcode > 2 && opcode < 8)
        || opcode > 10 || ((opcode & 0x08) && (!(b0 & 0x80) || plen > 125))
        || ((opcode & 0x08) && ++controls > OTC_WS_LIMIT_CONTROL_BURST))
      return off;
    if (!(opcode & 0x08)) {
      if (opcode != 0)
        total = 0;
      if (plen > LIMIT || total + plen > LIMIT)
        return off;
      total = (b0 & 0x80) ? 0 : total + plen;
      if ((b0 & 0x80) && ++messages > OTC_WS_LIMIT_MESSAGE_BURST)
        return off;
    }
    if (plen > len - off - hsize)
      return -1;
    off += hsize + plen;
  }
  return -1;
}

static void
on_refused (gpointer user_data, gushort code, const gchar * reason)
{
  (*(guint *) user_data)++;
  FUZZ_CHECK (code == 1002 || code == 1008 || code == 1009);
}

int
LLVMFuzzerTestOneInput (const guint8 * data, size_t size)
{
  GInputStream *mem;
  GOutputStream *sink;
  GIOStream *base, *limited;
  GPollableInputStream *in;
  guint32 state;
  guint8 buf[4096];
  GByteArray *got;
  guint refused = 0, spins = 0;
  gssize cut;
  const guint8 *wire;
  gsize len;

  if (size < 1)
    return 0;
  state = data[0] * 2654435761u + 1;
  wire = data + 1;
  len = size - 1;
  mem = g_memory_input_stream_new_from_data (fuzz_dup (wire, len), len,
      g_free);
  sink = g_memory_output_stream_new_resizable ();
  base = g_simple_io_stream_new (mem, sink);
  limited = otc_ws_limit_stream_new (base, LIMIT);
  otc_ws_limit_stream_set_refused_func (OTC_WS_LIMIT_STREAM (limited),
      on_refused, &refused);
  in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (limited));
  got = g_byte_array_new ();
  for (;;) {
    GError *error = NULL;
    gsize want;
    gssize n;

    state = state * 1103515245u + 12345u;
    want = 1 + (state >> 16) % ((state & 1) ? 16 : sizeof (buf));
    n = g_pollable_input_stream_read_nonblocking (in, buf, want, NULL,
        &error);
    if (n < 0) {
      FUZZ_CHECK (g_error_matches (error, G_IO_ERROR,
              G_IO_ERROR_WOULD_BLOCK));
      g_error_free (error);
      /* dropped input: each such read consumes some of it */
      FUZZ_CHECK (++spins <= len + 1);
      continue;
    }
    if (n == 0)
      break;
    FUZZ_CHECK ((gsize) n <= want);
    g_byte_array_append (got, buf, n);
  }

  FUZZ_CHECK (got->len <= len && (got->len == 0
          || memcmp (got->data, wire, got->len) == 0));
  cut = model_cut (wire, len);
  if (cut < 0) {
    FUZZ_CHECK (refused == 0);
    FUZZ_CHECK (got->len == len);
  } else {
    FUZZ_CHECK (refused == 1);
    FUZZ_CHECK (got->len >= (gsize) cut && got->len < (gsize) cut + 14);
  }

  g_byte_array_unref (got);
  FUZZ_CHECK (g_io_stream_close (limited, NULL, NULL));
  g_object_unref (limited);
  g_object_unref (base);
  g_object_unref (mem);
  g_object_unref (sink);
  return 0;
}
