#include <string.h>

#include "otc/replay-window.h"

#define N_WORDS (OTC_REPLAY_WINDOW_SIZE / 64)

void
otc_replay_window_init (OtcReplayWindow * window)
{
  memset (window, 0, sizeof (*window));
}

static gboolean
bit_is_set (const OtcReplayWindow * w, guint64 i)
{
  return (w->seen[i / 64] >> (i % 64)) & 1;
}

gboolean
otc_replay_window_check (const OtcReplayWindow * w, guint64 ctr)
{
  guint64 age;

  if (!w->started || ctr > w->highest)
    return TRUE;
  age = w->highest - ctr;
  if (age >= OTC_REPLAY_WINDOW_SIZE)
    return FALSE;               /* too old to tell: treated as a replay */
  return !bit_is_set (w, age);
}

/* Moves every bit @shift positions towards "older". */
static void
shift_window (OtcReplayWindow * w, guint64 shift)
{
  gint i;

  if (shift >= OTC_REPLAY_WINDOW_SIZE) {
    memset (w->seen, 0, sizeof (w->seen));
    return;
  }
  while (shift > 0) {
    guint step = MIN (shift, 63);

    for (i = N_WORDS - 1; i > 0; i--)
      w->seen[i] = (w->seen[i] << step) | (w->seen[i - 1] >> (64 - step));
    w->seen[0] <<= step;
    shift -= step;
  }
}

void
otc_replay_window_accept (OtcReplayWindow * w, guint64 ctr)
{
  guint64 age;

  if (!w->started) {
    w->started = TRUE;
    w->highest = ctr;
    memset (w->seen, 0, sizeof (w->seen));
    w->seen[0] = 1;
    return;
  }
  if (ctr > w->highest) {
    shift_window (w, ctr - w->highest);
    w->highest = ctr;
    w->seen[0] |= 1;
    return;
  }
  age = w->highest - ctr;
  if (age < OTC_REPLAY_WINDOW_SIZE)
    w->seen[age / 64] |= G_GUINT64_CONSTANT (1) << (age % 64);
}
