#include "graph.h"

#include <stdlib.h>
#include <string.h>

#include "map.h"

graph *graph_new(void) {
  graph *g = xcalloc(1, sizeof *g);
  g->byname = map_new();
  return g;
}

static void target_free(target *t) {
  free(t->name);
  free(t->where);
  free(t->dir);
  free(t->desc);
  free(t->pool);
  free(t->network);
  free(t->context);
  sv_free(&t->tags);
  sv_free(&t->gen_names);
  sv_free(&t->gen_texts);
  sv_free(&t->meta);
  sv_free(&t->args);
  sv_free(&t->secrets);
  free(t->dep_idx);
  sv_free(&t->deps);
  sv_free(&t->patterns);
  sv_free(&t->inputs);
  sv_free(&t->argv);
  sv_free(&t->env);
  sv_free(&t->outputs);
  for (size_t i = 0; i < t->nparams; i++) {
    free(t->params[i].name);
    free(t->params[i].value);
  }
  free(t->params);
  free(t);
}

void graph_free(graph *g) {
  if (!g) return;
  for (size_t i = 0; i < g->n; i++) target_free(g->t[i]);
  free(g->t);
  map_free(g->byname);
  sv_free(&g->recipe_files);
  sv_free(&g->recipe_dirs);
  sv_free(&g->recipe_absent);
  sv_free(&g->recipe_env);
  free(g);
}

target *graph_add(graph *g, const char *name, target_kind kind, target **clash) {
  size_t at = (size_t)map_get(g->byname, name); /* index + 1 */
  if (at) {
    if (clash) *clash = g->t[at - 1];
    return NULL;
  }
  target *t = xcalloc(1, sizeof *t);
  t->name = xstrdup(name);
  t->kind = kind;
  t->dir = xstrdup("");
  if (g->n == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 16;
    g->t = xrealloc(g->t, g->cap * sizeof *g->t);
  }
  g->t[g->n++] = t;
  map_put(g->byname, t->name, (void *)(size_t)g->n); /* index + 1 */
  return t;
}

void target_param(target *t, const char *name, const char *value) {
  t->params = xrealloc(t->params, (t->nparams + 1) * sizeof *t->params);
  size_t i = t->nparams;
  while (i > 0 && strcmp(t->params[i - 1].name, name) > 0) {
    t->params[i] = t->params[i - 1];
    i--;
  }
  t->params[i] = (param){xstrdup(name), xstrdup(value)};
  t->nparams++;
}

const char *target_get_meta(const target *t, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < t->meta.n; i++)
    if (strncmp(t->meta.v[i], name, n) == 0 && t->meta.v[i][n] == '=') return t->meta.v[i] + n + 1;
  return NULL;
}

const char *target_get_param(const target *t, const char *name) {
  for (size_t i = 0; i < t->nparams; i++)
    if (strcmp(t->params[i].name, name) == 0) return t->params[i].value;
  return NULL;
}

/* The value given for name in given ("NAME=value" items), or NULL. */
static const char *given_value(const strvec *given, const char *name, size_t len) {
  for (size_t i = given->n; i-- > 0;) /* the last one given wins */
    if (strncmp(given->v[i], name, len) == 0 && given->v[i][len] == '=') return given->v[i] + len + 1;
  return NULL;
}

int graph_apply_args(graph *g, const strvec *given, char **err) {
  for (size_t i = 0; i < given->n; i++) {
    const char *eq = strchr(given->v[i], '=');
    size_t len = eq ? (size_t)(eq - given->v[i]) : strlen(given->v[i]);
    int used = 0;
    for (size_t k = 0; k < g->n && !used; k++)
      for (size_t a = 0; a < g->t[k]->args.n && !used; a++) {
        const char *decl = g->t[k]->args.v[a];
        used = strncmp(decl, given->v[i], len) == 0 && (decl[len] == '=' || !decl[len]);
      }
    if (!used) {
      strbuf names = {0};
      for (size_t k = 0; k < g->n; k++)
        for (size_t a = 0; a < g->t[k]->args.n; a++) {
          const char *decl = g->t[k]->args.v[a];
          size_t dl = strcspn(decl, "=");
          sb_addf(&names, "%s%.*s (%s)", names.len ? ", " : "", (int)dl, decl, g->t[k]->name);
        }
      *err = xasprintf("--build-arg %.*s: no target declares that build argument%s%s", (int)len,
                       given->v[i], names.len ? "; declared: " : "", names.len ? names.buf : "");
      sb_free(&names);
      return -1;
    }
  }
  for (size_t k = 0; k < g->n; k++) {
    target *t = g->t[k];
    for (size_t a = 0; a < t->args.n; a++) {
      const char *decl = t->args.v[a], *eq = strchr(decl, '=');
      size_t len = eq ? (size_t)(eq - decl) : strlen(decl);
      const char *v = given_value(given, decl, len);
      if (!v) v = eq ? eq + 1 : NULL;
      if (!v) continue;
      char *pname = xasprintf("build-arg.%.*s", (int)len, decl);
      if (!target_get_param(t, pname)) target_param(t, pname, v);
      free(pname);
    }
  }
  return 0;
}

const char *target_missing_arg(const target *t) {
  for (size_t a = 0; a < t->args.n; a++) {
    const char *decl = t->args.v[a];
    if (strchr(decl, '=')) continue; /* has a default */
    char *pname = xasprintf("build-arg.%s", decl);
    int have = target_get_param(t, pname) != NULL;
    free(pname);
    if (!have) return decl;
  }
  return NULL;
}

target *graph_find(const graph *g, const char *name) {
  size_t i = (size_t)map_get(g->byname, name);
  return i ? g->t[i - 1] : NULL;
}

size_t graph_index(const graph *g, const target *t) {
  return (size_t)map_get(g->byname, t->name) - 1;
}

const char *graph_suggest(const graph *g, const char *name) {
  const char **names = xmalloc(g->n * sizeof *names);
  for (size_t i = 0; i < g->n; i++) names[i] = g->t[i]->name;
  const char *s = closest_name(name, names, g->n);
  free(names);
  return s;
}

const char *kind_name(target_kind k) {
  return k == KIND_CMD ? "cmd" : k == KIND_IMAGE ? "image" : "group";
}

enum { WHITE, GREY, BLACK };

/* Depth-first walk with an explicit stack; a GREY node met again closes a cycle,
 * which is read back off the stack. */
static int check_cycles(graph *g, char **err) {
  unsigned char *color = xcalloc(g->n, 1);
  size_t *stack = xmalloc(g->n * sizeof *stack), *next = xmalloc(g->n * sizeof *next);
  int rc = 0;
  for (size_t root = 0; root < g->n && rc == 0; root++) {
    if (color[root] != WHITE) continue;
    size_t sp = 0;
    stack[sp] = root;
    next[sp++] = 0;
    color[root] = GREY;
    while (sp && rc == 0) {
      size_t u = stack[sp - 1];
      target *t = g->t[u];
      if (next[sp - 1] == t->deps.n) {
        color[u] = BLACK;
        sp--;
        continue;
      }
      size_t v = t->dep_idx[next[sp - 1]++];
      if (color[v] == WHITE) {
        color[v] = GREY;
        stack[sp] = v;
        next[sp++] = 0;
      } else if (color[v] == GREY) {
        strbuf sb = {0};
        size_t k = sp;
        while (stack[k - 1] != v) k--;
        sb_adds(&sb, "dependency cycle: ");
        for (size_t i = k - 1; i < sp; i++) sb_addf(&sb, "%s -> ", g->t[stack[i]]->name);
        sb_addf(&sb, "%s (declared at %s)", g->t[v]->name, g->t[v]->where);
        *err = sb_take(&sb);
        rc = -1;
      }
    }
  }
  free(color);
  free(stack);
  free(next);
  return rc;
}

int graph_resolve(graph *g, char **err) {
  for (size_t i = 0; i < g->n; i++) {
    target *t = g->t[i];
    free(t->dep_idx);
    t->dep_idx = xmalloc((t->deps.n ? t->deps.n : 1) * sizeof *t->dep_idx);
    for (size_t d = 0; d < t->deps.n; d++) {
      target *dep = graph_find(g, t->deps.v[d]);
      if (!dep) {
        const char *hint = graph_suggest(g, t->deps.v[d]);
        *err = xasprintf("%s: target '%s' depends on unknown target '%s'%s%s%s", t->where,
                         t->name, t->deps.v[d], hint ? " (did you mean '" : "", hint ? hint : "",
                         hint ? "'?)" : "");
        return -1;
      }
      t->dep_idx[d] = graph_index(g, dep);
    }
  }
  return check_cycles(g, err);
}

size_t *graph_closure(const graph *g, const size_t *roots, size_t nroots, size_t *n) {
  unsigned char *seen = xcalloc(g->n, 1);
  size_t *out = xmalloc((g->n ? g->n : 1) * sizeof *out), cnt = 0;
  size_t *stack = xmalloc((g->n ? g->n : 1) * sizeof *stack), *next = xmalloc((g->n ? g->n : 1) * sizeof *next);
  for (size_t r = 0; r < nroots; r++) {
    if (seen[roots[r]]) continue;
    size_t sp = 0;
    stack[sp] = roots[r];
    next[sp++] = 0;
    seen[roots[r]] = 1;
    while (sp) {
      size_t u = stack[sp - 1];
      const target *t = g->t[u];
      if (next[sp - 1] == t->deps.n) {
        out[cnt++] = u; /* post-order: dependencies first */
        sp--;
        continue;
      }
      size_t v = t->dep_idx[next[sp - 1]++];
      if (!seen[v]) {
        seen[v] = 1;
        stack[sp] = v;
        next[sp++] = 0;
      }
    }
  }
  free(seen);
  free(stack);
  free(next);
  *n = cnt;
  return out;
}
