#include <string.h>

#include "otc-signalling.h"

/* json-glib has no depth limit of its own; count brackets outside strings
 * first, so that deeply nested input is refused before it is parsed. */
static gboolean
depth_ok (const gchar * text, gsize len)
{
  gboolean in_string = FALSE, escaped = FALSE;
  gint depth = 0;
  gsize i;

  for (i = 0; i < len; i++) {
    gchar c = text[i];

    if (in_string) {
      if (escaped)
        escaped = FALSE;
      else if (c == '\\')
        escaped = TRUE;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '{' || c == '[') {
      if (++depth > OTC_SIGNALLING_MAX_DEPTH)
        return FALSE;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return TRUE;
}

/* JSON escapes can still make invalid UTF-8 (a lone surrogate, "\ud800"),
 * which json-glib passes through: every string and member name is checked,
 * so that nothing invalid is echoed back or handed on. */
static gboolean
node_utf8_ok (JsonNode * node)
{
  if (JSON_NODE_HOLDS_VALUE (node)) {
    return json_node_get_value_type (node) != G_TYPE_STRING
        || g_utf8_validate (json_node_get_string (node), -1, NULL);
  } else if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *a = json_node_get_array (node);
    guint i;

    for (i = 0; i < json_array_get_length (a); i++)
      if (!node_utf8_ok (json_array_get_element (a, i)))
        return FALSE;
  } else if (JSON_NODE_HOLDS_OBJECT (node)) {
    JsonObjectIter it;
    const gchar *name;
    JsonNode *member;

    json_object_iter_init (&it, json_node_get_object (node));
    while (json_object_iter_next (&it, &name, &member))
      if (!g_utf8_validate (name, -1, NULL) || !node_utf8_ok (member))
        return FALSE;
  }
  return TRUE;
}

JsonObject *
otc_signalling_parse (const gchar * text, gsize len, gint * code,
    gchar ** why)
{
  JsonParser *parser;
  JsonNode *root;
  JsonObject *obj = NULL;
  GError *error = NULL;

  *code = OTC_SIGNALLING_ERROR_BAD_MESSAGE;
  if (len > OTC_SIGNALLING_MAX_MESSAGE) {
    *code = OTC_SIGNALLING_ERROR_TOO_LARGE;
    *why = g_strdup_printf ("Message of %" G_GSIZE_FORMAT " bytes; the limit "
        "is %d", len, OTC_SIGNALLING_MAX_MESSAGE);
    return NULL;
  }
  if (!g_utf8_validate (text, len, NULL)) {
    *why = g_strdup ("Message is not UTF-8");
    return NULL;
  }
  if (!depth_ok (text, len)) {
    *why = g_strdup_printf ("JSON nested deeper than %d levels",
        OTC_SIGNALLING_MAX_DEPTH);
    return NULL;
  }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, len, &error)) {
    /* the parser's message may quote a decoded, invalid, string */
    gchar *valid = g_utf8_make_valid (error->message, -1);

    *why = g_strdup_printf ("Not JSON: %s", valid);
    g_free (valid);
    g_error_free (error);
    g_object_unref (parser);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    *why = g_strdup ("A message is a JSON object");
  } else if (!node_utf8_ok (root)) {
    *why = g_strdup ("A string is not valid UTF-8 (lone surrogate escape?)");
  } else {
    obj = json_node_dup_object (root);
    if (otc_signalling_get_string (obj, "type") == NULL) {
      *why = g_strdup ("A message needs a string \"type\"");
      json_object_unref (obj);
      obj = NULL;
    }
  }
  g_object_unref (parser);
  return obj;
}

gchar *
otc_signalling_to_string (JsonObject * obj)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  gchar *s;

  json_node_take_object (node, obj);
  s = json_to_string (node, FALSE);
  json_node_unref (node);
  return s;
}

JsonObject *
otc_signalling_new (const gchar * type)
{
  JsonObject *obj = json_object_new ();

  json_object_set_string_member (obj, "type", type);
  return obj;
}

JsonObject *
otc_signalling_new_error (gint code, const gchar * message,
    const gchar * request_id)
{
  JsonObject *obj = otc_signalling_new ("error");

  json_object_set_int_member (obj, "code", code);
  json_object_set_string_member (obj, "message", message);
  if (request_id != NULL)
    json_object_set_string_member (obj, "requestId", request_id);
  return obj;
}

const gchar *
otc_signalling_get_string (JsonObject * obj, const gchar * member)
{
  JsonNode *n = json_object_get_member (obj, member);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

gboolean
otc_signalling_get_bool (JsonObject * obj, const gchar * member,
    gboolean * value)
{
  JsonNode *n = json_object_get_member (obj, member);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return FALSE;
  *value = json_node_get_boolean (n);
  return TRUE;
}

gboolean
otc_signalling_get_uint (JsonObject * obj, const gchar * member,
    guint * value)
{
  JsonNode *n = json_object_get_member (obj, member);
  gint64 v;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (n);
  if (v < 0 || v > G_MAXUINT)
    return FALSE;
  *value = (guint) v;
  return TRUE;
}
