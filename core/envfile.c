#include "envfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The value after '=' up to the line's end (q points past '='), unquoted;
 * *next is where the line ends. NULL with *why set on a bad value. */
static char *value(const char *q, const char **next, const char **why) {
  strbuf sb = {0};
  sb_addn(&sb, "", 0);
  while (*q == ' ' || *q == '\t') q++;
  if (*q == '"' || *q == '\'') {
    char quote = *q++;
    for (; *q && *q != quote; q++) {
      if (quote == '"' && *q == '\\' && q[1]) {
        q++;
        char c = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q == 'r' ? '\r' : *q;
        sb_addn(&sb, &c, 1);
      } else {
        sb_addn(&sb, q, 1);
      }
    }
    if (*q != quote) {
      *why = "a quoted value does not close";
      free(sb.buf);
      return NULL;
    }
    q++;
    while (*q == ' ' || *q == '\t') q++;
    if (*q && *q != '\n' && *q != '#') {
      *why = "text after a quoted value";
      free(sb.buf);
      return NULL;
    }
    while (*q && *q != '\n') q++;
  } else {
    const char *start = q, *end = q;
    for (; *q && *q != '\n'; q++) {
      if (*q == '#' && (q == start || q[-1] == ' ' || q[-1] == '\t')) {
        while (*q && *q != '\n') q++;
        break;
      }
      if (!isspace((unsigned char)*q)) end = q + 1;
    }
    sb_addn(&sb, start, (size_t)(end - start));
  }
  *next = q;
  return sb.buf;
}

/* Replace NAME's entry in out, or append it; takes ownership of entry. */
static void set(strvec *out, char *entry) {
  size_t n = strcspn(entry, "=") + 1;
  for (size_t i = 0; i < out->n; i++)
    if (strncmp(out->v[i], entry, n) == 0) {
      free(out->v[i]);
      out->v[i] = entry;
      return;
    }
  sv_push_own(out, entry);
}

int envfile_parse(const char *text, strvec *out, char **err) {
  strvec got = {0};
  int line = 1;
  const char *q = text;
  while (*q) {
    while (*q == ' ' || *q == '\t' || *q == '\r') q++;
    if (*q == '\n') {
      q++, line++;
      continue;
    }
    if (*q == '#') {
      while (*q && *q != '\n') q++;
      continue;
    }
    if (strncmp(q, "export ", 7) == 0) q += 7;
    while (*q == ' ' || *q == '\t') q++;
    const char *name = q;
    while (isalnum((unsigned char)*q) || *q == '_' || *q == '.' || *q == '-') q++;
    size_t nlen = (size_t)(q - name);
    while (*q == ' ' || *q == '\t') q++;
    const char *why = NULL;
    if (!nlen || isdigit((unsigned char)*name)) why = "expected NAME=value";
    else if (*q != '=') why = "expected '=' after the name";
    char *v = why ? NULL : value(q + 1, &q, &why);
    if (!v) {
      *err = xasprintf("line %d: %s", line, why);
      sv_free(&got);
      return -1;
    }
    size_t vlen = strlen(v);
    if (vlen && v[vlen - 1] == '\r') v[vlen - 1] = 0; /* a file saved with CRLF */
    set(&got, xasprintf("%.*s=%s", (int)nlen, name, v));
    free(v);
  }
  for (size_t i = 0; i < got.n; i++) set(out, got.v[i]);
  free(got.v);
  return 0;
}

int envfile_read(const char *path, strvec *out, char **err) {
  char *text = NULL;
  size_t len;
  int rc = read_file(path, &text, &len);
  if (rc < 0) {
    if (rc != -ENOENT) *err = xasprintf("%s: %s", path, strerror(-rc));
    return rc;
  }
  if (memchr(text, 0, len)) {
    *err = xasprintf("%s: not a text file", path);
    free(text);
    return -EINVAL;
  }
  char *why = NULL;
  rc = envfile_parse(text, out, &why);
  free(text);
  if (rc < 0) {
    *err = xasprintf("%s:%s", path, why + 5); /* "line N: why" -> "PATH:N: why" */
    free(why);
    return -EINVAL;
  }
  return 0;
}
