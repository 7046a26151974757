/* A participant of the session tests: a pipeline with otcsink, otcsrc or
 * otcsession joined to a real otc-router, recording what it sends and
 * receives and every element message of its session element. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct
{
  gchar *name;
  GstElement *pipeline;
  GstElement *session;          /* the otcsink/otcsrc/otcsession */
  gboolean encoded;             /* received pads linked as VP8/Opus */
  GMutex lock;
  GPtrArray *messages;          /* GstStructure, element messages + errors */
  GPtrArray *sent;              /* GstBuffer: our vp8enc's output */
  GHashTable *received;         /* stream id -> GPtrArray of GstBuffer */
  GHashTable *decoded;          /* stream id -> frames decoded (uint) */
  gint64 last_frame_us;         /* monotonic, any stream */
  GstStateChangeReturn start_result;
} Participant;

/* Publishes test video (VP8-encoded in the pipeline, collected in ->sent)
 * with @factory ("otcsink" or "otcsession"); @secret may be NULL. */
Participant *participant_new_publisher (const gchar * name,
    const gchar * url, const gchar * token, const gchar * factory,
    const gchar * secret);
/* Publishes raw test video and audio (encoded inside the element). */
Participant *participant_new_raw_publisher (const gchar * name,
    const gchar * url, const gchar * token, const gchar * secret);
/* Subscribes with otcsrc; received pads go to VP8/Opus sinks when
 * @encoded (frames kept), else to videoconvert/audioconvert (counted). */
Participant *participant_new_subscriber (const gchar * name,
    const gchar * url, const gchar * token, const gchar * secret,
    gboolean encoded);
/* An otcsession that publishes test video and subscribes (encoded). */
Participant *participant_new_both (const gchar * name, const gchar * url,
    const gchar * token, const gchar * secret);

/* Sets PLAYING; returns the state change result (also in start_result). */
GstStateChangeReturn participant_start (Participant * p);
void participant_free (Participant * p);
/* Stops every participant not freed (a failed test's): a tcase teardown. */
void participants_teardown (void);

/* Counts of element messages named @name (with @field == @value when
 * @field is not NULL). */
guint participant_count (Participant * p, const gchar * name,
    const gchar * field, const gchar * value);
/* A copy of the last message named @name, or NULL. */
GstStructure *participant_last (Participant * p, const gchar * name);
guint participant_n_received (Participant * p, const gchar * stream_id);
guint participant_n_decoded (Participant * p, const gchar * stream_id);
/* The id of the stream this participant published (from its
 * otc-stream-published message), or NULL. */
gchar *participant_published_id (Participant * p);
/* Checks that every frame @sub received on @stream_id is one that @pub
 * sent, in order; returns how many, and in *gaps how many of @pub's frames
 * were skipped between the first and the last received. */
guint participant_check_frames (Participant * pub, Participant * sub,
    const gchar * stream_id, guint * gaps);

/* Waits (bounded) until @done returns TRUE; re-checked whenever any
 * participant records something. */
gboolean participants_wait (gboolean (*done) (gpointer), gpointer data,
    guint timeout_ms);

G_END_DECLS
