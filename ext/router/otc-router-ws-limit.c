/* A limit on whole WebSocket messages, under libsoup.
 *
 * libsoup 3.2 (Debian 12) limits the payload of one frame
 * (max-incoming-payload-size) but gathers the frames of a fragmented
 * message with no limit on their total: a client that sends one message as
 * endless continuation frames, never finished, makes the router hold all of
 * it (64 MiB sent, 64 MiB more RSS). libsoup >= 3.6 has
 * max-total-message-size; until then this stream sits between the socket
 * and libsoup's WebSocket connection on the router's side. It reads the
 * frame headers as they pass (RFC 6455 section 5.2: a header is 2 to 14
 * bytes, then the payload), adds up the payload of the current data message
 * and, once it passes the limit, holds back that frame and everything after
 * it and tells its owner (otc_ws_limit_stream_set_refused_func), which
 * closes the connection with 1009 (libsoup's own per-frame limit would drop
 * the TCP connection without a close frame). From then on what the client
 * sends is read and dropped, until its close frame or the end of the
 * stream, which is passed on as the end of the stream (as is the limit's
 * worth of bytes more: a client that goes on sending is not waited for).
 * The bytes before
 * the offending frame's header are delivered first, so complete messages
 * ahead of it are not lost (and, when a read ended inside that header, its
 * first bytes: an incomplete header, which libsoup can do nothing with).
 *
 * The same goes, with other close codes, for what libsoup 3.2 handles
 * badly (found by review): frames a client may not send (unmasked,
 * reserved bits or opcodes, long or fragmented control frames: 1002;
 * libsoup would queue its close, keep failing on that frame and append
 * everything that follows to its buffer, without bound) and a flood of
 * control frames (more than OTC_WS_LIMIT_CONTROL_BURST at once, refilled
 * at OTC_WS_LIMIT_CONTROL_PER_SECOND a second, or 64 KiB of them while the
 * socket takes no more: 1008; libsoup answers every ping with a pong that
 * it queues without limit, and stays in its read loop while they come),
 * and as much for data messages past OTC_WS_LIMIT_MESSAGE_BURST at once,
 * then OTC_WS_LIMIT_MESSAGES_PER_SECOND a second (1008: the router would
 * spend its main loop on that one client).
 * And once the connection leaves the open state for any reason, the owner
 * calls otc_ws_limit_stream_stop_input(): what arrives then is dropped the
 * same way.
 *
 * Writing goes straight to the socket's stream. Only the incoming side is
 * wrapped; libsoup needs it pollable, so it is. */
#include "otc-router-ws-limit.h"

#include <libsoup/soup.h>

/* ---- the input stream ---- */

#define OTC_TYPE_WS_LIMIT_INPUT (otc_ws_limit_input_get_type ())
G_DECLARE_FINAL_TYPE (OtcWsLimitInput, otc_ws_limit_input, OTC,
    WS_LIMIT_INPUT, GInputStream)

/* A token bucket: @burst at once, refilled at @per_second. */
typedef struct
{
  gdouble tokens;
  gint64 last;                  /* monotonic time of the last refill */
  guint burst, per_second;
} Bucket;

static void
bucket_init (Bucket * b, guint burst, guint per_second)
{
  b->tokens = burst;
  b->last = g_get_monotonic_time ();
  b->burst = burst;
  b->per_second = per_second;
}

static gboolean
bucket_take (Bucket * b)
{
  gint64 now = g_get_monotonic_time ();

  b->tokens = MIN ((gdouble) b->burst, b->tokens + (now - b->last) *
      (gdouble) b->per_second / G_USEC_PER_SEC);
  b->last = now;
  if (b->tokens < 1)
    return FALSE;
  b->tokens -= 1;
  return TRUE;
}

struct _OtcWsLimitInput
{
  GInputStream parent;

  GInputStream *base;           /* pollable */
  guint64 max_message;

  guint8 header[14];
  guint header_len;
  guint64 payload_left;         /* of the current frame */
  guint64 message_total;        /* payload of the current data message */
  gboolean refused;             /* the limit was passed: input is dropped */
  gboolean peer_closed;         /* refused, and the client's close came,
                                 * or it went on sending */
  guint64 dropped;              /* bytes dropped since refused */
  OtcWsLimitRefusedFunc refused_func;
  gpointer refused_data;

  GPollableOutputStream *output;        /* the socket's, not a ref */
  Bucket control;               /* control frames */
  Bucket messages;              /* data messages */
  guint64 control_stuck;        /* control bytes while output is full */
};

static void otc_ws_limit_input_pollable_init (GPollableInputStreamInterface *
    iface);

G_DEFINE_TYPE_WITH_CODE (OtcWsLimitInput, otc_ws_limit_input,
    G_TYPE_INPUT_STREAM, G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
        otc_ws_limit_input_pollable_init));

static void
set_would_block (GError ** error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
      "input dropped after a refused frame");
}

/* Bytes of a header whose first @n bytes are in self->header: 2 until the
 * second byte is known. */
static guint
header_size (const OtcWsLimitInput * self)
{
  guint len7, size = 2;

  if (self->header_len < 2)
    return 2;
  len7 = self->header[1] & 0x7f;
  size += len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  size += (self->header[1] & 0x80) ? 4 : 0;
  return size;
}

/* The payload length of the whole header in self->header. */
static guint64
header_payload (const OtcWsLimitInput * self)
{
  guint len7 = self->header[1] & 0x7f, i, n = len7 == 126 ? 2 : 8;
  guint64 len = 0;

  if (len7 < 126)
    return len7;
  for (i = 0; i < n; i++)
    len = (len << 8) | self->header[2 + i];
  return len;
}

/* Control frames: a token bucket, and what they bring while the socket
 * takes nothing (each ping makes libsoup queue a pong). */
static gboolean
control_allowed (OtcWsLimitInput * self, guint64 len)
{
  if (!bucket_take (&self->control))
    return FALSE;
  if (self->output == NULL
      || g_pollable_output_stream_is_writable (self->output))
    self->control_stuck = 0;
  else
    self->control_stuck += 2 + len;
  return self->control_stuck <= 64 * 1024;
}

/* A whole header is in self->header: start its payload, count it.
 * Returns 0, or the close code of a frame that may not pass (then
 * @reason says why). */
static gushort
header_done (OtcWsLimitInput * self, const gchar ** reason)
{
  guint opcode = self->header[0] & 0x0f;
  gboolean fin = (self->header[0] & 0x80) != 0;
  guint64 len = header_payload (self);

  self->payload_left = len;
  self->header_len = 0;
  /* RFC 6455 5.1-5.5: a client masks every frame; no extension is
   * negotiated, so no reserved bit; opcodes 0-2 and 8-10 only; control
   * frames are whole and at most 125 bytes */
  if (!(self->header[1] & 0x80) || (self->header[0] & 0x70)
      || (opcode > 2 && opcode < 8) || opcode > 10
      || ((opcode & 0x08) && (!fin || len > 125))) {
    *reason = "protocol error";
    return SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR;
  }
  if (opcode & 0x08) {          /* control frames: within a message, apart */
    if (control_allowed (self, len))
      return 0;
    *reason = "too many control frames";
    return SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION;
  }
  if (opcode != 0)              /* text or binary: a new message */
    self->message_total = 0;
  if (len > self->max_message - MIN (self->max_message, self->message_total)) {
    *reason = "message too big";
    return SOUP_WEBSOCKET_CLOSE_TOO_BIG;
  }
  self->message_total += len;
  if (!fin)
    return 0;
  self->message_total = 0;
  /* a client that sends messages faster than anyone needs would keep
   * libsoup's read loop, and so the router, busy */
  if (!bucket_take (&self->messages)) {
    *reason = "too many messages";
    return SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION;
  }
  return 0;
}

/* Follows the frames in @data. Returns how many of its bytes may go to
 * libsoup: all of them, or those before the header of a frame that takes
 * its message past the limit (then self->refused), or none once refused. */
static gsize
account (OtcWsLimitInput * self, const guint8 * data, gsize n)
{
  gsize i = 0, header_start = 0, deliver = 0;

  while (i < n && !self->peer_closed) {
    if (self->payload_left > 0) {
      guint64 take = MIN ((guint64) (n - i), self->payload_left);

      self->payload_left -= take;
      i += take;
      continue;
    }
    if (self->header_len == 0)
      header_start = i;
    self->header[self->header_len++] = data[i++];
    if (self->header_len < header_size (self))
      continue;
    if (self->refused) {
      /* only a close frame matters now: it ends the input */
      self->peer_closed = (self->header[0] & 0x0f) == 0x08;
      self->payload_left = header_payload (self);
      self->header_len = 0;
    } else {
      const gchar *reason = NULL;
      gushort code = header_done (self, &reason);

      if (code != 0) {
        self->refused = TRUE;
        deliver = header_start;
        if (self->refused_func)
          self->refused_func (self->refused_data, code, reason);
      }
    }
  }
  if (!self->refused)
    return n;
  /* a client that goes on sending after the limit (it has the 1009 close
   * frame by then, or does not read): the input ends */
  self->dropped += n - deliver;
  if (self->dropped > self->max_message)
    self->peer_closed = TRUE;
  return deliver;
}

/* What a read of @n bytes (or an error, n < 0) from the base gives libsoup:
 * bytes, the end of the stream, or (dropped input) "would block". */
static gssize
after_read (OtcWsLimitInput * self, const guint8 * buffer, gssize n,
    GError ** error)
{
  gsize ok;

  if (n <= 0)
    return n;
  ok = account (self, buffer, n);
  if (ok > 0 || self->peer_closed)
    return ok;
  set_would_block (error);
  return -1;
}

static gssize
input_read (GInputStream * stream, void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  OtcWsLimitInput *self = OTC_WS_LIMIT_INPUT (stream);

  for (;;) {
    gssize n;

    if (self->peer_closed)
      return 0;
    n = g_input_stream_read (self->base, buffer, count, cancellable, error);
    if (n <= 0)
      return n;
    n = account (self, buffer, n);
    if (n > 0 || self->peer_closed)
      return n;
    /* dropped: a blocking read waits for more */
  }
}

static gssize
input_read_nonblocking (GPollableInputStream * stream, void *buffer,
    gsize count, GError ** error)
{
  OtcWsLimitInput *self = OTC_WS_LIMIT_INPUT (stream);

  if (self->peer_closed)
    return 0;
  return after_read (self, buffer,
      g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM
          (self->base), buffer, count, NULL, error), error);
}

static gboolean
input_can_poll (GPollableInputStream * stream)
{
  OtcWsLimitInput *self = OTC_WS_LIMIT_INPUT (stream);

  return G_IS_POLLABLE_INPUT_STREAM (self->base)
      && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM
      (self->base));
}

static gboolean
input_is_readable (GPollableInputStream * stream)
{
  OtcWsLimitInput *self = OTC_WS_LIMIT_INPUT (stream);

  return self->peer_closed || g_pollable_input_stream_is_readable
      (G_POLLABLE_INPUT_STREAM (self->base));
}

static GSource *
input_create_source (GPollableInputStream * stream, GCancellable * cancellable)
{
  OtcWsLimitInput *self = OTC_WS_LIMIT_INPUT (stream);
  GSource *child, *source;

  child = self->peer_closed ? g_timeout_source_new (0) :
      g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM
      (self->base), cancellable);
  /* the callback is told about this stream, not the base */
  source = g_pollable_source_new_full (stream, child, cancellable);
  g_source_unref (child);
  return source;
}

static gboolean
input_close (GInputStream * stream, GCancellable * cancellable,
    GError ** error)
{
  /* the socket is closed with the GIOStream */
  return TRUE;
}

static void
otc_ws_limit_input_finalize (GObject * object)
{
  OtcWsLimitInput *self = OTC_WS_LIMIT_INPUT (object);

  g_object_unref (self->base);
  G_OBJECT_CLASS (otc_ws_limit_input_parent_class)->finalize (object);
}

static void
otc_ws_limit_input_pollable_init (GPollableInputStreamInterface * iface)
{
  iface->can_poll = input_can_poll;
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void
otc_ws_limit_input_class_init (OtcWsLimitInputClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = otc_ws_limit_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = input_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = input_close;
}

static void
otc_ws_limit_input_init (OtcWsLimitInput * self)
{
}

/* ---- the GIOStream ---- */

struct _OtcWsLimitStream
{
  GIOStream parent;

  GIOStream *base;
  GInputStream *input;
};

enum
{
  PROP_0,
  PROP_BASE_IOSTREAM,
};

G_DEFINE_TYPE (OtcWsLimitStream, otc_ws_limit_stream, G_TYPE_IO_STREAM);

static GInputStream *
stream_get_input (GIOStream * io)
{
  return OTC_WS_LIMIT_STREAM (io)->input;
}

static GOutputStream *
stream_get_output (GIOStream * io)
{
  return g_io_stream_get_output_stream (OTC_WS_LIMIT_STREAM (io)->base);
}

static gboolean
stream_close (GIOStream * io, GCancellable * cancellable, GError ** error)
{
  OtcWsLimitStream *self = OTC_WS_LIMIT_STREAM (io);

  g_input_stream_close (self->input, NULL, NULL);
  return g_io_stream_close (self->base, cancellable, error);
}

static void
base_closed (GObject * source, GAsyncResult * res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (source), res, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

/* the base's own asynchronous close, not GIOStream's default (the
 * blocking close on a worker thread) */
static void
stream_close_async (GIOStream * io, int io_priority,
    GCancellable * cancellable, GAsyncReadyCallback callback,
    gpointer user_data)
{
  OtcWsLimitStream *self = OTC_WS_LIMIT_STREAM (io);
  GTask *task = g_task_new (io, cancellable, callback, user_data);

  g_input_stream_close (self->input, NULL, NULL);
  g_io_stream_close_async (self->base, io_priority, cancellable, base_closed,
      task);
}

static gboolean
stream_close_finish (GIOStream * io, GAsyncResult * res, GError ** error)
{
  return g_task_propagate_boolean (G_TASK (res), error);
}

static void
stream_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  OtcWsLimitStream *self = OTC_WS_LIMIT_STREAM (object);

  switch (prop_id) {
    case PROP_BASE_IOSTREAM:
      g_value_set_object (value, self->base);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
stream_finalize (GObject * object)
{
  OtcWsLimitStream *self = OTC_WS_LIMIT_STREAM (object);

  g_object_unref (self->input);
  g_object_unref (self->base);
  G_OBJECT_CLASS (otc_ws_limit_stream_parent_class)->finalize (object);
}

static void
otc_ws_limit_stream_class_init (OtcWsLimitStreamClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *io_class = G_IO_STREAM_CLASS (klass);

  object_class->finalize = stream_finalize;
  object_class->get_property = stream_get_property;
  io_class->get_input_stream = stream_get_input;
  io_class->get_output_stream = stream_get_output;
  io_class->close_fn = stream_close;
  io_class->close_async = stream_close_async;
  io_class->close_finish = stream_close_finish;
  /* what the router's stuck-client check unwraps to find the socket */
  g_object_class_install_property (object_class, PROP_BASE_IOSTREAM,
      g_param_spec_object ("base-iostream", "Base stream",
          "The stream this one reads from", G_TYPE_IO_STREAM,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
otc_ws_limit_stream_init (OtcWsLimitStream * self)
{
}

GIOStream *
otc_ws_limit_stream_new (GIOStream * base, guint64 max_message)
{
  OtcWsLimitStream *self;
  OtcWsLimitInput *input;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (max_message > 0, NULL);

  self = g_object_new (OTC_TYPE_WS_LIMIT_STREAM, NULL);
  self->base = g_object_ref (base);
  input = g_object_new (OTC_TYPE_WS_LIMIT_INPUT, NULL);
  input->base = g_object_ref (g_io_stream_get_input_stream (base));
  input->max_message = max_message;
  bucket_init (&input->control, OTC_WS_LIMIT_CONTROL_BURST,
      OTC_WS_LIMIT_CONTROL_PER_SECOND);
  bucket_init (&input->messages, OTC_WS_LIMIT_MESSAGE_BURST,
      OTC_WS_LIMIT_MESSAGES_PER_SECOND);
  if (G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (base)))
    input->output = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream
        (base));
  self->input = G_INPUT_STREAM (input);
  return G_IO_STREAM (self);
}

void
otc_ws_limit_stream_stop_input (OtcWsLimitStream * stream)
{
  OTC_WS_LIMIT_INPUT (stream->input)->refused = TRUE;
}

void
otc_ws_limit_stream_set_refused_func (OtcWsLimitStream * stream,
    OtcWsLimitRefusedFunc func, gpointer user_data)
{
  OtcWsLimitInput *input = OTC_WS_LIMIT_INPUT (stream->input);

  input->refused_func = func;
  input->refused_data = user_data;
}
