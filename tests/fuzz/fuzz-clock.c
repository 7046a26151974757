/* A fixed wall clock for the router targets: GLib's g_get_real_time() is
 * replaced in the fuzzer executable (its symbol wins over libglib's), so
 * token expiry and the REST target's project JWT do not depend on when a
 * fuzzer, or a reproducer years later, runs. */
#include <glib.h>

#include "fuzz-common.h"

gint64
g_get_real_time (void)
{
  return FUZZ_NOW * G_USEC_PER_SEC;
}
