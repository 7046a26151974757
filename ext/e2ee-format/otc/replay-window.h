/* Per-KID replay protection (format page, section 6.4): a sliding window
 * of 128 counters below the highest accepted one. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTC_REPLAY_WINDOW_SIZE 128

typedef struct
{
  guint64 highest;
  guint64 seen[OTC_REPLAY_WINDOW_SIZE / 64];    /* bit i: highest - i */
  gboolean started;
} OtcReplayWindow;

void otc_replay_window_init (OtcReplayWindow * window);
/* TRUE when @ctr has not been accepted yet and is inside the window. */
gboolean otc_replay_window_check (const OtcReplayWindow * window, guint64 ctr);
/* Records @ctr as accepted; call only after the frame authenticated. */
void otc_replay_window_accept (OtcReplayWindow * window, guint64 ctr);

G_END_DECLS
