/* The otc signalling protocol, version 1 (docs/signalling.md): JSON text
 * messages over one WebSocket per client. Shared by otc-router and the
 * session elements. Every message is an object with "type"; requests may
 * carry a "requestId" that the answer or error repeats. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define OTC_SIGNALLING_VERSION 1
#define OTC_SIGNALLING_PATH "/signal"

/* Limits. */
#define OTC_SIGNALLING_MAX_MESSAGE (256 * 1024)     /* bytes, one message */
#define OTC_SIGNALLING_MAX_DEPTH 16                 /* JSON nesting */
#define OTC_SIGNAL_MAX_DATA 8192                    /* characters */
#define OTC_SIGNAL_MAX_TYPE 128                     /* characters */
#define OTC_STREAM_MAX_NAME 1000                    /* characters */

/* Error codes carried by "error" messages (docs/signalling.md). */
typedef enum
{
  OTC_SIGNALLING_ERROR_BAD_MESSAGE = 400,       /* not JSON, fields wrong */
  OTC_SIGNALLING_ERROR_NOT_FOUND = 404,         /* unknown stream/connection */
  OTC_SIGNALLING_ERROR_UNKNOWN_TYPE = 405,
  OTC_SIGNALLING_ERROR_TOO_LARGE = 413,
  OTC_SIGNALLING_ERROR_RATE_LIMITED = 429,
  OTC_SIGNALLING_ERROR_INTERNAL = 500,
  OTC_SIGNALLING_ERROR_AUTHENTICATION = 1004,   /* bad/expired token */
  /* client side: the router cannot be reached, or went away */
  OTC_SIGNALLING_ERROR_CONNECT_FAILED = 1006,
  OTC_SIGNALLING_ERROR_INVALID_SESSION = 1005,  /* no such session */
  OTC_SIGNALLING_ERROR_UNSUPPORTED_VERSION = 1008,
  OTC_SIGNALLING_ERROR_NOT_CONNECTED = 1010,    /* connect first */
  OTC_SIGNALLING_ERROR_ALREADY_CONNECTED = 1011,
  /* client side: the session's E2EE format or suite is not supported */
  OTC_SIGNALLING_ERROR_UNSUPPORTED_E2EE = 1013,
  OTC_SIGNALLING_ERROR_PUBLISH_FORBIDDEN = 1500,        /* role */
  OTC_SIGNALLING_ERROR_PUBLISH_FAILED = 1501,   /* SDP/media */
  OTC_SIGNALLING_ERROR_SUBSCRIBE_FAILED = 1600,
  OTC_SIGNALLING_ERROR_FORBIDDEN = 1520,        /* moderator-only action */
} OtcSignallingError;

/* The WebSocket close code of a connection a moderator ended (private use
 * range of RFC 6455); the reason text is "forceDisconnected". */
#define OTC_SIGNALLING_CLOSE_FORCE_DISCONNECTED 4000

/* Parses one message: a JSON object with a string "type", within the size
 * and depth limits. NULL with a message in @why (for an error reply). */
JsonObject *otc_signalling_parse (const gchar * text, gsize len,
    gint * code, gchar ** why);

/* Serialises @obj (taken) to compact JSON. */
gchar *otc_signalling_to_string (JsonObject * obj);

/* { "type": @type } to add members to. */
JsonObject *otc_signalling_new (const gchar * type);

/* An error message; @request_id may be NULL. */
JsonObject *otc_signalling_new_error (gint code, const gchar * message,
    const gchar * request_id);

/* Typed member access; NULL/FALSE when absent or of another type. */
const gchar *otc_signalling_get_string (JsonObject * obj,
    const gchar * member);
gboolean otc_signalling_get_bool (JsonObject * obj, const gchar * member,
    gboolean * value);
gboolean otc_signalling_get_uint (JsonObject * obj, const gchar * member,
    guint * value);

G_END_DECLS
