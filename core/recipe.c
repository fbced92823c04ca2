#include "recipe.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glob.h"
#include "ignore.h"
#include "util.h"
#include "yaml.h"

/* Generated at build time from lua/ and recipes/ (see the Makefile). */
struct embedded_file {
  const char *name;
  const char *data;
  size_t len;
};
extern const struct embedded_file dbx_embedded[];
extern const size_t dbx_embedded_count;

const recipe_limits recipe_default_limits = {500000000ull, (size_t)1 << 30};

#define HOOK_EVERY 10000

struct state {
  graph *g;
  recipe_limits lim;
  size_t bytes;
  unsigned long long steps;
  int exceeded; /* the step limit was hit: every pcall re-raises from now on */
};

static struct state *get_state(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct state *st = ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    free(ptr);
    st->bytes -= osize;
    return NULL;
  }
  if (nsize > osize && st->bytes + (nsize - osize) > st->lim.max_bytes) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) st->bytes = st->bytes - osize + nsize;
  return p;
}

static void step_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  struct state *st = get_state(L);
  st->steps += HOOK_EVERY;
  if (st->steps <= st->lim.max_steps) return;
  st->exceeded = 1;
  lua_Debug here;
  /* name the recipe line that was running, not the code that called it */
  if (lua_getstack(L, 0, &here) && lua_getinfo(L, "Sl", &here) && here.currentline > 0)
    lua_pushfstring(L, "%s:%d: ", here.short_src, here.currentline);
  else
    lua_pushliteral(L, "");
  lua_pushfstring(L, "recipe still running after %I million Lua instructions (an endless loop?)",
                  (lua_Integer)(st->steps / 1000000ull));
  lua_concat(L, 2);
  lua_error(L);
}

const char *recipe_embedded(const char *name, size_t *len) {
  static strvec keep; /* override files read once, alive until exit */
  const char *over = getenv("DBX_LUA_PATH");
  if (over && *over) {
    char *p = path_join(over, name), *data;
    size_t n;
    int rc = read_file(p, &data, &n);
    free(p);
    if (rc == 0) {
      sv_push_own(&keep, data);
      *len = n;
      return data;
    }
  }
  for (size_t i = 0; i < dbx_embedded_count; i++)
    if (strcmp(dbx_embedded[i].name, name) == 0) {
      *len = dbx_embedded[i].len;
      return dbx_embedded[i].data;
    }
  return NULL;
}

void recipe_embedded_text(strbuf *sb) {
  for (size_t i = 0; i < dbx_embedded_count; i++) {
    sb_adds(sb, dbx_embedded[i].name);
    sb_addn(sb, dbx_embedded[i].data, dbx_embedded[i].len);
  }
}

/* "dbx.x" -> "lua/dbx/x.lua", "dbx.recipes.x" -> "recipes/x.lua"; NULL otherwise. */
static char *module_file(const char *mod) {
  if (strncmp(mod, "dbx.recipes.", 12) == 0) return xasprintf("recipes/%s.lua", mod + 12);
  if (strncmp(mod, "dbx.", 4) == 0) {
    char *f = xasprintf("lua/%s.lua", mod);
    for (char *p = f + 4; *p && strcmp(p, ".lua") != 0; p++)
      if (*p == '.') *p = '/';
    return f;
  }
  return NULL;
}

/* package.searchers entry: embedded dbx modules only. */
static int search_embedded(lua_State *L) {
  const char *mod = luaL_checkstring(L, 1);
  char *file = module_file(mod);
  size_t len;
  const char *src = file ? recipe_embedded(file, &len) : NULL;
  if (!src) {
    free(file);
    lua_pushfstring(L, "no dbx module '%s'", mod);
    return 1;
  }
  char *chunk = xasprintf("=%s", file);
  int rc = luaL_loadbufferx(L, src, len, chunk, "t");
  free(chunk);
  free(file);
  if (rc != LUA_OK) return lua_error(L);
  lua_pushstring(L, mod);
  return 2;
}

static int is_public(const char *mod) {
  return strncmp(mod, "dbx.", 4) == 0 && strcmp(mod, "dbx.core") != 0 &&
         strcmp(mod, "dbx.recipe") != 0;
}

static int l_public_module(lua_State *L) {
  const char *mod = luaL_checkstring(L, 1);
  char *file = module_file(mod);
  size_t len;
  lua_pushboolean(L, is_public(mod) && file && recipe_embedded(file, &len));
  free(file);
  return 1;
}

static int l_public_modules(lua_State *L) {
  lua_newtable(L);
  int n = 0;
  for (size_t i = 0; i < dbx_embedded_count; i++) {
    const char *f = dbx_embedded[i].name;
    char *mod = NULL;
    if (strncmp(f, "lua/", 4) == 0) {
      mod = xstrndup(f + 4, strlen(f) - 8);
      for (char *p = mod; *p; p++)
        if (*p == '/') *p = '.';
    } else if (strncmp(f, "recipes/", 8) == 0) {
      mod = xasprintf("dbx.recipes.%.*s", (int)(strlen(f) - 12), f + 8);
    }
    if (mod && is_public(mod)) {
      lua_pushstring(L, mod);
      lua_rawseti(L, -2, ++n);
    }
    free(mod);
  }
  return 1;
}

/* Project-relative path of p relative to dir, or raise a caller error. */
static char *norm_or_error(lua_State *L, const char *dir, const char *p, const char *what) {
  char *j = path_join(dir, p);
  char *n = path_norm_rel(j);
  free(j);
  if (!n || !*n) {
    free(n);
    lua_pushfstring(L, "%s '%s' is outside the project", what, p);
    return NULL;
  }
  return n;
}

static int l_norm(lua_State *L) {
  char *n = norm_or_error(L, luaL_checkstring(L, 1), luaL_checkstring(L, 2), "path");
  if (!n) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushstring(L, n);
  free(n);
  return 1;
}

static int l_read(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1), *p = luaL_checkstring(L, 2);
  char *n = norm_or_error(L, dir, p, "file");
  if (!n) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  char *data;
  size_t len;
  int rc = read_file(n, &data, &len);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", n, strerror(-rc));
    if (rc == -ENOENT) sv_push_own(&get_state(L)->g->recipe_absent, n);
    else free(n);
    return 2;
  }
  sv_push_own(&get_state(L)->g->recipe_files, n);
  lua_pushlstring(L, data, len);
  free(data);
  return 1;
}

/* core.exists(dir, path): "file", "dir" or nil (links followed). It reads no
 * bytes, so the file is no input of the recipe: its folder's listing is (the
 * recipe runs again when an entry comes or goes), or the absent path itself.
 * (dbx dev takes an edit of a file the recipe read for a recipe change.) */
static int l_exists(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1), *p = luaL_checkstring(L, 2);
  char *n = norm_or_error(L, dir, p, "path");
  if (!n) return 0;
  graph *g = get_state(L)->g;
  struct stat st;
  if (stat(n, &st) < 0) {
    sv_push_own(&g->recipe_absent, n);
    return 0;
  }
  char *slash = strrchr(n, '/');
  sv_push_own(&g->recipe_dirs, slash ? xstrndup(n, (size_t)(slash - n)) : xstrdup("."));
  free(n);
  lua_pushstring(L, S_ISDIR(st.st_mode) ? "dir" : "file");
  return 1;
}

static int l_glob(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1), *pat = luaL_checkstring(L, 2);
  char *n = norm_or_error(L, dir, pat, "glob pattern");
  if (!n) return luaL_error(L, "glob: %s", lua_tostring(L, -1));
  strvec out = {0};
  char *gerr = NULL;
  graph *g = get_state(L)->g;
  /* a link that leads nowhere is left out; the graph is evaluated again once it leads somewhere */
  glob_expand_logged(n, &out, &g->recipe_dirs, &g->recipe_absent, &gerr);
  free(n);
  if (gerr) {
    sv_free(&out);
    lua_pushfstring(L, "glob: %s", gerr);
    free(gerr);
    return lua_error(L);
  }
  size_t skip = *dir ? strlen(dir) + 1 : 0;
  lua_createtable(L, (int)out.n, 0);
  for (size_t i = 0; i < out.n; i++) {
    lua_pushstring(L, out.v[i] + skip);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  sv_free(&out);
  return 1;
}

static int l_closest(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 2);
  const char **c = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *c);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 2, i);
    c[i - 1] = lua_tostring(L, -1); /* stays referenced by the table */
    lua_pop(L, 1);
  }
  const char *best = closest_name(name, c, (size_t)n);
  if (best) lua_pushstring(L, best);
  else lua_pushnil(L);
  free(c);
  return 1;
}

/* os.getenv for recipes: the value read becomes part of what the evaluation depends on. */
static int l_getenv(lua_State *L) {
  const char *name = luaL_checkstring(L, 1), *v = getenv(name);
  graph *g = get_state(L)->g;
  sv_push_own(&g->recipe_env, v ? xasprintf("%s=%s", name, v) : xstrdup(name));
  if (v) lua_pushstring(L, v);
  else lua_pushnil(L);
  return 1;
}

/* Whether the step limit was hit (the sandbox's pcall re-raises then). */
static int l_exceeded(lua_State *L) {
  lua_pushboolean(L, get_state(L)->exceeded);
  return 1;
}

/* core.yaml(text): the first document as a Lua value, or nil and "line N: problem". */
static int l_yaml(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  if (yaml_push_lua(L, text, len) == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static int l_say(lua_State *L) {
  fprintf(stderr, "%s\n", luaL_checkstring(L, 1));
  return 0;
}

static int open_core(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"glob", l_glob},       {"read", l_read},       {"exists", l_exists},
      {"norm", l_norm},       {"closest", l_closest},
      {"say", l_say},         {"public_module", l_public_module},
      {"getenv", l_getenv},   {"exceeded", l_exceeded},
      {"public_modules", l_public_modules}, {"yaml", l_yaml},
      {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}

/* Message handler: the error plus a traceback through recipe files only. */
/* The number of levels on L's stack (found in O(log n) calls, each O(level)). */
static int stack_depth(lua_State *L) {
  lua_Debug ar;
  int lo = 1, hi = 1;
  while (lua_getstack(L, hi, &ar)) lo = hi, hi *= 2;
  while (lo < hi - 1) {
    int mid = (lo + hi) / 2;
    if (lua_getstack(L, mid, &ar)) lo = mid;
    else hi = mid;
  }
  return lo;
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_tolstring(L, 1, NULL);
  strbuf sb = {0};
  sb_adds(&sb, msg);
  if (strstr(msg, "stack overflow")) sb_adds(&sb, " (a function that calls itself without end?)");
  lua_Debug ar;
  int frames = 0, depth = stack_depth(L);
  /* a runaway recursion has a stack of many thousand levels: show its first
   * FIRST and last LAST recipe levels (walking them all would take minutes) */
  enum { FIRST = 10, LAST = 11 };
  for (int level = 1; level <= depth && lua_getstack(L, level, &ar); level++) {
    if (level == FIRST + 1 && depth > FIRST + LAST) {
      sb_addf(&sb, "\n  ... (%d more levels)", depth - FIRST - LAST);
      level = depth - LAST;
      continue;
    }
    lua_getinfo(L, "nSl", &ar);
    if (ar.source[0] != '@' || ar.currentline <= 0) continue;
    if (!frames++) sb_adds(&sb, "\nrecipe traceback:");
    if (*ar.what == 'm') sb_addf(&sb, "\n  %s:%d: in main chunk", ar.short_src, ar.currentline);
    else if (ar.name) sb_addf(&sb, "\n  %s:%d: in function '%s'", ar.short_src, ar.currentline, ar.name);
    else sb_addf(&sb, "\n  %s:%d: in a function", ar.short_src, ar.currentline);
  }
  lua_pushstring(L, sb.buf);
  sb_free(&sb);
  return 1;
}

/* Read the list field name of the table on top into sv. */
static void get_list(lua_State *L, const char *name, strvec *sv) {
  lua_getfield(L, -1, name);
  if (lua_istable(L, -1)) {
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, -1, i);
      if (lua_type(L, -1) == LUA_TSTRING) sv_push(sv, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

static char *get_str(lua_State *L, const char *name) {
  lua_getfield(L, -1, name);
  char *s = lua_type(L, -1) == LUA_TSTRING ? xstrdup(lua_tostring(L, -1)) : NULL;
  lua_pop(L, 1);
  return s;
}

/* Read the string map field name of the table on top: as sorted "k=v" into sv,
 * or (sv NULL) as params of t named prefix + k. */
static void get_map(lua_State *L, const char *name, strvec *sv, const char *prefix, target *t) {
  lua_getfield(L, -1, name);
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        if (!sv) {
          char *pn = xasprintf("%s%s", prefix, lua_tostring(L, -2));
          target_param(t, pn, lua_tostring(L, -1));
          free(pn);
        } else {
          sv_push_own(sv, xasprintf("%s=%s", lua_tostring(L, -2), lua_tostring(L, -1)));
        }
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (sv) sv_sort_uniq(sv);
}

static char *json_list(const strvec *sv) {
  strbuf sb = {0};
  sb_addc(&sb, '[');
  for (size_t i = 0; i < sv->n; i++) {
    if (i) sb_addc(&sb, ',');
    sb_add_json_str(&sb, sv->v[i]);
  }
  sb_addc(&sb, ']');
  return sb_take(&sb);
}

/* Whether p lies in the context folder ctx (of length plen; "" is the project). */
static int in_context(const char *p, const char *ctx, size_t plen) {
  return !plen || (strncmp(p, ctx, plen) == 0 && p[plen] == '/');
}

/* An image's inputs must lie in its context folder; what the context's
 * .dockerignore (and the safe defaults) leave out is dropped from them, and
 * from dangling (the links its globs left out) too. */
static int filter_context(target *t, graph *g, strvec *dangling, char **err) {
  ignore_rules rules = {0};
  ignore_defaults(&rules);
  char *di = path_join(t->context, ".dockerignore"), *text;
  if (read_file(di, &text, NULL) == 0) {
    ignore_parse(&rules, text);
    free(text);
    sv_push_own(&g->recipe_files, di);
  } else {
    sv_push_own(&g->recipe_absent, di);
  }
  size_t plen = strlen(t->context), w = 0;
  int rc = 0;
  for (size_t i = 0; i < t->inputs.n; i++) {
    const char *p = t->inputs.v[i];
    if (!in_context(p, t->context, plen)) {
      if (!rc)
        *err = xasprintf("%s: image '%s': input '%s' is outside its context folder '%s'", t->where,
                         t->name, p, t->context);
      rc = -1;
      free(t->inputs.v[i]);
      continue;
    }
    if (ignore_match(&rules, p + (plen ? plen + 1 : 0))) free(t->inputs.v[i]);
    else t->inputs.v[w++] = t->inputs.v[i];
  }
  t->inputs.n = w;
  w = 0;
  for (size_t i = 0; i < dangling->n; i++) {
    const char *p = dangling->v[i];
    if (in_context(p, t->context, plen) && !ignore_match(&rules, p + (plen ? plen + 1 : 0)))
      dangling->v[w++] = dangling->v[i];
    else
      free(dangling->v[i]);
  }
  dangling->n = w;
  ignore_free(&rules);
  return rc;
}

/* p (relative to t's recipe folder) as a project-relative path, or NULL with
 * *err set when it leaves the project. */
static char *project_path(const target *t, const char *what, const char *p, char **err) {
  char *j = path_join(t->dir, p), *n = path_norm_rel(j);
  free(j);
  if (n && *n) return n;
  free(n);
  *err = xasprintf("%s: target '%s': %s '%s' is outside the project", t->where, t->name, what, p);
  return NULL;
}

/* Expand t's input patterns into t->inputs. A link a glob matched that leads
 * nowhere is left out of them (so of the key and the context), becomes a
 * "dangling" meta fact for the build to warn about, and a file the graph
 * depends on the absence of. 0, or -1 with *err set. */
static int expand_inputs(target *t, graph *g, char **err) {
  strvec dangling = {0};
  int rc = 0;
  for (size_t i = 0; i < t->patterns.n && rc == 0; i++) {
    char *n = project_path(t, "input", t->patterns.v[i], err);
    if (!n) rc = -1;
    char *gerr = NULL;
    if (n) glob_expand_logged(n, &t->inputs, &g->recipe_dirs, &dangling, &gerr);
    free(n);
    if (gerr) {
      *err = xasprintf("%s: target '%s': input '%s': %s", t->where, t->name, t->patterns.v[i], gerr);
      free(gerr);
      rc = -1;
    }
  }
  sv_sort_uniq(&t->inputs);
  sv_sort_uniq(&dangling);
  for (size_t i = 0; i < dangling.n; i++) sv_push(&g->recipe_absent, dangling.v[i]);
  if (rc == 0 && t->kind == KIND_IMAGE) rc = filter_context(t, g, &dangling, err);
  for (size_t i = 0; i < dangling.n && rc == 0; i++)
    sv_push_own(&t->meta, xasprintf("dangling=%s", dangling.v[i]));
  sv_sort_uniq(&t->meta);
  sv_free(&dangling);
  return rc;
}

/* Expand inputs and outputs to project-relative paths and derive params. */
static int finish_target(target *t, graph *g, char **err) {
  if (expand_inputs(t, g, err) < 0) return -1;
  for (size_t i = 0; i < t->outputs.n; i++) {
    char *n = project_path(t, "output", t->outputs.v[i], err);
    if (!n) return -1;
    free(t->outputs.v[i]);
    t->outputs.v[i] = n;
  }
  if (t->kind == KIND_CMD) {
    char *v = json_list(&t->argv);
    target_param(t, "run", v);
    free(v);
    if (t->outputs.n) {
      v = json_list(&t->outputs);
      target_param(t, "outputs", v);
      free(v);
    }
    target_param(t, "cwd", *t->dir ? t->dir : ".");
    for (size_t i = 0; i < t->env.n; i++) {
      char *eq = strchr(t->env.v[i], '=');
      char *name = xasprintf("env.%.*s", (int)(eq - t->env.v[i]), t->env.v[i]);
      target_param(t, name, eq + 1);
      free(name);
    }
  }
  return 0;
}

static int to_graph(lua_State *L, graph *g, char **err) {
  lua_Integer n = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, -1, i);
    char *name = get_str(L, "name"), *kind = get_str(L, "kind");
    target_kind k = kind && strcmp(kind, "group") == 0   ? KIND_GROUP
                    : kind && strcmp(kind, "image") == 0 ? KIND_IMAGE
                                                         : KIND_CMD;
    target *clash = NULL;
    target *t = name ? graph_add(g, name, k, &clash) : NULL;
    free(kind);
    if (!t) {
      *err = xasprintf("duplicate target '%s'", name ? name : "?");
      free(name);
      return -1;
    }
    free(name);
    t->where = get_str(L, "where");
    free(t->dir);
    t->dir = get_str(L, "dir");
    if (!t->dir) t->dir = xstrdup("");
    t->desc = get_str(L, "desc");
    t->pool = get_str(L, "pool");
    get_list(L, "deps", &t->deps);
    get_list(L, "inputs", &t->patterns);
    get_list(L, "run", &t->argv);
    get_list(L, "outputs", &t->outputs);
    get_map(L, "env", &t->env, NULL, t);
    get_map(L, "params", NULL, "", t);
    get_map(L, "meta", &t->meta, NULL, t);
    if (k == KIND_IMAGE) {
      char *df = get_str(L, "dockerfile"), *stage = get_str(L, "stage");
      if (df) target_param(t, "dockerfile", df);
      if (stage) target_param(t, "stage", stage);
      free(df);
      free(stage);
      get_map(L, "files", NULL, "file:", t);
      get_map(L, "build_args", NULL, "build-arg.", t);
      get_list(L, "tags", &t->tags);
      get_list(L, "args", &t->args);
      get_map(L, "secrets", &t->secrets, NULL, t);
      lua_getfield(L, -1, "gen");
      if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
          if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            sv_push(&t->gen_names, lua_tostring(L, -2));
            sv_push(&t->gen_texts, lua_tostring(L, -1));
          }
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
      t->network = get_str(L, "network");
      char *ctx = get_str(L, "context");
      char *j = path_join(t->dir, ctx ? ctx : ".");
      t->context = path_norm_rel(j);
      free(j);
      free(ctx);
      if (!t->context) {
        *err = xasprintf("%s: image '%s': its context folder is outside the project", t->where, t->name);
        lua_pop(L, 1);
        return -1;
      }
      target_param(t, "context", *t->context ? t->context : ".");
    }
    lua_pop(L, 1);
    if (finish_target(t, g, err) < 0) return -1;
  }
  return 0;
}

/* A Lua state whose modules are dbx's embedded ones (and dbx.core), with the
 * step hook and the allocation limit of st; NULL when Lua cannot start. */
static lua_State *new_state(struct state *st) {
  lua_State *L = lua_newstate(limited_alloc, st);
  if (!L) return NULL;
  luaL_openlibs(L);
  lua_sethook(L, step_hook, LUA_MASKCOUNT, HOOK_EVERY);
  lua_getglobal(L, "package");
  lua_pushstring(L, "");
  lua_setfield(L, -2, "path");
  lua_pushstring(L, "");
  lua_setfield(L, -2, "cpath");
  lua_newtable(L);
  lua_getfield(L, -2, "searchers");
  lua_rawgeti(L, -1, 1); /* the preload searcher */
  lua_rawseti(L, -3, 1);
  lua_pop(L, 1);
  lua_pushcfunction(L, search_embedded);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, -2, "searchers");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, open_core);
  lua_setfield(L, -2, "dbx.core");
  lua_pop(L, 2);
  return L;
}

/* Call require(mod)[fn](arg, arg2) under the traceback handler (arg2 may be
 * NULL), leaving nres results on the stack. LUA_OK, or the error status with
 * *err set. */
static int call_module(lua_State *L, const char *mod, const char *fn, const char *arg, const char *arg2,
                       int nres, char **err) {
  lua_pushcfunction(L, traceback);
  int h = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  int status = lua_pcall(L, 1, 1, h);
  if (status == LUA_OK) {
    lua_getfield(L, -1, fn);
    lua_pushstring(L, arg);
    if (arg2) lua_pushstring(L, arg2);
    status = lua_pcall(L, arg2 ? 2 : 1, nres, h);
  }
  if (status == LUA_ERRMEM) {
    struct state *st = get_state(L);
    *err = xasprintf("%s: the recipe used more than %zu MiB of memory", arg, st->lim.max_bytes >> 20);
  } else if (status != LUA_OK) {
    *err = xstrdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "recipe failed");
  }
  return status;
}

int recipe_load(const char *file, graph *g, const recipe_limits *lim, char **err) {
  struct state st = {.g = g, .lim = lim ? *lim : recipe_default_limits};
  lua_State *L = new_state(&st);
  if (!L) {
    *err = xstrdup("cannot start Lua");
    return -1;
  }
  int rc = -1;
  if (call_module(L, "dbx.recipe", "run", file, NULL, 1, err) != LUA_OK) goto out;
  if (!lua_istable(L, -1)) {
    *err = xstrdup("recipe evaluation returned no targets");
    goto out;
  }
  rc = to_graph(L, g, err);
out:
  lua_close(L);
  return rc;
}

int recipe_init_text(const char *dir, char **text, char **err) {
  graph *g = graph_new(); /* collects what init reads; not kept */
  struct state st = {.g = g, .lim = recipe_default_limits};
  lua_State *L = new_state(&st);
  char here[4096];
  int rc = -1;
  if (!L) {
    *err = xstrdup("cannot start Lua");
    goto out;
  }
  if (!getcwd(here, sizeof here)) here[0] = 0;
  if (call_module(L, "dbx.init", "generate", dir, here, 3, err) != LUA_OK) goto out;
  if (lua_isstring(L, -3)) {
    *text = xstrdup(lua_tostring(L, -3));
    rc = 0;
  } else if (lua_isstring(L, -2) && strcmp(lua_tostring(L, -2), "up") == 0 && lua_isinteger(L, -1)) {
    rc = (int)lua_tointeger(L, -1); /* the recipe belongs that many folders up */
  } else {
    *err = xstrdup(lua_isstring(L, -2) ? lua_tostring(L, -2) : "dbx init failed");
    if (lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "above") == 0) rc = RECIPE_INIT_LOCK_ABOVE;
  }
out:
  if (L) lua_close(L);
  graph_free(g);
  return rc;
}
