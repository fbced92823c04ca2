#include "key.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA "dbx-key-2"
/* Param values longer than this are recorded in manifests by digest. */
#define MANIFEST_VALUE_MAX 200

/* The canonical encoding is built in one buffer and hashed in one call:
 * "len:bytes" for every string, counts before every list. */
static void put_field(strbuf *sb, const char *s, size_t n) {
  char num[24];
  size_t i = sizeof num, v = n;
  num[--i] = ':';
  do num[--i] = (char)('0' + v % 10); while ((v /= 10));
  sb_addn(sb, num + i, sizeof num - i);
  sb_addn(sb, s, n);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void key_compute(const key_src *src, char out[HASH_HEX]) {
  const target *t = src->t;
  strbuf sb = {0};
  put_field(&sb, SCHEMA, strlen(SCHEMA));
  const char *kind = kind_name(t->kind);
  put_field(&sb, kind, strlen(kind));
  sb_addf(&sb, "P%zu;", t->nparams);
  for (size_t i = 0; i < t->nparams; i++) {
    put_field(&sb, t->params[i].name, strlen(t->params[i].name));
    put_field(&sb, t->params[i].value, strlen(t->params[i].value));
  }
  sb_addf(&sb, "I%zu;", t->inputs.n);
  for (size_t i = 0; i < t->inputs.n; i++) {
    put_field(&sb, t->inputs.v[i], strlen(t->inputs.v[i]));
    sb_addn(&sb, (const char *)src->digests[i], HASH_LEN);
  }
  /* dependency keys in sorted order, so the order deps are listed in does not count */
  const char **keys = xmalloc((t->deps.n ? t->deps.n : 1) * sizeof *keys);
  for (size_t i = 0; i < t->deps.n; i++) keys[i] = src->dep_keys[i];
  qsort(keys, t->deps.n, sizeof *keys, cmp_str);
  sb_addf(&sb, "D%zu;", t->deps.n);
  for (size_t i = 0; i < t->deps.n; i++) put_field(&sb, keys[i], strlen(keys[i]));
  free(keys);
  unsigned char d[HASH_LEN];
  hash_buf(sb.buf, sb.len, d);
  sb_free(&sb);
  hash_hex(d, out);
}

/* A param value as the manifest records it: itself, or its digest when long. */
static char *manifest_value(const char *v) {
  size_t n = strlen(v);
  if (n <= MANIFEST_VALUE_MAX) return xstrdup(v);
  unsigned char d[HASH_LEN];
  char hex[HASH_HEX];
  hash_buf(v, n, d);
  hash_hex(d, hex);
  return xasprintf("sha256:%s (%zu bytes)", hex, n);
}

char *key_manifest(const key_src *src) {
  const target *t = src->t;
  strbuf sb = {0};
  sb_adds(&sb, "{\"kind\":");
  sb_add_json_str(&sb, kind_name(t->kind));
  sb_adds(&sb, ",\"params\":{");
  for (size_t i = 0; i < t->nparams; i++) {
    if (i) sb_addc(&sb, ',');
    sb_add_json_str(&sb, t->params[i].name);
    sb_addc(&sb, ':');
    char *v = manifest_value(t->params[i].value);
    sb_add_json_str(&sb, v);
    free(v);
  }
  sb_adds(&sb, "},\"inputs\":{");
  for (size_t i = 0; i < t->inputs.n; i++) {
    char hex[HASH_HEX];
    hash_hex(src->digests[i], hex);
    if (i) sb_addc(&sb, ',');
    sb_add_json_str(&sb, t->inputs.v[i]);
    sb_addc(&sb, ':');
    sb_add_json_str(&sb, hex);
  }
  sb_adds(&sb, "},\"deps\":{");
  for (size_t i = 0; i < t->deps.n; i++) {
    if (i) sb_addc(&sb, ',');
    sb_add_json_str(&sb, t->deps.v[i]);
    sb_addc(&sb, ':');
    sb_add_json_str(&sb, src->dep_keys[i]);
  }
  sb_adds(&sb, "}}");
  return sb_take(&sb);
}

static const char *obj_str(const cJSON *obj, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Shorten a value for a one-line reason. */
static char *brief(const char *v) {
  size_t n = strlen(v);
  const char *size = strncmp(v, "sha256:", 7) == 0 ? strstr(v, " (") : NULL;
  if (size) return xstrdup(size + 1); /* a long value recorded by digest: "(N bytes)" */
  if (n <= 60 && !strchr(v, '\n')) return xasprintf("'%s'", v);
  return xasprintf("(%zu bytes)", n);
}

int key_diff(const char *manifest, const key_src *src, strvec *reasons) {
  const target *t = src->t;
  cJSON *m = cJSON_Parse(manifest);
  if (!cJSON_IsObject(m)) {
    cJSON_Delete(m);
    return -1;
  }
  size_t before = reasons->n;
  const char *kind = obj_str(m, "kind");
  if (!kind || strcmp(kind, kind_name(t->kind)) != 0)
    sv_push_own(reasons, xasprintf("kind changed: %s -> %s", kind ? kind : "?", kind_name(t->kind)));

  const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
  for (size_t i = 0; i < t->nparams; i++) {
    const char *old = obj_str(params, t->params[i].name);
    char *now = manifest_value(t->params[i].value);
    if (!old) {
      sv_push_own(reasons, xasprintf("param %s added", t->params[i].name));
    } else if (strcmp(old, now) != 0) {
      char *a = brief(old), *b = brief(now);
      sv_push_own(reasons, xasprintf("param %s changed: %s -> %s", t->params[i].name, a, b));
      free(a);
      free(b);
    }
    free(now);
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, params) {
    int found = 0;
    for (size_t i = 0; i < t->nparams && !found; i++) found = strcmp(t->params[i].name, it->string) == 0;
    if (!found) sv_push_own(reasons, xasprintf("param %s removed", it->string));
  }

  const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(m, "inputs");
  for (size_t i = 0; i < t->inputs.n; i++) {
    const char *old = obj_str(inputs, t->inputs.v[i]);
    char hex[HASH_HEX];
    hash_hex(src->digests[i], hex);
    if (!old) sv_push_own(reasons, xasprintf("input %s added", t->inputs.v[i]));
    else if (strcmp(old, hex) != 0) sv_push_own(reasons, xasprintf("input %s changed", t->inputs.v[i]));
  }
  cJSON_ArrayForEach(it, inputs) {
    /* inputs are sorted: binary search */
    size_t lo = 0, hi = t->inputs.n;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      int c = strcmp(t->inputs.v[mid], it->string);
      if (c == 0) { lo = mid; break; }
      if (c < 0) lo = mid + 1; else hi = mid;
    }
    if (lo >= t->inputs.n || strcmp(t->inputs.v[lo], it->string) != 0)
      sv_push_own(reasons, xasprintf("input %s removed", it->string));
  }

  const cJSON *deps = cJSON_GetObjectItemCaseSensitive(m, "deps");
  for (size_t i = 0; i < t->deps.n; i++) {
    const char *old = obj_str(deps, t->deps.v[i]);
    if (!old) sv_push_own(reasons, xasprintf("dependency %s added", t->deps.v[i]));
    else if (strcmp(old, src->dep_keys[i]) != 0)
      sv_push_own(reasons, xasprintf("dependency %s changed (key %.12s -> %.12s)", t->deps.v[i], old,
                                     src->dep_keys[i]));
  }
  cJSON_ArrayForEach(it, deps) {
    int found = 0;
    for (size_t i = 0; i < t->deps.n && !found; i++) found = strcmp(t->deps.v[i], it->string) == 0;
    if (!found) sv_push_own(reasons, xasprintf("dependency %s removed", it->string));
  }
  cJSON_Delete(m);
  return (int)(reasons->n - before);
}
