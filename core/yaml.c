/* yaml: libyaml's document loader, then one walk over its nodes that builds
 * Lua values. The walk runs under lua_pcall so that a Lua memory error cannot
 * jump past yaml_document_delete. */
#include "yaml.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include <lauxlib.h>

struct walk {
  yaml_document_t *doc;
  int cache;     /* stack index of a table: node number -> its Lua value */
  int depth;
};

static int push_node(lua_State *L, struct walk *w, yaml_node_t *n);

static int is_plain(const yaml_node_t *n) { return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

static int plain_is(const yaml_node_t *n, const char *const *words) {
  if (!is_plain(n)) return 0;
  for (; *words; words++)
    if (strcmp((const char *)n->data.scalar.value, *words) == 0) return 1;
  return 0;
}

static const char *const NULLS[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const TRUES[] = {"true", "True", "TRUE", NULL};
static const char *const FALSES[] = {"false", "False", "FALSE", NULL};

static int is_null(const yaml_node_t *n) { return n->type == YAML_SCALAR_NODE && plain_is(n, NULLS); }

/* A plain whole number that fits a Lua integer, into *v. */
static int plain_integer(const yaml_node_t *n, lua_Integer *v) {
  const char *s = (const char *)n->data.scalar.value;
  if (!is_plain(n) || !*s) return 0;
  const char *p = s + (*s == '-' || *s == '+');
  if (!*p || strspn(p, "0123456789") != strlen(p)) return 0;
  errno = 0;
  long long x = strtoll(s, NULL, 10);
  if (errno) return 0;
  *v = (lua_Integer)x;
  return 1;
}

static int fail_at(lua_State *L, const yaml_node_t *n, const char *what) {
  return luaL_error(L, "line %d: %s", (int)n->start_mark.line + 1, what);
}

static void push_scalar(lua_State *L, const yaml_node_t *n) {
  lua_Integer v;
  if (plain_is(n, TRUES)) lua_pushboolean(L, 1);
  else if (plain_is(n, FALSES)) lua_pushboolean(L, 0);
  else if (plain_integer(n, &v)) lua_pushinteger(L, v);
  else lua_pushlstring(L, (const char *)n->data.scalar.value, n->data.scalar.length);
}

/* Copy into the table at index t the entries of the table on top that t lacks. */
static void merge_missing(lua_State *L, int t) {
  int from = lua_gettop(L);
  if (lua_rawequal(L, from, t)) return; /* a mapping merging itself */
  lua_pushnil(L);
  while (lua_next(L, from)) {
    lua_pushvalue(L, -2);
    if (lua_rawget(L, t) == LUA_TNIL) {
      lua_pushvalue(L, -3);
      lua_pushvalue(L, -3);
      lua_rawset(L, t);
    }
    lua_pop(L, 2);
  }
}

static void fill_sequence(lua_State *L, struct walk *w, yaml_node_t *n, int t) {
  lua_Integer i = 0;
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    yaml_node_t *c = yaml_document_get_node(w->doc, *it);
    if (!c || is_null(c)) continue;
    push_node(L, w, c);
    lua_rawseti(L, t, ++i);
  }
}

static void fill_mapping(lua_State *L, struct walk *w, yaml_node_t *n, int t) {
  yaml_node_pair_t *pairs = n->data.mapping.pairs.start, *end = n->data.mapping.pairs.top;
  for (yaml_node_pair_t *p = pairs; p < end; p++) {
    yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
    if (!k || !v) continue;
    if (k->type != YAML_SCALAR_NODE) fail_at(L, k, "a mapping key must be a scalar");
    if (is_plain(k) && strcmp((const char *)k->data.scalar.value, "<<") == 0) continue;
    if (is_null(v)) continue;
    lua_pushlstring(L, (const char *)k->data.scalar.value, k->data.scalar.length);
    push_node(L, w, v);
    lua_rawset(L, t);
  }
  /* merge keys last, so that the mapping's own keys win wherever they stand */
  for (yaml_node_pair_t *p = pairs; p < end; p++) {
    yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
    if (!k || !v || !is_plain(k) || strcmp((const char *)k->data.scalar.value, "<<") != 0) continue;
    if (v->type == YAML_MAPPING_NODE) {
      push_node(L, w, v);
      merge_missing(L, t);
      lua_pop(L, 1);
      continue;
    }
    if (v->type != YAML_SEQUENCE_NODE) fail_at(L, v, "'<<' must name a mapping or a list of mappings");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
      yaml_node_t *m = yaml_document_get_node(w->doc, *it);
      if (!m || m->type != YAML_MAPPING_NODE) fail_at(L, v, "'<<' must name a mapping or a list of mappings");
      push_node(L, w, m);
      merge_missing(L, t);
      lua_pop(L, 1);
    }
  }
}

/* Push the value of n; a collection seen before (an alias) is pushed again as
 * the same table, so shared and even cyclic nodes cost nothing more. */
static int push_node(lua_State *L, struct walk *w, yaml_node_t *n) {
  if (n->type == YAML_SCALAR_NODE) {
    push_scalar(L, n);
    return 1;
  }
  lua_Integer id = (lua_Integer)(n - w->doc->nodes.start) + 1;
  if (lua_rawgeti(L, w->cache, id) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  if (w->depth >= YAML_MAX_DEPTH) fail_at(L, n, "nested too deep");
  luaL_checkstack(L, 8, "yaml");
  w->depth++;
  lua_newtable(L);
  int t = lua_gettop(L);
  lua_pushvalue(L, t);
  lua_rawseti(L, w->cache, id);
  if (n->type == YAML_SEQUENCE_NODE) fill_sequence(L, w, n, t);
  else fill_mapping(L, w, n, t);
  w->depth--;
  return 1;
}

static int walk_document(lua_State *L) {
  struct walk *w = lua_touserdata(L, 1);
  lua_newtable(L);
  w->cache = lua_gettop(L);
  yaml_node_t *root = yaml_document_get_root_node(w->doc);
  if (!root || is_null(root)) lua_pushnil(L);
  else push_node(L, w, root);
  return 1;
}

int yaml_push_lua(lua_State *L, const char *text, size_t len) {
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    lua_pushstring(L, "line 1: out of memory");
    return -1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int rc = -1;
  if (!yaml_parser_load(&parser, &doc)) {
    lua_pushfstring(L, "line %d: %s%s%s", (int)parser.problem_mark.line + 1,
                    parser.context ? parser.context : "", parser.context ? ": " : "",
                    parser.problem ? parser.problem : "not YAML");
    goto out_parser;
  }
  struct walk w = {.doc = &doc};
  lua_pushcfunction(L, walk_document);
  lua_pushlightuserdata(L, &w);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) rc = 0;
  else if (!lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_pushstring(L, "line 1: out of memory");
  }
  yaml_document_delete(&doc);
out_parser:
  yaml_parser_delete(&parser);
  return rc;
}
