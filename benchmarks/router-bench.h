/* otc-router-bench: a real otc-router process forwarding one E2EE
 * publisher to N webrtcbin subscribers on loopback. What the files share:
 *
 *   router-bench-router.c  the router process: start, stop, /proc samples;
 *                          REST session and tokens
 *   router-bench-peer.c    signalling over WebSocket and webrtcbin peers,
 *                          with the probes that time and count packets
 *   otc-router-bench.c     the phases, the tables, the targets
 *
 * docs/performance.md ("Router forwarding") quotes the output. */
#pragma once

#define GST_USE_UNSTABLE_API
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <time.h>

G_BEGIN_DECLS
/* CLOCK_MONOTONIC in nanoseconds: the publisher's and the subscribers'
 * probes run in this process, so their stamps compare directly. */
static inline gint64
router_bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* the router process */

typedef struct
{
  GPid pid;
  gint out_fd;
  gchar *url;
  gchar *api_key;
  gchar *api_secret;
  gchar *state_dir;
} BenchRouter;

/* What /proc says about a process at one moment. */
typedef struct
{
  gint64 when_ns;               /* router_bench_now_ns () */
  guint64 cpu_ticks;            /* utime + stime, /proc/PID/stat */
  guint64 schedstat_ns;         /* sum of /proc/PID/task/T/schedstat */
  guint64 rss_kb;               /* VmRSS, /proc/PID/status */
  guint threads;
} BenchProcSample;

/* @subscriber_transport: otc-router's --subscriber-transport, NULL for its
 * default */
BenchRouter *bench_router_start (const gchar * path,
    const gchar * subscriber_transport, GError ** error);
/* SIGTERM, bounded wait; the exit status (-1: killed after the wait). */
gint bench_router_stop (BenchRouter * router);
gboolean bench_proc_sample (GPid pid, BenchProcSample * sample);

/* Per thread: "tid" -> BenchThreadTime, from /proc/PID/task/T/stat. */
typedef struct
{
  gchar *comm;
  guint64 cpu_ticks;
} BenchThreadTime;

GHashTable *bench_proc_thread_times (GPid pid);

/* POST /session/create (e2ee=true); the session id. */
gchar *bench_router_create_session (BenchRouter * router, GError ** error);
gchar *bench_router_client_token (BenchRouter * router,
    const gchar * session_id, const gchar * role);

/* ------------------------------------------------------------------------ */
/* what the probes record */

typedef enum
{
  BENCH_KIND_VIDEO,
  BENCH_KIND_AUDIO,
  BENCH_N_KINDS,
} BenchKind;

#define BENCH_VIDEO_PT 96
#define BENCH_AUDIO_PT 111

/* Where packets are timed:
 * - WIRE: leaving the publisher's nicesink (to the socket) and leaving the
 *   subscriber's nicesrc (from the socket): loopback and the router;
 * - APP: entering the publisher's webrtcbin (sink pad) and leaving the
 *   subscriber's webrtcbin (src pad): also both clients' webrtcbins. */
typedef enum
{
  BENCH_POINT_WIRE,
  BENCH_POINT_APP,
  BENCH_N_POINTS,
} BenchPoint;

/* Shared by the publisher's probes (writers) and the subscribers'
 * (readers): when each RTP packet passed each point of the publisher, by
 * payload type and sequence number; and the measurement window. */
typedef struct
{
  GMutex lock;
  gint64 sent_ns[BENCH_N_POINTS][BENCH_N_KINDS][65536];
  guint32 ssrc[BENCH_N_KINDS];
  gint measuring;               /* atomic */
  guint64 sent_packets[BENCH_N_KINDS];  /* in the window */
  guint64 sent_bytes[BENCH_N_KINDS];    /* in the window, RTP */
} BenchSendLog;

/* ------------------------------------------------------------------------ */
/* peers */

typedef struct _BenchClient BenchClient;
typedef struct _BenchPeer BenchPeer;

/* One WebSocket signalling connection, connected with @token; NULL with
 * @error on failure. Runs the default main context while waiting. */
BenchClient *bench_client_open (BenchRouter * router, const gchar * token,
    GError ** error);
void bench_client_free (BenchClient * client);

typedef struct
{
  const gchar *session_id;
  const gchar *secret;
  guint width, height, fps;
  guint video_bitrate;          /* bit/s */
  guint audio_bitrate;
} BenchMediaConfig;

/* A publisher of VP8 + Opus through otcencrypt: through the router
 * (@client) or, with @client NULL, to a subscriber made later by
 * bench_peer_subscribe_direct(). */
BenchPeer *bench_peer_publish (BenchClient * client,
    const BenchMediaConfig * config, BenchSendLog * log, GError ** error);
/* A subscriber to @stream_id through the router. */
BenchPeer *bench_peer_subscribe (BenchClient * client,
    const gchar * stream_id, const BenchMediaConfig * config,
    BenchSendLog * log, GError ** error);
/* A subscriber that @publisher (made with client NULL) connects to
 * directly, without a router: the baseline. */
BenchPeer *bench_peer_subscribe_direct (BenchPeer * publisher,
    const BenchMediaConfig * config, BenchSendLog * log, GError ** error);

/* The publisher's stream id once the router answered, else NULL. */
const gchar *bench_peer_get_stream_id (BenchPeer * peer);
/* webrtcbin's connection-state is connected. */
gboolean bench_peer_connected (BenchPeer * peer);
/* A subscriber has received RTP on both kinds. */
gboolean bench_peer_receiving (BenchPeer * peer);
/* A subscriber's window: packets received and their latency. */
void bench_peer_reset_window (BenchPeer * peer);
guint64 bench_peer_window_packets (BenchPeer * peer, BenchKind kind);
/* Appends the window's latencies of @kind at @point (ns, gint64) to @out;
 * returns how many packets had no send stamp. */
guint64 bench_peer_window_latencies (BenchPeer * peer, BenchPoint point,
    BenchKind kind, GArray * out);
/* otcdecrypt stats summed over a subscriber's two decryptors. */
void bench_peer_decrypt_stats (BenchPeer * peer, guint64 * frames_out,
    guint64 * auth_failed);
void bench_peer_free (BenchPeer * peer);

/* Runs the default main context until @done (or the timeout; FALSE). */
gboolean bench_iterate_until (gboolean (*done) (gpointer), gpointer data,
    guint timeout_ms);
/* Runs the default main context for @ms. */
void bench_iterate_for (guint ms);

G_END_DECLS
