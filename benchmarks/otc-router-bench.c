/* otc-router-bench: what otc-router costs to forward one E2EE publisher to
 * N subscribers. The figures of docs/performance.md, "Router forwarding".
 *
 *   ninja -C build && build/benchmarks/otc-router-bench
 *
 * A real otc-router process (its own process, so that /proc gives its CPU
 * time and memory alone) and every client in this one: a publisher of VP8
 * (640x480, 30 fps, ~1 Mbit/s) and Opus through otcencrypt, and N webrtcbin
 * subscribers that decrypt what they get. Everything runs in a network
 * namespace where only loopback exists: the program re-executes itself
 * under tests/netns-run.sh.
 *
 * Phases: a direct publisher -> subscriber connection without a router
 * (the latency of two webrtcbins alone); then the router with the
 * publisher and no subscriber (the baseline of CPU and memory); then the
 * subscribers are added up to each N in turn. Each measurement is a window
 * of --seconds after --warmup seconds.
 *
 * Definitions (those of the Janus figures in the design notes):
 * - a forwarded stream is the publisher's audio + video going to one
 *   subscriber: N subscribers, N streams;
 * - router CPU per forwarded stream-second = (utime + stime of the router
 *   over the window) / (N x window seconds);
 * - router CPU per forwarded packet = the same CPU time / the RTP packets
 *   (audio + video) that all subscribers received in the window;
 * - memory per subscriber = (VmRSS with N subscribers - VmRSS with the
 *   publisher alone) / N;
 * - latency, wire to wire: from the packet going into the publisher's
 *   nicesink to it coming out of the subscriber's nicesrc (loopback twice
 *   and the router: what the router adds); webrtcbin to webrtcbin: from the
 *   publisher's webrtcbin sink pad to the subscriber's webrtcbin src pad
 *   (both clients' webrtcbins too). One clock: this process's.
 * The exit status is non-zero only when a measurement failed, not when a
 * target is missed. */
#ifdef HAVE_CONFIG_H
#include "bench-machine.h"
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "router-bench.h"

#ifndef OTC_PLUGIN_DIR
#error "OTC_PLUGIN_DIR must name the directory of the otce2ee plugin"
#endif
#ifndef OTC_ROUTER_PATH
#error "OTC_ROUTER_PATH must name the otc-router executable"
#endif
#ifndef OTC_NETNS_RUN
#error "OTC_NETNS_RUN must name tests/netns-run.sh"
#endif

#define NETNS_ENV "OTC_ROUTER_BENCH_NETNS"
#define SECRET "otc-router-bench secret"
#define MAX_SUBSCRIBERS 100

/* The targets (from the issue): Janus 1.1.2 under the same load, N = 20. */
#define TARGET_N 20
#define TARGET_CPU_PER_STREAM_MS 4.4
#define TARGET_CPU_PER_PACKET_US 29.0
#define TARGET_RSS_PER_SUB_MB 0.45
#define TARGET_P99_MS 5.0

static gint opt_seconds = 10;
static gint opt_warmup = 3;
static gchar *opt_subscribers = NULL;
static gboolean opt_no_direct = FALSE;
static gboolean opt_no_netns = FALSE;
static gchar *opt_perf = NULL;
static gchar *opt_router = NULL;
static gchar *opt_transport = NULL;
static gint opt_video_kbps = 1000;
static gint opt_client_nice = 10;

typedef struct
{
  gchar *label;
  guint n;                      /* subscribers */
  gboolean direct;
  gdouble wall_s;
  /* router, when there is one */
  gboolean have_router;
  gdouble cpu_ms;               /* utime + stime */
  gdouble sched_ms;             /* schedstat of live threads */
  guint64 rss_kb;
  guint threads;
  /* this process (the clients) */
  gdouble client_cpu_ms;
  /* packets */
  guint64 sent[BENCH_N_KINDS];
  guint64 sent_bytes[BENCH_N_KINDS];
  guint64 received[BENCH_N_KINDS];
  guint64 unstamped[BENCH_N_POINTS];
  GArray *latency[BENCH_N_POINTS];      /* gint64 ns, sorted */
  GArray *latency_kind[BENCH_N_POINTS][BENCH_N_KINDS];  /* ditto */
  gdouble sub_median_min_ms[BENCH_N_POINTS];
  gdouble sub_median_max_ms[BENCH_N_POINTS];
  /* per-thread CPU of the router over the window: comm -> ms */
  GHashTable *threads_ms;
} Window;

static void
window_free (Window * w)
{
  guint i, k;

  g_free (w->label);
  for (i = 0; i < BENCH_N_POINTS; i++) {
    if (w->latency[i])
      g_array_unref (w->latency[i]);
    for (k = 0; k < BENCH_N_KINDS; k++)
      if (w->latency_kind[i][k])
        g_array_unref (w->latency_kind[i][k]);
  }
  if (w->threads_ms)
    g_hash_table_unref (w->threads_ms);
  g_free (w);
}

/* ------------------------------------------------------------------------ */
/* helpers */

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest-rank percentile of sorted @v, in ms. */
static gdouble
percentile_ms (GArray * v, gdouble p)
{
  guint idx;

  if (v == NULL || v->len == 0)
    return NAN;
  idx = (guint) ceil (p * v->len);
  idx = idx == 0 ? 0 : idx - 1;
  if (idx >= v->len)
    idx = v->len - 1;
  return g_array_index (v, gint64, idx) / 1e6;
}

static gdouble
client_cpu_ms (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static gdouble
ticks_to_ms (guint64 ticks)
{
  return ticks * 1000.0 / sysconf (_SC_CLK_TCK);
}


static gchar *
load_average (void)
{
  gchar *text = NULL;
  gchar **parts;
  gchar *out;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("?");
  parts = g_strsplit (text, " ", 4);
  out = g_strdup_printf ("%s %s %s", parts[0], parts[1] ? parts[1] : "",
      parts[1] && parts[2] ? parts[2] : "");
  g_strfreev (parts);
  g_free (text);
  return out;
}

/* No interface but lo in this network namespace. */
static gboolean
only_loopback (void)
{
  struct if_nameindex *ifs = if_nameindex (), *i;
  gboolean only = TRUE;

  if (ifs == NULL)
    return FALSE;
  for (i = ifs; i->if_index != 0; i++)
    if (strcmp (i->if_name, "lo") != 0)
      only = FALSE;
  if_freenameindex (ifs);
  return only;
}

/* The nice value of process @pid (field 19 of /proc/PID/stat), or 99. */
static gint
proc_nice (GPid pid)
{
  gchar *path = g_strdup_printf ("/proc/%d/stat", (gint) pid);
  gchar *text = NULL;
  gint nice = 99;

  if (g_file_get_contents (path, &text, NULL, NULL)) {
    const gchar *p = strrchr (text, ')');
    gchar **fields = p ? g_strsplit (p + 2, " ", 20) : NULL;

    /* after the name: state is field 3, nice field 19 */
    if (fields && g_strv_length (fields) > 16)
      nice = atoi (fields[16]);
    g_strfreev (fields);
  }
  g_free (text);
  g_free (path);
  return nice;
}

/* Re-executes this program under tests/netns-run.sh; returns only if that
 * is not wanted or already done. */
static gboolean
ensure_loopback_namespace (gint argc, gchar ** argv)
{
  gchar *self;
  GPtrArray *args;
  gint i;

  if (opt_no_netns)
    return TRUE;
  if (only_loopback ())
    return TRUE;
  if (g_getenv (NETNS_ENV)) {
    g_printerr ("otc-router-bench: still not in a loopback-only network "
        "namespace after %s (run with --no-netns to measure anyway)\n",
        OTC_NETNS_RUN);
    return FALSE;
  }
  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self == NULL) {
    g_printerr ("otc-router-bench: cannot find my own executable\n");
    return FALSE;
  }
  g_setenv (NETNS_ENV, "1", TRUE);
  args = g_ptr_array_new ();
  g_ptr_array_add (args, (gpointer) OTC_NETNS_RUN);
  g_ptr_array_add (args, self);
  for (i = 1; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  execv (OTC_NETNS_RUN, (gchar **) args->pdata);
  g_printerr ("otc-router-bench: cannot run %s: %s\n", OTC_NETNS_RUN,
      g_strerror (errno));
  return FALSE;
}

/* Before gst_init: the build directory's plugin first, and a registry of
 * our own so that the user's cache never lists a build-tree plugin. The
 * router inherits both. */
static void
setup_plugin_path (void)
{
  const gchar *old = g_getenv ("GST_PLUGIN_PATH");
  gchar *path;

  if (old != NULL && *old != '\0')
    path = g_strconcat (OTC_PLUGIN_DIR, G_SEARCHPATH_SEPARATOR_S, old, NULL);
  else
    path = g_strdup (OTC_PLUGIN_DIR);
  g_setenv ("GST_PLUGIN_PATH", path, TRUE);
  g_free (path);
#ifdef OTC_BENCH_REGISTRY
  g_setenv ("GST_REGISTRY", OTC_BENCH_REGISTRY, FALSE);
#endif
}

/* ------------------------------------------------------------------------ */
/* measuring */

typedef struct
{
  BenchPeer **peers;
  guint n;
} PeerSet;

static gboolean
all_receiving (gpointer data)
{
  PeerSet *s = data;
  guint i;

  for (i = 0; i < s->n; i++)
    if (!bench_peer_receiving (s->peers[i]))
      return FALSE;
  return TRUE;
}

static gboolean
peer_connected (gpointer data)
{
  return bench_peer_connected (data);
}

static gboolean
has_stream_id (gpointer data)
{
  return bench_peer_get_stream_id (data) != NULL;
}

static GHashTable *
thread_delta_ms (GHashTable * before, GHashTable * after)
{
  GHashTable *groups = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, after);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    BenchThreadTime *a = value, *b = g_hash_table_lookup (before, key);
    guint64 ticks = a->cpu_ticks - (b ? b->cpu_ticks : 0);
    GString *group = g_string_new (NULL);
    const gchar *c;
    gdouble *ms;

    /* "sub12:sink_0" and "sub3:sink_0" are one group: drop digits */
    for (c = a->comm; *c; c++)
      if (!g_ascii_isdigit (*c))
        g_string_append_c (group, *c);
    ms = g_hash_table_lookup (groups, group->str);
    if (ms == NULL) {
      ms = g_new0 (gdouble, 2);
      g_hash_table_insert (groups, g_strdup (group->str), ms);
    }
    ms[0] += ticks_to_ms (ticks);
    ms[1] += 1;                 /* threads */
    g_string_free (group, TRUE);
  }
  return groups;
}

/* One window: packets and latency from the peers, CPU and memory of the
 * router (if @router). */
static Window *
measure (const gchar * label, BenchRouter * router, BenchPeer ** subs,
    guint n, BenchSendLog * log, gboolean with_threads)
{
  Window *w = g_new0 (Window, 1);
  BenchProcSample a, b;
  GHashTable *threads_a = NULL, *threads_b;
  gint64 t0, t1;
  gdouble c0;
  guint i, k, pt;

  w->label = g_strdup (label);
  w->n = n;
  w->have_router = router != NULL;
  for (i = 0; i < n; i++)
    bench_peer_reset_window (subs[i]);
  g_mutex_lock (&log->lock);
  memset (log->sent_packets, 0, sizeof (log->sent_packets));
  memset (log->sent_bytes, 0, sizeof (log->sent_bytes));
  g_mutex_unlock (&log->lock);

  if (router && with_threads)
    threads_a = bench_proc_thread_times (router->pid);
  if (router)
    bench_proc_sample (router->pid, &a);
  c0 = client_cpu_ms ();
  t0 = router_bench_now_ns ();
  g_atomic_int_set (&log->measuring, 1);
  bench_iterate_for (opt_seconds * 1000);
  g_atomic_int_set (&log->measuring, 0);
  t1 = router_bench_now_ns ();
  w->client_cpu_ms = client_cpu_ms () - c0;
  if (router) {
    bench_proc_sample (router->pid, &b);
    w->cpu_ms = ticks_to_ms (b.cpu_ticks - a.cpu_ticks);
    w->sched_ms = (b.schedstat_ns - a.schedstat_ns) / 1e6;
    w->rss_kb = b.rss_kb;
    w->threads = b.threads;
  }
  if (threads_a) {
    threads_b = bench_proc_thread_times (router->pid);
    w->threads_ms = thread_delta_ms (threads_a, threads_b);
    g_hash_table_unref (threads_a);
    g_hash_table_unref (threads_b);
  }
  w->wall_s = (t1 - t0) / 1e9;

  g_mutex_lock (&log->lock);
  memcpy (w->sent, log->sent_packets, sizeof (w->sent));
  memcpy (w->sent_bytes, log->sent_bytes, sizeof (w->sent_bytes));
  g_mutex_unlock (&log->lock);

  for (i = 0; i < n; i++)
    for (k = 0; k < BENCH_N_KINDS; k++)
      w->received[k] += bench_peer_window_packets (subs[i], k);
  for (pt = 0; pt < BENCH_N_POINTS; pt++) {
    w->latency[pt] = g_array_new (FALSE, FALSE, sizeof (gint64));
    w->sub_median_min_ms[pt] = INFINITY;
    w->sub_median_max_ms[pt] = -INFINITY;
    for (k = 0; k < BENCH_N_KINDS; k++)
      w->latency_kind[pt][k] = g_array_new (FALSE, FALSE, sizeof (gint64));
    for (i = 0; i < n; i++) {
      GArray *mine = g_array_new (FALSE, FALSE, sizeof (gint64));

      for (k = 0; k < BENCH_N_KINDS; k++) {
        guint before = mine->len;

        w->unstamped[pt] += bench_peer_window_latencies (subs[i], pt, k, mine);
        g_array_append_vals (w->latency_kind[pt][k],
            &g_array_index (mine, gint64, before), mine->len - before);
      }
      if (mine->len > 0) {
        gdouble med;

        g_array_sort (mine, compare_gint64);
        med = percentile_ms (mine, 0.5);
        w->sub_median_min_ms[pt] = MIN (w->sub_median_min_ms[pt], med);
        w->sub_median_max_ms[pt] = MAX (w->sub_median_max_ms[pt], med);
        g_array_append_vals (w->latency[pt], mine->data, mine->len);
      }
      g_array_unref (mine);
    }
    g_array_sort (w->latency[pt], compare_gint64);
    for (k = 0; k < BENCH_N_KINDS; k++)
      g_array_sort (w->latency_kind[pt][k], compare_gint64);
  }
  g_print ("  measured %s: %" G_GUINT64_FORMAT " packets received, router "
      "CPU %.0f ms\n", label, w->received[0] + w->received[1], w->cpu_ms);
  return w;
}

static BenchSendLog *
send_log_new (void)
{
  BenchSendLog *log = g_new0 (BenchSendLog, 1);

  g_mutex_init (&log->lock);
  return log;
}

static void
send_log_free (BenchSendLog * log)
{
  g_mutex_clear (&log->lock);
  g_free (log);
}

static Window *
run_direct (const BenchMediaConfig * config)
{
  BenchSendLog *log = send_log_new ();
  BenchPeer *pub, *sub = NULL;
  PeerSet set;
  Window *w = NULL;
  GError *error = NULL;

  g_print ("direct: publisher -> subscriber, no router\n");
  pub = bench_peer_publish (NULL, config, log, &error);
  if (pub)
    sub = bench_peer_subscribe_direct (pub, config, log, &error);
  if (sub == NULL) {
    g_printerr ("otc-router-bench: direct: %s\n", error->message);
    g_clear_error (&error);
    goto done;
  }
  set.peers = &sub;
  set.n = 1;
  if (!bench_iterate_until (all_receiving, &set, 20000)) {
    g_printerr ("otc-router-bench: direct: no media within 20 s\n");
    goto done;
  }
  bench_iterate_for (opt_warmup * 1000);
  w = measure ("direct", NULL, &sub, 1, log, FALSE);
  w->direct = TRUE;

done:
  bench_peer_free (sub);
  bench_peer_free (pub);
  /* events still queued from webrtcbin threads hold their peer */
  bench_iterate_for (200);
  send_log_free (log);
  return w;
}

/* ------------------------------------------------------------------------ */
/* output */

static gchar *
fmt (const gchar * format, gdouble v)
{
  if (isnan (v) || isinf (v))
    return g_strdup ("-");
  return g_strdup_printf (format, v);
}

static void
print_machine (const gchar * router_path)
{
  gchar *model = bench_cpu_model_name (), *load = load_average ();
  gchar *gst = gst_version_string ();
  struct utsname u;

  uname (&u);
  g_print ("otc-router-bench (otc %s)\n", PACKAGE_VERSION);
  g_print ("  machine:   %s, %u cores, %s %s, load average %s\n", model,
      g_get_num_processors (), u.sysname, u.release, load);
  g_print ("  libraries: %s\n", gst);
#ifdef OTC_BUILD_TYPE
  g_print ("  build:     %s\n", OTC_BUILD_TYPE);
#endif
  g_print ("  router:    %s (subscriber transport: %s)\n", router_path,
      opt_transport ? opt_transport : "its default");
  g_print ("  network:   %s\n", only_loopback () ?
      "loopback-only network namespace" : "NOT isolated (--no-netns)");
  g_print ("  load:      1 publisher, VP8 640x480 30 fps CBR %d kbit/s "
      "(smpte) + Opus 32 kbit/s, each through otcencrypt (E2EE session)\n",
      opt_video_kbps);
  g_print ("  windows:   %d s after %d s of warm-up\n\n", opt_seconds,
      opt_warmup);
  g_free (model);
  g_free (load);
  g_free (gst);
}

static void
print_cpu_table (GPtrArray * windows)
{
  Window *base = NULL;
  guint i, k;

  for (i = 0; i < windows->len; i++) {
    Window *w = g_ptr_array_index (windows, i);

    if (w->have_router && w->n == 0)
      base = w;
  }
  g_print ("\n== Router CPU and memory ==\n\n");
  g_print ("A forwarded stream is the publisher's audio + video going to one "
      "subscriber.\nCPU: utime + stime of the router process over the "
      "window.\n\n");
  g_print ("| N | sent pkt/s (video + audio) | video kbit/s | forwarded "
      "pkt/s | delivered | router CPU | **CPU per stream-second** | "
      "**CPU per packet** | above N=0, per stream-second | RSS | "
      "**RSS per subscriber** | threads |\n");
  g_print ("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: | ---: | ---: |\n");
  for (i = 0; i < windows->len; i++) {
    Window *w = g_ptr_array_index (windows, i);
    guint64 sent = w->sent[0] + w->sent[1];
    guint64 recv = w->received[0] + w->received[1];
    gdouble per_stream = w->n ? w->cpu_ms / (w->n * w->wall_s) : NAN;
    gdouble per_packet = recv ? w->cpu_ms * 1e3 / recv : NAN;
    gdouble marginal = w->n && base ? (w->cpu_ms / w->wall_s -
        base->cpu_ms / base->wall_s) / w->n : NAN;
    gdouble rss_per = w->n && base ? ((gdouble) w->rss_kb -
        (gdouble) base->rss_kb) / 1024.0 / w->n : NAN;
    gdouble delivered = w->n ? 100.0 * recv / (sent * (gdouble) w->n) : NAN;
    gchar *s[6];

    if (!w->have_router)
      continue;
    s[0] = fmt ("%.1f ms", per_stream);
    s[1] = fmt ("%.1f us", per_packet);
    s[2] = fmt ("%.1f ms", marginal);
    s[3] = fmt ("%.2f MB", rss_per);
    s[4] = fmt ("%.1f%%", delivered);
    s[5] = fmt ("%.0f", recv / w->wall_s);
    g_print ("| %u | %.0f + %.0f | %.0f | %s | %s | %.0f ms/s (%.1f%%) | %s "
        "| %s | %s | %.1f MB | %s | %u |\n", w->n, w->sent[0] / w->wall_s,
        w->sent[1] / w->wall_s, w->sent_bytes[0] * 8 / w->wall_s / 1000,
        s[5], s[4], w->cpu_ms / w->wall_s, w->cpu_ms / w->wall_s / 10.0,
        s[0], s[1], s[2], w->rss_kb / 1024.0, s[3], w->threads);
    for (k = 0; k < G_N_ELEMENTS (s); k++)
      g_free (s[k]);
  }
  g_print ("\nCross-checks: ");
  for (i = 0; i < windows->len; i++) {
    Window *w = g_ptr_array_index (windows, i);

    if (w->have_router)
      g_print ("N=%u: schedstat of live threads %.0f ms vs %.0f ms, "
          "clients (this process) %.0f ms/s; ", w->n, w->sched_ms, w->cpu_ms,
          w->client_cpu_ms / w->wall_s);
  }
  g_print ("\n");
}

static void
print_latency_table (GPtrArray * windows, BenchPoint point)
{
  guint i;

  if (point == BENCH_POINT_WIRE)
    g_print ("\n== Latency, wire to wire: publisher's nicesink -> "
        "subscriber's nicesrc ==\n\nWhat the router adds, plus loopback "
        "twice (the direct row: loopback alone).\n");
  else
    g_print ("\n== Latency, webrtcbin to webrtcbin: publisher's sink pad -> "
        "subscriber's src pad ==\n\nAlso both clients' webrtcbins: the "
        "publisher's send path (clocksync) and the subscriber's receive "
        "path (jitterbuffer).\n");
  g_print ("Over every packet that every subscriber received in the window "
      "(audio and video).\n\n");
  g_print ("| path | packets | no send stamp | median | p90 | **p99** | "
      "max | subscribers' medians | video median / p99 | audio median / "
      "p99 |\n");
  g_print ("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: |\n");
  for (i = 0; i < windows->len; i++) {
    Window *w = g_ptr_array_index (windows, i);
    GArray *lat = w->latency[point];
    gchar *range;

    if (w->n == 0)
      continue;
    if (w->n == 1)
      range = fmt ("%.2f ms", w->sub_median_min_ms[point]);
    else
      range = g_strdup_printf ("%.2f-%.2f ms", w->sub_median_min_ms[point],
          w->sub_median_max_ms[point]);
    g_print ("| %s | %u | %" G_GUINT64_FORMAT " | %.2f ms | %.2f ms | "
        "%.2f ms | %.2f ms | %s | %.2f / %.2f ms | %.2f / %.2f ms |\n",
        w->direct ? "direct, no router" : w->label, lat->len,
        w->unstamped[point], percentile_ms (lat, 0.5),
        percentile_ms (lat, 0.9), percentile_ms (lat, 0.99),
        percentile_ms (lat, 1.0), range,
        percentile_ms (w->latency_kind[point][BENCH_KIND_VIDEO], 0.5),
        percentile_ms (w->latency_kind[point][BENCH_KIND_VIDEO], 0.99),
        percentile_ms (w->latency_kind[point][BENCH_KIND_AUDIO], 0.5),
        percentile_ms (w->latency_kind[point][BENCH_KIND_AUDIO], 0.99));
    g_free (range);
  }
}

typedef struct
{
  const gchar *name;
  gdouble ms;
  guint threads;
} ThreadGroup;

static gint
compare_groups (gconstpointer a, gconstpointer b)
{
  const ThreadGroup *x = a, *y = b;

  return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : 0;
}

static void
print_threads (Window * w)
{
  GArray *groups = g_array_new (FALSE, FALSE, sizeof (ThreadGroup));
  GHashTableIter it;
  gpointer key, value;
  gdouble total = 0;
  guint i;

  g_hash_table_iter_init (&it, w->threads_ms);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    ThreadGroup g = { key, ((gdouble *) value)[0],
      (guint) ((gdouble *) value)[1]
    };

    total += g.ms;
    g_array_append_val (groups, g);
  }
  g_array_sort (groups, compare_groups);
  g_print ("\n== Router threads, N=%u (digits dropped from the names) ==\n\n",
      w->n);
  g_print
      ("| thread | threads | CPU | share |\n| --- | ---: | ---: | ---: |\n");
  for (i = 0; i < groups->len; i++) {
    ThreadGroup *g = &g_array_index (groups, ThreadGroup, i);

    if (g->ms < 0.01 * total && i >= 8)
      break;
    g_print ("| %s | %u | %.0f ms/s | %.1f%% |\n", g->name, g->threads,
        g->ms / w->wall_s, total > 0 ? 100.0 * g->ms / total : 0.0);
  }
  g_array_unref (groups);
}

static gboolean
print_targets (GPtrArray * windows)
{
  Window *base = NULL, *at = NULL;
  gdouble worst_p99 = -1;
  const gchar *worst_label = "";
  gboolean all = TRUE;
  guint i;

  for (i = 0; i < windows->len; i++) {
    Window *w = g_ptr_array_index (windows, i);

    if (!w->have_router)
      continue;
    if (w->n == 0)
      base = w;
    if (w->n == TARGET_N)
      at = w;
    if (w->n > 0 && percentile_ms (w->latency[BENCH_POINT_WIRE],
            0.99) > worst_p99) {
      worst_p99 = percentile_ms (w->latency[BENCH_POINT_WIRE], 0.99);
      worst_label = w->label;
    }
  }
  g_print ("\n== Targets (Janus 1.1.2 under the same load, N=%d) ==\n\n",
      TARGET_N);
  g_print ("| target | measured | verdict |\n| --- | ---: | --- |\n");
  if (at && base) {
    gdouble per_stream = at->cpu_ms / (at->n * at->wall_s);
    gdouble per_packet = at->cpu_ms * 1e3 / (at->received[0] + at->received[1]);
    gdouble rss_per = ((gdouble) at->rss_kb - (gdouble) base->rss_kb) /
        1024.0 / at->n;

    g_print ("| CPU per forwarded stream-second <= %.1f ms at N=%d | "
        "%.1f ms | %s |\n", TARGET_CPU_PER_STREAM_MS, TARGET_N, per_stream,
        per_stream <= TARGET_CPU_PER_STREAM_MS ? "met" : "MISSED");
    g_print ("| CPU per forwarded packet <= %.0f us at N=%d | %.1f us | %s |\n",
        TARGET_CPU_PER_PACKET_US, TARGET_N, per_packet,
        per_packet <= TARGET_CPU_PER_PACKET_US ? "met" : "MISSED");
    g_print ("| RSS per subscriber <= %.2f MB at N=%d | %.2f MB | %s |\n",
        TARGET_RSS_PER_SUB_MB, TARGET_N, rss_per,
        rss_per <= TARGET_RSS_PER_SUB_MB ? "met" : "MISSED");
    all = per_stream <= TARGET_CPU_PER_STREAM_MS
        && per_packet <= TARGET_CPU_PER_PACKET_US
        && rss_per <= TARGET_RSS_PER_SUB_MB;
  } else {
    g_print ("| CPU and memory at N=%d | not measured (--subscribers) | - |\n",
        TARGET_N);
  }
  if (worst_p99 >= 0) {
    g_print ("| p99 added latency (wire to wire) < %.0f ms (worst: %s) | "
        "%.2f ms | %s |\n",
        TARGET_P99_MS, worst_label, worst_p99,
        worst_p99 < TARGET_P99_MS ? "met" : "MISSED");
    all = all && worst_p99 < TARGET_P99_MS;
  }
  return all;
}

/* perf record on the router for one more window (DWARF call graphs: the
 * distribution's libraries have no frame pointers), then two summaries:
 * self time by library, and inclusive time by named function. */
static void
run_perf (BenchRouter * router)
{
  gchar *pid = g_strdup_printf ("%d", (gint) router->pid);
  gchar *secs = g_strdup_printf ("%d", opt_seconds);
  const gchar *record[] = { "perf", "record", "-q", "-F", "499",
    "--call-graph", "dwarf,16384", "-o", opt_perf, "-p", pid, "--", "sleep",
    secs, NULL
  };
  const gchar *by_dso[] = { "perf", "report", "-i", opt_perf, "--stdio",
    "--no-children", "-g", "none", "--sort", "dso", "--percent-limit", "1",
    NULL
  };
  const gchar *by_sym[] = { "perf", "report", "-i", opt_perf, "--stdio",
    "--children", "-g", "none", "--sort", "dso,sym", "--percent-limit", "3",
    NULL
  };
  const gchar **reports[] = { by_dso, by_sym };
  const gchar *titles[] = { "self time by library",
    "inclusive time by function (named functions only)"
  };
  GError *error = NULL;
  GPid perf_pid;
  gint status = 0;
  guint i;

  g_print ("\n== perf record -F 499 --call-graph dwarf -p %s (%d s) -> %s "
      "==\n", pid, opt_seconds, opt_perf);
  if (!g_spawn_async (NULL, (gchar **) record, NULL,
          G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
          &perf_pid, &error)) {
    g_print ("  perf: %s\n", error->message);
    g_clear_error (&error);
    goto done;
  }
  /* the signalling goes on while perf samples */
  while (waitpid (perf_pid, &status, WNOHANG) == 0)
    bench_iterate_for (100);
  g_spawn_close_pid (perf_pid);
  for (i = 0; i < G_N_ELEMENTS (reports); i++) {
    gchar *out = NULL;
    gchar **lines;
    guint j, shown = 0;

    if (!g_spawn_sync (NULL, (gchar **) reports[i], NULL,
            G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
            &out, NULL, &status, &error)) {
      g_print ("  perf report: %s\n", error->message);
      g_clear_error (&error);
      continue;
    }
    g_print ("\n%s:\n", titles[i]);
    lines = g_strsplit (out, "\n", -1);
    for (j = 0; lines[j] && shown < 40; j++) {
      const gchar *sym;

      g_strstrip (lines[j]);
      if (lines[j][0] == '#' || lines[j][0] == '\0')
        continue;
      sym = strstr (lines[j], "[.] ");
      /* unnamed code (stripped plugins) and the kernel's internals say
       * nothing here: the first report has them by library */
      if (i == 1 && (sym == NULL || g_str_has_prefix (sym + 4, "0x")))
        continue;
      g_print ("  %s\n", lines[j]);
      shown++;
    }
    g_strfreev (lines);
    g_free (out);
  }

done:
  g_free (pid);
  g_free (secs);
}

/* ------------------------------------------------------------------------ */

static gboolean
parse_counts (const gchar * text, GArray * counts)
{
  gchar **parts = g_strsplit (text, ",", -1);
  guint i, last = 0;
  gboolean ok = TRUE;

  for (i = 0; parts[i] && ok; i++) {
    gchar *end = NULL;
    guint64 v = g_ascii_strtoull (parts[i], &end, 10);

    ok = end != parts[i] && *end == '\0' && v > last && v <= MAX_SUBSCRIBERS;
    if (ok) {
      guint n = (guint) v;

      g_array_append_val (counts, n);
      last = n;
    }
  }
  g_strfreev (parts);
  return ok && counts->len > 0;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    {"subscribers", 'n', 0, G_OPTION_ARG_STRING, &opt_subscribers,
        "Subscriber counts, increasing (default: 1,5,20)", "LIST"},
    {"seconds", 's', 0, G_OPTION_ARG_INT, &opt_seconds,
        "Length of each measurement window (default: 10)", "S"},
    {"warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup,
        "Seconds of warm-up before each window (default: 3)", "S"},
    {"video-kbps", 0, 0, G_OPTION_ARG_INT, &opt_video_kbps,
        "Video target bitrate (default: 1000)", "KBPS"},
    {"no-direct", 0, 0, G_OPTION_ARG_NONE, &opt_no_direct,
        "Skip the direct (no router) latency baseline", NULL},
    {"perf", 0, 0, G_OPTION_ARG_FILENAME, &opt_perf,
        "After the last window, perf record -g the router for one more "
          "window into FILE and print a summary", "FILE"},
    {"router", 0, 0, G_OPTION_ARG_FILENAME, &opt_router,
        "The otc-router executable (default: the build's)", "PATH"},
    {"client-nice", 0, 0, G_OPTION_ARG_INT, &opt_client_nice,
          "Nice value of the clients (this process), so that they do not "
          "starve the router they measure (default 10; 0: share the cores "
          "equally)", "N"},
    {"subscriber-transport", 0, 0, G_OPTION_ARG_STRING, &opt_transport,
          "Passed to otc-router: direct or webrtcbin (default: the "
          "router's)", "T"},
    {"no-netns", 0, 0, G_OPTION_ARG_NONE, &opt_no_netns,
        "Do not re-run under tests/netns-run.sh (a loopback-only network "
          "namespace)", NULL},
    {NULL}
  };
  GOptionContext *ctx;
  GError *error = NULL;
  GArray *counts = g_array_new (FALSE, FALSE, sizeof (guint));
  GPtrArray *windows = g_ptr_array_new_with_free_func ((GDestroyNotify)
      window_free);
  BenchMediaConfig config = { 0 };
  BenchRouter *router = NULL;
  BenchSendLog *log = NULL;
  BenchClient *pub_client = NULL;
  BenchClient *clients[MAX_SUBSCRIBERS] = { NULL };
  BenchPeer *subs[MAX_SUBSCRIBERS] = { NULL };
  BenchPeer *pub = NULL;
  gchar *session_id = NULL, *token;
  guint n_subs = 0, i, c;
  guint64 frames_out = 0, auth_failed = 0;
  gboolean ok = FALSE;
  gint status;
  gchar **saved_argv = g_strdupv (argv);
  gint saved_argc = argc;

  ctx = g_option_context_new ("- otc-router forwarding benchmark");
  g_option_context_add_main_entries (ctx, entries, NULL);
  /* no GStreamer option group: it would initialise GStreamer while parsing,
   * before the plugin path is set and before the re-execution */
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (!parse_counts (opt_subscribers ? opt_subscribers : "1,5,20", counts)) {
    g_printerr ("otc-router-bench: --subscribers takes increasing counts "
        "from 1 to %d, e.g. 1,5,20\n", MAX_SUBSCRIBERS);
    return 2;
  }
  opt_seconds = MAX (opt_seconds, 1);
  opt_warmup = MAX (opt_warmup, 0);
  if (!ensure_loopback_namespace (saved_argc, saved_argv))
    return 1;
  g_strfreev (saved_argv);
  /* The clients (this process) yield to the router, the system under
   * test, on a machine where they share its cores: threads made from now
   * on have this nice value; the router is started at 0. */
  opt_client_nice = CLAMP (opt_client_nice, 0, 19);
  if (opt_client_nice > 0 && setpriority (PRIO_PROCESS, 0, opt_client_nice))
    g_printerr ("otc-router-bench: could not lower the clients' priority: "
        "%s\n", g_strerror (errno));

  setup_plugin_path ();
  gst_init (&argc, &argv);
  if (opt_router == NULL)
    opt_router = g_strdup (OTC_ROUTER_PATH);
  print_machine (opt_router);

  config.secret = SECRET;
  config.width = 640;
  config.height = 480;
  config.fps = 30;
  config.video_bitrate = opt_video_kbps * 1000;
  config.audio_bitrate = 32000;

  if (!opt_no_direct) {
    Window *w;

    config.session_id = "otc-router-bench-direct";
    w = run_direct (&config);
    if (w == NULL)
      goto out;
    g_ptr_array_add (windows, w);
  }

  router = bench_router_start (opt_router, opt_transport, &error);
  if (router == NULL) {
    g_printerr ("otc-router-bench: %s\n", error->message);
    goto out;
  }
  g_print ("router: %s (pid %d)\n", router->url, (gint) router->pid);
  g_print ("priority: clients at nice %d, the router at nice %d\n",
      getpriority (PRIO_PROCESS, 0), proc_nice (router->pid));
  session_id = bench_router_create_session (router, &error);
  if (session_id == NULL) {
    g_printerr ("otc-router-bench: %s\n", error->message);
    goto out;
  }
  config.session_id = session_id;
  log = send_log_new ();

  token = bench_router_client_token (router, session_id, "publisher");
  pub_client = bench_client_open (router, token, &error);
  g_free (token);
  if (pub_client)
    pub = bench_peer_publish (pub_client, &config, log, &error);
  if (pub == NULL) {
    g_printerr ("otc-router-bench: publisher: %s\n", error->message);
    goto out;
  }
  if (!bench_iterate_until (has_stream_id, pub, 20000)
      || !bench_iterate_until (peer_connected, pub, 20000)) {
    g_printerr ("otc-router-bench: the publisher did not get through to "
        "the router\n");
    goto out;
  }
  g_print ("publisher: stream %s\n", bench_peer_get_stream_id (pub));
  bench_iterate_for (opt_warmup * 1000 + 1000);
  g_ptr_array_add (windows, measure ("N=0", router, NULL, 0, log, FALSE));

  for (c = 0; c < counts->len; c++) {
    guint n = g_array_index (counts, guint, c);
    PeerSet set = { subs, n };
    gchar *label;

    g_print ("adding subscribers %u-%u\n", n_subs + 1, n);
    for (; n_subs < n; n_subs++) {
      token = bench_router_client_token (router, session_id, "subscriber");
      clients[n_subs] = bench_client_open (router, token, &error);
      g_free (token);
      if (clients[n_subs])
        subs[n_subs] = bench_peer_subscribe (clients[n_subs],
            bench_peer_get_stream_id (pub), &config, log, &error);
      if (subs[n_subs] == NULL) {
        g_printerr ("otc-router-bench: subscriber %u: %s\n", n_subs + 1,
            error->message);
        goto out;
      }
    }
    if (!bench_iterate_until (all_receiving, &set, 30000 + 1000 * n)) {
      g_printerr ("otc-router-bench: not every subscriber receives audio "
          "and video\n");
      goto out;
    }
    bench_iterate_for (opt_warmup * 1000);
    label = g_strdup_printf ("N=%u", n);
    g_ptr_array_add (windows, measure (label, router, subs, n, log,
            c == counts->len - 1));
    g_free (label);
  }
  for (i = 0; i < n_subs; i++) {
    guint64 f, a;

    bench_peer_decrypt_stats (subs[i], &f, &a);
    frames_out += f;
    auth_failed += a;
  }

  print_cpu_table (windows);
  print_latency_table (windows, BENCH_POINT_WIRE);
  print_latency_table (windows, BENCH_POINT_APP);
  print_threads (g_ptr_array_index (windows, windows->len - 1));
  g_print ("\nE2EE check: the subscribers' otcdecrypt output %"
      G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " failed "
      "authentication\n", frames_out, auth_failed);
  ok = frames_out > 0 && auth_failed == 0;
  if (print_targets (windows))
    g_print ("\nall targets met\n");
  else
    g_print ("\nsome targets missed\n");
  if (opt_perf)
    run_perf (router);

out:
  for (i = 0; i < n_subs; i++) {
    bench_peer_free (subs[i]);
    bench_client_free (clients[i]);
  }
  bench_peer_free (pub);
  bench_client_free (pub_client);
  bench_iterate_for (200);
  if (router) {
    status = bench_router_stop (router);
    if (status != 0)
      g_printerr ("otc-router-bench: the router exited with status %d\n",
          status);
  }
  if (log)
    send_log_free (log);
  g_clear_error (&error);
  g_free (session_id);
  g_ptr_array_unref (windows);
  g_array_unref (counts);
  g_free (opt_router);
  g_free (opt_subscribers);
  g_free (opt_perf);
  gst_deinit ();
  /* missed targets are figures, not failures */
  return ok ? 0 : 1;
}
