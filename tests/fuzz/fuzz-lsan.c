/* Leaks that are not the code under test's, built into every target so
 * that a reproducer run straight from the command line behaves as under
 * scripts/fuzz.sh. */
const char *__lsan_default_suppressions (void);

const char *
__lsan_default_suppressions (void)
{
  /* Allocations made by library constructors, once per process: GLib's
   * first quark block (given up, on purpose, when the table grows past
   * 2048 quarks). */
  return "leak:_dl_init\n";
}
