/* otc-e2ee-demo: end-to-end encrypted test video and audio over RTP/UDP on
 * 127.0.0.1, to two receivers: alice has the right secret, bob a wrong one
 * until he fixes it; then everyone changes to a new secret at once.
 * Prints a timeline of what the elements report and a summary.
 *
 *   sender:  videotestsrc ! vp8enc ! otcencrypt ! rtpvp8pay ! multiudpsink
 *            audiotestsrc ! opusenc ! otcencrypt ! rtpopuspay ! multiudpsink
 *   each receiver: udpsrc ! rtp*depay ! otcdecrypt ! *dec ! fakesink
 *
 * Secrets go to the elements through files (encryption-secret-file), never
 * through command lines. Exit status 0 when everything happened as it
 * should. */
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <string.h>

#define RIGHT "demo secret: correct horse"
#define WRONG "demo secret: wrong horse!!"
#define ROTATED "demo secret, rotated at 5 s"
#define FIX_AT_MS 2500
#define ROTATE_AT_MS 5000
#define STOP_AT_MS 8000

typedef struct
{
  const gchar *name;
  GstElement *pipeline;
  guint video_port, audio_port;
  guint64 video_frames, audio_frames;   /* decoded */
  guint mismatches, matches, missing, invalid;
} Receiver;

typedef struct
{
  GMainLoop *loop;
  gint64 start;
  gchar *dir;
  GstElement *sender;
  Receiver rx[2];
  gboolean failed;
} Demo;

static void
say (Demo * d, const gchar * fmt, ...)
{
  va_list args;
  gchar *text;

  va_start (args, fmt);
  text = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_print ("[%5.2f s] %s\n", (g_get_monotonic_time () - d->start) / 1e6, text);
  g_free (text);
}

static gchar *
secret_file (Demo * d, const gchar * name, const gchar * secret)
{
  gchar *path = g_build_filename (d->dir, name, NULL);
  GError *error = NULL;

  if (!g_file_set_contents_full (path, secret, -1,
          G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_error ("%s", error->message);
  return path;
}

static void
set_secret (GstElement * pipeline, const gchar * element, const gchar * file)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);

  g_object_set (e, "encryption-secret-file", file, NULL);
  gst_object_unref (e);
}

static GstStructure *
stats (GstElement * pipeline, const gchar * element)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), element);
  GstStructure *s = NULL;

  g_object_get (e, "stats", &s, NULL);
  gst_object_unref (e);
  return s;
}

static guint64
stat_u64 (GstElement * pipeline, const gchar * element, const gchar * field)
{
  GstStructure *s = stats (pipeline, element);
  guint64 v = 0;

  gst_structure_get_uint64 (s, field, &v);
  gst_structure_free (s);
  return v;
}

static GstPadProbeReturn
count_frame (GstPad * pad, GstPadProbeInfo * info, gpointer counter)
{
  g_atomic_pointer_add ((gsize *) counter, 1);
  return GST_PAD_PROBE_OK;
}

static void
count_on (GstElement * pipeline, const gchar * sink, guint64 * counter)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), sink);
  GstPad *pad = gst_element_get_static_pad (e, "sink");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_frame, counter,
      NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

static guint
bound_port (GstElement * pipeline, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  gint port = 0;

  g_object_get (e, "port", &port, NULL);
  gst_object_unref (e);
  return port;
}

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Demo *d = user_data;
  const gchar *who = "sender";
  Receiver *rx = NULL;
  guint i;

  for (i = 0; i < 2; i++) {
    if (gst_object_has_as_ancestor (GST_MESSAGE_SRC (msg),
            GST_OBJECT (d->rx[i].pipeline))) {
      rx = &d->rx[i];
      who = rx->name;
    }
  }

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);
      const gchar *name = gst_structure_get_name (s);
      const gchar *media = strstr (GST_OBJECT_NAME (msg->src), "v") ==
          GST_OBJECT_NAME (msg->src) ? "video" : "audio";
      guint64 kid = 0;
      gint code = 0;

      if (!g_str_has_prefix (name, "otc-"))
        break;
      gst_structure_get_uint64 (s, "key-id", &kid);
      gst_structure_get_int (s, "code", &code);
      if (kid)
        say (d, "%s/%s: %s (code %d, stream key id %" G_GUINT64_FORMAT ")",
            who, media, name, code, kid);
      else
        say (d, "%s/%s: %s (code %d)", who, media, name, code);
      if (rx && g_str_equal (name, "otc-encryption-secret-mismatch"))
        rx->mismatches++;
      else if (rx && g_str_equal (name, "otc-encryption-secret-match"))
        rx->matches++;
      break;
    }
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;

      gst_message_parse_error (msg, &err, NULL);
      say (d, "%s: ERROR from %s: %s", who, GST_OBJECT_NAME (msg->src),
          err->message);
      g_error_free (err);
      d->failed = TRUE;
      g_main_loop_quit (d->loop);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static GstElement *
make_receiver (Demo * d, Receiver * rx, const gchar * secret_path)
{
  gchar *desc = g_strdup_printf ("udpsrc name=vsrc address=127.0.0.1 port=0 "
      "caps=\"application/x-rtp,media=video,encoding-name=VP8,"
      "clock-rate=90000,payload=96\" ! rtpvp8depay "
      "! otcdecrypt name=vdec session-id=demo encryption-secret-file=%s "
      "! vp8dec ! fakesink name=vsink sync=false "
      "udpsrc name=asrc address=127.0.0.1 port=0 "
      "caps=\"application/x-rtp,media=audio,encoding-name=OPUS,"
      "clock-rate=48000,payload=97\" ! rtpopusdepay "
      "! otcdecrypt name=adec session-id=demo encryption-secret-file=%s "
      "! opusdec ! fakesink name=asink sync=false", secret_path, secret_path);
  GError *error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstBus *bus;

  if (p == NULL)
    g_error ("%s", error->message);
  g_free (desc);
  count_on (p, "vsink", &rx->video_frames);
  count_on (p, "asink", &rx->audio_frames);
  bus = gst_element_get_bus (p);
  gst_bus_add_watch (bus, on_bus, d);
  gst_object_unref (bus);
  /* READY binds the sockets on ports the system picks */
  gst_element_set_state (p, GST_STATE_READY);
  rx->video_port = bound_port (p, "vsrc");
  rx->audio_port = bound_port (p, "asrc");
  return p;
}

static gboolean
fix_bob (gpointer user_data)
{
  Demo *d = user_data;
  gchar *path = secret_file (d, "bob-fixed", RIGHT);

  say (d, "bob changes to the right secret");
  set_secret (d->rx[1].pipeline, "vdec", path);
  set_secret (d->rx[1].pipeline, "adec", path);
  g_free (path);
  return G_SOURCE_REMOVE;
}

static gboolean
rotate (gpointer user_data)
{
  Demo *d = user_data;
  gchar *path = secret_file (d, "rotated", ROTATED);
  guint i;

  say (d, "everyone changes to a new secret (rotation)");
  set_secret (d->sender, "venc", path);
  set_secret (d->sender, "aenc", path);
  for (i = 0; i < 2; i++) {
    set_secret (d->rx[i].pipeline, "vdec", path);
    set_secret (d->rx[i].pipeline, "adec", path);
  }
  g_free (path);
  return G_SOURCE_REMOVE;
}

static gboolean
tick (gpointer user_data)
{
  Demo *d = user_data;

  say (d, "decoded so far: alice %" G_GUINT64_FORMAT " video / %"
      G_GUINT64_FORMAT " audio frames, bob %" G_GUINT64_FORMAT " / %"
      G_GUINT64_FORMAT, d->rx[0].video_frames, d->rx[0].audio_frames,
      d->rx[1].video_frames, d->rx[1].audio_frames);
  return G_SOURCE_CONTINUE;
}

static gboolean
stop (gpointer user_data)
{
  g_main_loop_quit (((Demo *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  Demo d = { 0 };
  gchar *right, *wrong, *desc;
  GstBus *bus;
  GstStructure *venc;
  guint64 sent_v, sent_a, clear, bytes_in, kid_v = 0, auth_failed_alice;
  GError *error = NULL;
  guint i;

  gst_init (&argc, &argv);
  if (gst_element_factory_find ("otcencrypt") == NULL) {
    g_printerr ("otcencrypt not found: build otc and set GST_PLUGIN_PATH "
        "(scripts/demo.sh does both)\n");
    return 2;
  }
  d.loop = g_main_loop_new (NULL, FALSE);
  d.dir = g_dir_make_tmp ("otc-demo-XXXXXX", &error);
  g_assert_no_error (error);
  right = secret_file (&d, "right", RIGHT);
  wrong = secret_file (&d, "wrong", WRONG);

  d.rx[0].name = "alice";
  d.rx[1].name = "bob";
  d.rx[0].pipeline = make_receiver (&d, &d.rx[0], right);
  d.rx[1].pipeline = make_receiver (&d, &d.rx[1], wrong);

  desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball "
      "! video/x-raw,width=320,height=240,framerate=30/1 "
      "! vp8enc deadline=1 keyframe-max-dist=30 "
      "! otcencrypt name=venc session-id=demo encryption-secret-file=%s "
      "! rtpvp8pay pt=96 ! multiudpsink clients=127.0.0.1:%u,127.0.0.1:%u "
      "audiotestsrc is-live=true wave=ticks "
      "! opusenc ! otcencrypt name=aenc session-id=demo "
      "encryption-secret-file=%s ! rtpopuspay pt=97 "
      "! multiudpsink clients=127.0.0.1:%u,127.0.0.1:%u", right,
      d.rx[0].video_port, d.rx[1].video_port, right, d.rx[0].audio_port,
      d.rx[1].audio_port);
  d.sender = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  g_free (desc);
  bus = gst_element_get_bus (d.sender);
  gst_bus_add_watch (bus, on_bus, &d);
  gst_object_unref (bus);

  g_print ("otc end-to-end encryption demo: VP8 + Opus over RTP/UDP on "
      "127.0.0.1\n"
      "  sender -> alice (right secret) on ports %u/%u\n"
      "  sender -> bob (wrong secret, fixed at %.1f s) on ports %u/%u\n"
      "  everyone rotates to a new secret at %.1f s; the demo ends at "
      "%.1f s\n\n", d.rx[0].video_port, d.rx[0].audio_port,
      FIX_AT_MS / 1000.0, d.rx[1].video_port, d.rx[1].audio_port,
      ROTATE_AT_MS / 1000.0, STOP_AT_MS / 1000.0);

  d.start = g_get_monotonic_time ();
  for (i = 0; i < 2; i++)
    gst_element_set_state (d.rx[i].pipeline, GST_STATE_PLAYING);
  gst_element_set_state (d.sender, GST_STATE_PLAYING);
  g_timeout_add (FIX_AT_MS, fix_bob, &d);
  g_timeout_add (ROTATE_AT_MS, rotate, &d);
  g_timeout_add (1000, tick, &d);
  g_timeout_add (STOP_AT_MS, stop, &d);
  g_main_loop_run (d.loop);

  venc = stats (d.sender, "venc");
  gst_structure_get_uint64 (venc, "frames-protected", &sent_v);
  gst_structure_get_uint64 (venc, "clear-bytes", &clear);
  gst_structure_get_uint64 (venc, "bytes-in", &bytes_in);
  gst_structure_get_uint64 (venc, "key-id", &kid_v);
  gst_structure_free (venc);
  sent_a = stat_u64 (d.sender, "aenc", "frames-protected");
  auth_failed_alice = stat_u64 (d.rx[0].pipeline, "vdec", "frames-auth-failed")
      + stat_u64 (d.rx[0].pipeline, "adec", "frames-auth-failed");

  g_print ("\nWhat happened:\n");
  g_print ("  sent: %" G_GUINT64_FORMAT " video and %" G_GUINT64_FORMAT
      " audio frames, all encrypted (video key id %" G_GUINT64_FORMAT
      "); %.2f%% of the video bytes stayed clear (VP8 headers the "
      "payloader reads)\n", sent_v, sent_a, kid_v,
      bytes_in ? 100.0 * clear / bytes_in : 0.0);
  for (i = 0; i < 2; i++) {
    Receiver *rx = &d.rx[i];
    g_print ("  %s: decoded %" G_GUINT64_FORMAT " video and %"
        G_GUINT64_FORMAT " audio frames; %u mismatch and %u match "
        "reports\n", rx->name, rx->video_frames, rx->audio_frames,
        rx->mismatches, rx->matches);
  }
  g_print ("  alice lost %" G_GUINT64_FORMAT " frames to the rotation\n",
      auth_failed_alice);

  /* the demo checks its own story */
  if (d.rx[0].video_frames < sent_v * 8 / 10 || d.rx[0].mismatches != 0
      || auth_failed_alice != 0 || d.rx[1].mismatches != 2
      || d.rx[1].matches != 2 || d.rx[1].video_frames == 0
      || d.rx[1].audio_frames == 0)
    d.failed = TRUE;
  g_print ("\n%s\n", d.failed ? "Something did not go as expected." :
      "As expected: alice decrypted everything, bob saw a mismatch per "
      "stream until he fixed his secret, then a match, and the rotation "
      "cost no frame.");

  gst_element_set_state (d.sender, GST_STATE_NULL);
  for (i = 0; i < 2; i++) {
    gst_element_set_state (d.rx[i].pipeline, GST_STATE_NULL);
    gst_object_unref (d.rx[i].pipeline);
  }
  gst_object_unref (d.sender);
  {
    const gchar *n[] = { "right", "wrong", "bob-fixed", "rotated" };
    for (i = 0; i < G_N_ELEMENTS (n); i++) {
      gchar *p = g_build_filename (d.dir, n[i], NULL);
      g_unlink (p);
      g_free (p);
    }
  }
  g_rmdir (d.dir);
  g_free (d.dir);
  g_free (right);
  g_free (wrong);
  g_main_loop_unref (d.loop);
  return d.failed ? 1 : 0;
}
