/* What both benchmarks print about the machine. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* /proc/cpuinfo's "model name", or "unknown". */
gchar *bench_cpu_model_name (void);

G_END_DECLS
