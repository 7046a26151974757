#include <openssl/rand.h>

#include "otc-router-session.h"

gchar *
otc_router_new_id (const gchar * prefix)
{
  guint8 bytes[18];
  gchar *b64, *id;

  if (RAND_bytes (bytes, sizeof (bytes)) != 1)
    g_error ("no random bytes");
  b64 = g_base64_encode (bytes, sizeof (bytes));
  g_strdelimit (b64, "+", '-');
  g_strdelimit (b64, "/", '_');
  id = g_strconcat (prefix, "_", b64, NULL);
  g_free (b64);
  return id;
}

OtcRouterSession *
otc_router_session_new (const gchar * project_id, gboolean e2ee,
    gboolean relayed, gboolean archive_always)
{
  OtcRouterSession *s = g_new0 (OtcRouterSession, 1);

  s->id = otc_router_new_id ("2");
  s->project_id = g_strdup (project_id);
  s->e2ee = e2ee;
  s->relayed = relayed;
  s->archive_always = archive_always;
  s->created = g_get_real_time () / 1000;
  s->connections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  s->streams = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) otc_router_stream_free);
  return s;
}

void
otc_router_session_free (OtcRouterSession * s)
{
  g_hash_table_unref (s->streams);
  g_hash_table_unref (s->connections);
  g_free (s->project_id);
  g_free (s->id);
  g_free (s);
}

void
otc_router_stream_free (OtcRouterStream * stream)
{
  if (stream->leg)
    otc_router_leg_close (stream->leg);
  g_free (stream->id);
  g_free (stream->connection_id);
  g_free (stream->name);
  g_free (stream->video_type);
  g_free (stream);
}

JsonObject *
otc_router_stream_to_json (OtcRouterStream * stream)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "streamId", stream->id);
  json_object_set_string_member (o, "connectionId", stream->connection_id);
  json_object_set_string_member (o, "name", stream->name);
  json_object_set_boolean_member (o, "hasAudio", stream->has_audio);
  json_object_set_boolean_member (o, "hasVideo", stream->has_video);
  json_object_set_string_member (o, "videoType", stream->video_type);
  json_object_set_int_member (o, "creationTime", stream->created);
  return o;
}

JsonObject *
otc_router_session_e2ee_json (OtcRouterSession * session)
{
  JsonObject *o = json_object_new ();

  json_object_set_boolean_member (o, "enabled", session->e2ee);
  if (session->e2ee) {
    json_object_set_int_member (o, "formatVersion", 1);
    json_object_set_string_member (o, "format", "OTC-E2EE");
    json_object_set_string_member (o, "cipherSuite",
        "aes-256-ctr-hmac-sha512-80");
    /* blocks start at 256: small KIDs keep the SFrame header short */
    session->next_key_id_base += OTC_ROUTER_KEY_IDS_PER_CONNECTION;
    json_object_set_int_member (o, "keyIdBase", session->next_key_id_base);
  }
  return o;
}
