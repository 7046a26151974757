/* otc-e2ee-bench: what the sections share (clock, medians, the targets
 * table printed at the end). docs/performance.md quotes its output. */
#pragma once

#include <glib.h>
#include <time.h>

G_BEGIN_DECLS

/* CLOCK_MONOTONIC in nanoseconds. */
static inline gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Median of @n values (n > 0); @values is left untouched. */
gdouble bench_median (const gdouble * values, guint n);

/* Records one target for the summary: @value is the measured figure as
 * printed, @met whether it meets the target. */
void bench_target_add (const gchar * section, const gchar * target,
    const gchar * value, gboolean met);
const gchar *bench_verdict (gboolean met);

/* The sections; each prints its own table and returns FALSE when it could
 * not measure (missing element, pipeline error, wrong output). */
gboolean bench_frame_run (void);
/* Section 2, and section 3 with @with_srtp. */
gboolean bench_elements_run (gboolean with_srtp);
gboolean bench_rekey_run (guint seconds);

G_END_DECLS
