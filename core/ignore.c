#include "ignore.h"

#include <stdlib.h>
#include <string.h>

#include "glob.h"

static void add(ignore_rules *r, const char *pat, int neg) {
  char *norm = path_norm_rel(pat);
  if (!norm || !*norm) {
    free(norm);
    return;
  }
  sv_push_own(&r->pats, norm);
  r->negate = xrealloc(r->negate, r->pats.n);
  r->negate[r->pats.n - 1] = (char)neg;
}

void ignore_parse(ignore_rules *r, const char *text) {
  const char *line = text;
  while (*line) {
    const char *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    char *l = xstrndup(line, n);
    char *s = l, *e = l + n;
    while (*s == ' ' || *s == '\t') s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
    if (*s && *s != '#') {
      int neg = *s == '!';
      if (neg) s++;
      while (*s == '/') s++;
      add(r, s, neg);
    }
    free(l);
    line += n;
    if (*line == '\n') line++;
  }
}

void ignore_defaults(ignore_rules *r) {
  ignore_parse(r, ".git\n.dbx\n.venv\n**/__pycache__\n**/.env\n**/.env.*\n**/*.pem\n**/*.key\n"
                  "**/id_rsa\n**/id_rsa.*\n**/id_ed25519\n**/id_ed25519.*\n**/id_ecdsa\n");
}

/* Whether pattern matches path or one of the folders above it. */
static int matches(const char *pat, const char *path) {
  if (glob_match(pat, path)) return 1;
  char *p = xstrdup(path);
  int hit = 0;
  for (char *s = strrchr(p, '/'); s && !hit; s = strrchr(p, '/')) {
    *s = 0;
    hit = glob_match(pat, p);
  }
  free(p);
  return hit;
}

int ignore_match(const ignore_rules *r, const char *path) {
  int ignored = 0;
  for (size_t i = 0; i < r->pats.n; i++)
    if (r->negate[i] ? ignored : !ignored)
      if (matches(r->pats.v[i], path)) ignored = !r->negate[i];
  return ignored;
}

void ignore_free(ignore_rules *r) {
  sv_free(&r->pats);
  free(r->negate);
  r->negate = NULL;
}
