/* libFuzzer target: the signalling message parser (ext/signalling,
 * docs/signalling.md) and its typed getters, as the router uses them on
 * every WebSocket text frame and the session elements on every message
 * from the router.
 *
 * Properties checked besides memory safety: a refusal carries an error
 * code and a reason in UTF-8 (it goes back in an error reply); an accepted message is an object with a string
 * "type", nested no deeper than the limit; every string in it (member
 * names too) is UTF-8, since the router echoes strings (requestId, signal
 * data, names) into text frames, which libsoup refuses to send otherwise;
 * each such string, echoed as the requestId of an error reply, parses back
 * to itself; the getters agree with each other on every member the
 * protocol defines. (The message as a whole is not serialised again: the
 * router never does that, and json-glib writes 1e999 as "inf.0".) */
#include <otc-signalling.h>

#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  return 0;
}

/* Every member name of docs/signalling.md. */
static const gchar *members[] = {
  "type", "requestId", "v", "token", "sessionId", "connectionId", "role",
  "data", "e2ee", "enabled", "format", "formatVersion", "cipherSuite",
  "keyIdBase", "connections", "streams", "stream", "connection", "streamId",
  "name", "hasAudio", "hasVideo", "videoType", "creationTime", "reason",
  "subscriptionId", "from", "signalType", "to", "sdp", "legId", "mline",
  "candidate", "code", "message", NULL
};

/* Depth as the limit counts it: a scalar is 0, an object or array one
 * more than its deepest member. */
static guint
node_depth (JsonNode * node)
{
  guint depth = 0;

  if (JSON_NODE_HOLDS_OBJECT (node)) {
    GList *values = json_object_get_values (json_node_get_object (node)), *l;

    for (l = values; l; l = l->next)
      depth = MAX (depth, node_depth (l->data));
    g_list_free (values);
    return depth + 1;
  }
  if (JSON_NODE_HOLDS_ARRAY (node)) {
    GList *values = json_array_get_elements (json_node_get_array (node)), *l;

    for (l = values; l; l = l->next)
      depth = MAX (depth, node_depth (l->data));
    g_list_free (values);
    return depth + 1;
  }
  return 0;
}

/* Every member name and string value under @node (not copied). */
static void
collect_strings (JsonNode * node, const gchar * name, GPtrArray * out)
{
  GList *l, *items = NULL;

  if (name != NULL)
    g_ptr_array_add (out, (gpointer) name);
  if (JSON_NODE_HOLDS_OBJECT (node)) {
    JsonObject *o = json_node_get_object (node);

    items = json_object_get_members (o);
    for (l = items; l; l = l->next)
      collect_strings (json_object_get_member (o, l->data), l->data, out);
  } else if (JSON_NODE_HOLDS_ARRAY (node)) {
    items = json_array_get_elements (json_node_get_array (node));
    for (l = items; l; l = l->next)
      collect_strings (l->data, NULL, out);
  } else if (JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING) {
    g_ptr_array_add (out, (gpointer) json_node_get_string (node));
  }
  g_list_free (items);
}

static void
read_members (JsonObject * obj, guint level)
{
  const gchar **m;

  for (m = members; *m; m++) {
    const gchar *s = otc_signalling_get_string (obj, *m);
    gboolean b = FALSE, has_b = otc_signalling_get_bool (obj, *m, &b);
    guint u = 0;
    gboolean has_u = otc_signalling_get_uint (obj, *m, &u);
    JsonNode *node = json_object_get_member (obj, *m);

    /* one member has one type */
    FUZZ_CHECK ((s != NULL) + has_b + has_u <= 1);
    if (s != NULL || has_b || has_u)
      FUZZ_CHECK (node != NULL && JSON_NODE_HOLDS_VALUE (node));
    if (s != NULL)
      FUZZ_CHECK (g_utf8_validate (s, -1, NULL));
    if (has_b)
      FUZZ_CHECK (b == TRUE || b == FALSE);
    if (has_u)
      FUZZ_CHECK (json_node_get_int (node) == (gint64) u);

    /* the nested objects the clients read: "e2ee", "stream",
     * "connection", the items of "streams" and "connections" */
    if (node != NULL && level < 2) {
      if (JSON_NODE_HOLDS_OBJECT (node)) {
        read_members (json_node_get_object (node), level + 1);
      } else if (JSON_NODE_HOLDS_ARRAY (node)) {
        JsonArray *a = json_node_get_array (node);
        guint i, n = MIN (json_array_get_length (a), 8);

        for (i = 0; i < n; i++) {
          JsonNode *item = json_array_get_element (a, i);

          if (JSON_NODE_HOLDS_OBJECT (item))
            read_members (json_node_get_object (item), level + 1);
        }
      }
    }
  }
}

static void
error_round_trip (const gchar * request_id, gint code)
{
  JsonObject *err = otc_signalling_new_error (code, "fuzz", request_id);
  gchar *text = otc_signalling_to_string (err);       /* takes err */
  gint c2 = 0;
  gchar *why = NULL;
  JsonObject *back = otc_signalling_parse (text, strlen (text), &c2, &why);
  gint64 back_code;

  FUZZ_CHECK (back != NULL && why == NULL);
  FUZZ_CHECK (g_strcmp0 (otc_signalling_get_string (back, "type"),
          "error") == 0);
  back_code = json_object_get_int_member_with_default (back, "code", -1);
  FUZZ_CHECK (back_code == code);
  FUZZ_CHECK (g_strcmp0 (otc_signalling_get_string (back, "requestId"),
          request_id) == 0);
  json_object_unref (back);
  g_free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  /* exactly the frame's bytes, not NUL-terminated: the router hands
   * libsoup's GBytes over as they are */
  gchar *text = (gchar *) fuzz_dup (data, size);
  gint code = 0;
  gchar *why = NULL;
  JsonObject *obj = otc_signalling_parse (text, size, &code, &why);

  if (obj == NULL) {
    FUZZ_CHECK (why != NULL);
    /* the reason goes back to the client in an error reply */
    if (!g_utf8_validate (why, -1, NULL))
      fuzz_known_bug ("signalling-lone-surrogate",
          "a refusal reason that is not UTF-8");
    FUZZ_CHECK (code == OTC_SIGNALLING_ERROR_BAD_MESSAGE
        || code == OTC_SIGNALLING_ERROR_TOO_LARGE);
    g_free (why);
  } else {
    JsonNode *root = json_node_new (JSON_NODE_OBJECT);
    GPtrArray *strings = g_ptr_array_new ();
    guint i;

    FUZZ_CHECK (why == NULL && otc_signalling_get_string (obj, "type"));
    json_node_set_object (root, obj);
    FUZZ_CHECK (node_depth (root) <= OTC_SIGNALLING_MAX_DEPTH);
    collect_strings (root, NULL, strings);
    json_node_unref (root);
    for (i = 0; i < strings->len; i++) {
      if (!g_utf8_validate (strings->pdata[i], -1, NULL)
          && fuzz_known_bug ("signalling-lone-surrogate",
              "an accepted message holds a string that is not UTF-8"))
        break;
    }
    if (i == strings->len) {
      read_members (obj, 0);
      for (i = 0; i < MIN (strings->len, 8); i++)
        error_round_trip (strings->pdata[i], 400);
    }
    g_ptr_array_unref (strings);

    json_object_unref (obj);
  }

  /* the input (when it is text) as the requestId of an error reply */
  if (size <= 1024 && g_utf8_validate (text, size, NULL)
      && memchr (text, '\0', size) == NULL) {
    gchar *id = g_strndup (text, size);

    error_round_trip (id, 400 + (gint) (size % 1200));
    g_free (id);
  }
  g_free (text);
  return 0;
}
