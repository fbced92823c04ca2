/* File format: a sequence of tokens "LEN:BYTES" (LEN in decimal), so any byte
 * may appear in a string:
 *
 *   "dbx-graph-4" FINGERPRINT ROOT
 *   then sections, each a tag token and its fields:
 *   "F" path size mtime_ns ctime_ns ino     a file the recipes read
 *   "D" path mtime_ns ino | "D" path "-" "-" a folder globs listed (or its absence)
 *   "A" path                                a file looked for and not found
 *   "E" name "1" value | "E" name "0" ""    an environment variable read (or unset)
 *   "T" name kind where dir desc pool network context
 *       then the lists deps inputs argv env outputs tags gen_names gen_texts meta args secrets,
 *       each a count and its items, and params as a count and name/value pairs
 *   "."                                     the end
 *
 * FINGERPRINT is SHA-256 of dbx's version and every Lua file it embeds (and
 * so a changed recipe library invalidates the cache; with DBX_LUA_PATH set
 * nothing is cached. A file whose mtime is not older than the cache's own is
 * treated as changed. */
#include "graphcache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hash.h"
#include "recipe.h"
#include "statcache.h"

#define MAGIC "dbx-graph-3"

#ifndef DBX_VERSION
#define DBX_VERSION "0"
#endif

static void tok(strbuf *sb, const char *s) {
  sb_addf(sb, "%zu:", strlen(s));
  sb_adds(sb, s);
}

static void tok_num(strbuf *sb, int64_t v) {
  char b[32];
  snprintf(b, sizeof b, "%" PRId64, v);
  tok(sb, b);
}

static void tok_list(strbuf *sb, const strvec *sv) {
  tok_num(sb, (int64_t)sv->n);
  for (size_t i = 0; i < sv->n; i++) tok(sb, sv->v[i]);
}

static void fingerprint(char hex[HASH_HEX]) {
  strbuf sb = {0};
  sb_adds(&sb, DBX_VERSION);
  recipe_embedded_text(&sb);
  unsigned char d[HASH_LEN];
  hash_buf(sb.buf, sb.len, d);
  sb_free(&sb);
  hash_hex(d, hex);
}

static int64_t ts(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static int lua_overridden(void) {
  const char *over = getenv("DBX_LUA_PATH");
  return over && *over;
}

int graphcache_save(const graph *g, const char *path, const char *root) {
  if (lua_overridden()) return 0;
  strbuf sb = {0};
  char fp[HASH_HEX];
  fingerprint(fp);
  tok(&sb, MAGIC);
  tok(&sb, fp);
  tok(&sb, root);
  for (size_t i = 0; i < g->recipe_files.n; i++) {
    file_stat st;
    if (file_stat_get(g->recipe_files.v[i], &st) < 0) goto skip; /* vanished: do not cache */
    tok(&sb, "F");
    tok(&sb, g->recipe_files.v[i]);
    tok_num(&sb, st.size);
    tok_num(&sb, st.mtime_ns);
    tok_num(&sb, st.ctime_ns);
    tok_num(&sb, (int64_t)st.ino);
  }
  for (size_t i = 0; i < g->recipe_dirs.n; i++) {
    struct stat st;
    tok(&sb, "D");
    tok(&sb, g->recipe_dirs.v[i]);
    if (stat(g->recipe_dirs.v[i], &st) == 0) {
      tok_num(&sb, ts(st.st_mtim));
      tok_num(&sb, (int64_t)st.st_ino);
    } else {
      tok(&sb, "-");
      tok(&sb, "-");
    }
  }
  for (size_t i = 0; i < g->recipe_absent.n; i++) {
    tok(&sb, "A");
    tok(&sb, g->recipe_absent.v[i]);
  }
  for (size_t i = 0; i < g->recipe_env.n; i++) {
    const char *e = g->recipe_env.v[i], *eq = strchr(e, '=');
    char *name = eq ? xstrndup(e, (size_t)(eq - e)) : xstrdup(e);
    tok(&sb, "E");
    tok(&sb, name);
    tok(&sb, eq ? "1" : "0");
    tok(&sb, eq ? eq + 1 : "");
    free(name);
  }
  for (size_t i = 0; i < g->n; i++) {
    const target *t = g->t[i];
    tok(&sb, "T");
    tok(&sb, t->name);
    tok(&sb, kind_name(t->kind));
    tok(&sb, t->where ? t->where : "");
    tok(&sb, t->dir);
    tok(&sb, t->desc ? t->desc : "\x01");
    tok(&sb, t->pool ? t->pool : "\x01");
    tok(&sb, t->network ? t->network : "\x01");
    tok(&sb, t->context ? t->context : "\x01");
    tok_list(&sb, &t->deps);
    tok_list(&sb, &t->inputs);
    tok_list(&sb, &t->argv);
    tok_list(&sb, &t->env);
    tok_list(&sb, &t->outputs);
    tok_list(&sb, &t->tags);
    tok_list(&sb, &t->gen_names);
    tok_list(&sb, &t->gen_texts);
    tok_list(&sb, &t->meta);
    tok_list(&sb, &t->args);
    tok_list(&sb, &t->secrets);
    tok_num(&sb, (int64_t)t->nparams);
    for (size_t k = 0; k < t->nparams; k++) {
      tok(&sb, t->params[k].name);
      tok(&sb, t->params[k].value);
    }
  }
  tok(&sb, ".");
  int rc = write_file_atomic(path, sb.buf, sb.len);
  sb_free(&sb);
  return rc;
skip:
  sb_free(&sb);
  return -ENOENT;
}

/* ---- loading ---- */

struct rd {
  const char *p, *end;
  int bad;
};

/* The next token (borrowed, not NUL-terminated) and its length; NULL at a fault. */
static const char *next(struct rd *r, size_t *n) {
  if (r->bad) return NULL;
  size_t len = 0;
  const char *p = r->p;
  while (p < r->end && *p >= '0' && *p <= '9') len = len * 10 + (size_t)(*p++ - '0');
  if (p >= r->end || *p != ':' || p == r->p || (size_t)(r->end - p - 1) < len) {
    r->bad = 1;
    return NULL;
  }
  r->p = p + 1 + len;
  *n = len;
  return p + 1;
}

static char *next_str(struct rd *r) {
  size_t n;
  const char *s = next(r, &n);
  return s ? xstrndup(s, n) : NULL;
}

static int64_t next_num(struct rd *r) {
  size_t n;
  const char *s = next(r, &n);
  if (!s) return 0;
  char b[32];
  if (n >= sizeof b) {
    r->bad = 1;
    return 0;
  }
  memcpy(b, s, n);
  b[n] = 0;
  return strtoll(b, NULL, 10);
}

static int is(struct rd *r, const char *want) {
  size_t n;
  const char *s = next(r, &n);
  return s && n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Whether the next token is "-": peeks, consuming it only when it is. */
static int is_dash(struct rd *r) {
  if (r->end - r->p >= 3 && memcmp(r->p, "1:-", 3) == 0) {
    r->p += 3;
    return 1;
  }
  return 0;
}

static void next_list(struct rd *r, strvec *sv) {
  int64_t n = next_num(r);
  if (n < 0 || n > r->end - r->p) r->bad = 1; /* damage: more items than bytes left */
  for (int64_t i = 0; i < n && !r->bad; i++) {
    char *s = next_str(r);
    if (s) sv_push_own(sv, s);
  }
}

static char *opt(char *s) {
  if (s && s[0] == '\x01' && !s[1]) {
    free(s);
    return NULL;
  }
  return s;
}

graph *graphcache_load(const char *path, const char *root) {
  char *data;
  size_t len;
  struct stat self;
  if (lua_overridden() || stat(path, &self) < 0 || read_file(path, &data, &len) < 0) return NULL;
  int64_t stamp = ts(self.st_mtim);
  struct rd r = {data, data + len, 0};
  char fp[HASH_HEX];
  fingerprint(fp);
  graph *g = NULL;
  if (!is(&r, MAGIC) || !is(&r, fp) || !is(&r, root)) goto stale;
  g = graph_new();
  for (;;) {
    size_t n;
    const char *tag = next(&r, &n);
    if (!tag || n != 1) goto stale;
    if (*tag == '.') break;
    if (*tag == 'F') {
      char *p = next_str(&r);
      file_stat want = {next_num(&r), next_num(&r), next_num(&r), (uint64_t)next_num(&r)}, st;
      int ok = p && file_stat_get(p, &st) == 0 && memcmp(&st, &want, sizeof st) == 0 && st.mtime_ns < stamp;
      if (ok) sv_push_own(&g->recipe_files, p);
      else free(p);
      if (!ok) goto stale;
    } else if (*tag == 'D') {
      char *p = next_str(&r);
      struct stat st;
      int exists = p && stat(p, &st) == 0, ok;
      if (is_dash(&r)) {
        ok = !exists && is_dash(&r);
      } else {
        int64_t mtime = next_num(&r), ino = next_num(&r);
        ok = exists && ts(st.st_mtim) == mtime && (int64_t)st.st_ino == ino && mtime < stamp;
      }
      if (ok) sv_push_own(&g->recipe_dirs, p);
      else free(p);
      if (!ok) goto stale;
    } else if (*tag == 'A') {
      char *p = next_str(&r);
      struct stat st;
      int ok = p && stat(p, &st) < 0;
      if (ok) sv_push_own(&g->recipe_absent, p);
      else free(p);
      if (!ok) goto stale;
    } else if (*tag == 'E') {
      char *name = next_str(&r);
      int set = is(&r, "1");
      size_t vn;
      const char *v = next(&r, &vn);
      const char *now = name ? getenv(name) : NULL;
      int ok = name && v && (set ? now && strlen(now) == vn && memcmp(now, v, vn) == 0 : !now);
      if (ok) sv_push_own(&g->recipe_env, now ? xasprintf("%s=%s", name, now) : xstrdup(name));
      free(name);
      if (!ok) goto stale;
    } else if (*tag == 'T') {
      char *name = next_str(&r), *kind = next_str(&r);
      if (!name || !kind) {
        free(name);
        free(kind);
        goto stale;
      }
      target_kind k = strcmp(kind, "group") == 0 ? KIND_GROUP : strcmp(kind, "image") == 0 ? KIND_IMAGE : KIND_CMD;
      free(kind);
      target *t = graph_add(g, name, k, NULL);
      free(name);
      if (!t) goto stale;
      t->where = next_str(&r);
      free(t->dir);
      t->dir = next_str(&r);
      if (!t->dir) t->dir = xstrdup("");
      t->desc = opt(next_str(&r));
      t->pool = opt(next_str(&r));
      t->network = opt(next_str(&r));
      t->context = opt(next_str(&r));
      next_list(&r, &t->deps);
      next_list(&r, &t->inputs);
      next_list(&r, &t->argv);
      next_list(&r, &t->env);
      next_list(&r, &t->outputs);
      next_list(&r, &t->tags);
      next_list(&r, &t->gen_names);
      next_list(&r, &t->gen_texts);
      next_list(&r, &t->meta);
      next_list(&r, &t->args);
      next_list(&r, &t->secrets);
      int64_t np = next_num(&r);
      if (np < 0 || np > r.end - r.p) goto stale; /* each param takes bytes: a bigger count is damage */
      t->params = xcalloc((size_t)(np > 0 ? np : 1), sizeof *t->params);
      for (int64_t i = 0; i < np && !r.bad; i++) {
        t->params[i].name = next_str(&r);
        t->params[i].value = next_str(&r);
        t->nparams++;
      }
      if (r.bad) goto stale;
    } else {
      goto stale;
    }
  }
  free(data);
  return g;
stale:
  graph_free(g);
  free(data);
  return NULL;
}
