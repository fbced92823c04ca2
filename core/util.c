#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void) {
  fputs("dbx: out of memory\n", stderr);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom();
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom();
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) oom();
  return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n) {
  char *d = xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *xasprintf(const char *fmt, ...) {
  strbuf sb = {0};
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof tmp) {
    va_end(ap2);
    return xstrdup(tmp);
  }
  sb.buf = xmalloc((size_t)n + 1);
  vsnprintf(sb.buf, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return sb.buf;
}

static void sb_grow(strbuf *sb, size_t extra) {
  if (sb->len + extra + 1 <= sb->cap) return;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < sb->len + extra + 1) cap *= 2;
  sb->buf = xrealloc(sb->buf, cap);
  sb->cap = cap;
}

void sb_addn(strbuf *sb, const char *s, size_t n) {
  sb_grow(sb, n);
  memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = 0;
}

void sb_adds(strbuf *sb, const char *s) { sb_addn(sb, s, strlen(s)); }

void sb_addc(strbuf *sb, char c) { sb_addn(sb, &c, 1); }

void sb_addf(strbuf *sb, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  sb_grow(sb, 64);
  int n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n >= sb->cap - sb->len) {
    sb_grow(sb, (size_t)n);
    vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap2);
  }
  va_end(ap2);
  if (n > 0) sb->len += (size_t)n;
}

void sb_add_json_str(strbuf *sb, const char *s) {
  sb_addc(sb, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': sb_adds(sb, "\\\""); break;
    case '\\': sb_adds(sb, "\\\\"); break;
    case '\n': sb_adds(sb, "\\n"); break;
    case '\r': sb_adds(sb, "\\r"); break;
    case '\t': sb_adds(sb, "\\t"); break;
    default:
      if (*p < 0x20) sb_addf(sb, "\\u%04x", *p);
      else sb_addc(sb, (char)*p);
    }
  }
  sb_addc(sb, '"');
}

char *sb_take(strbuf *sb) {
  char *b = sb->buf ? sb->buf : xstrdup("");
  sb->buf = NULL;
  sb->len = sb->cap = 0;
  return b;
}

void sb_free(strbuf *sb) {
  free(sb->buf);
  sb->buf = NULL;
  sb->len = sb->cap = 0;
}

void sv_push_own(strvec *sv, char *s) {
  if (sv->n == sv->cap) {
    sv->cap = sv->cap ? sv->cap * 2 : 8;
    sv->v = xrealloc(sv->v, sv->cap * sizeof *sv->v);
  }
  sv->v[sv->n++] = s;
}

void sv_push(strvec *sv, const char *s) { sv_push_own(sv, xstrdup(s)); }

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void sv_sort_uniq(strvec *sv) {
  if (sv->n < 2) return;
  qsort(sv->v, sv->n, sizeof *sv->v, cmp_str);
  size_t w = 1;
  for (size_t r = 1; r < sv->n; r++) {
    if (strcmp(sv->v[r], sv->v[w - 1]) == 0) free(sv->v[r]);
    else sv->v[w++] = sv->v[r];
  }
  sv->n = w;
}

void sv_free(strvec *sv) {
  for (size_t i = 0; i < sv->n; i++) free(sv->v[i]);
  free(sv->v);
  sv->v = NULL;
  sv->n = sv->cap = 0;
}

char *path_join(const char *a, const char *b) {
  if (!a || !*a || strcmp(a, ".") == 0) return xstrdup(b);
  if (!*b || strcmp(b, ".") == 0) return xstrdup(a);
  size_t la = strlen(a);
  return xasprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

char *path_norm_rel(const char *p) {
  if (*p == '/') return NULL;
  strvec parts = {0};
  const char *s = p;
  while (*s) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0 || (n == 1 && s[0] == '.')) {
      /* skip */
    } else if (n == 2 && s[0] == '.' && s[1] == '.') {
      if (parts.n == 0) {
        sv_free(&parts);
        return NULL;
      }
      free(parts.v[--parts.n]);
    } else {
      sv_push_own(&parts, xstrndup(s, n));
    }
    s += n;
    if (*s == '/') s++;
  }
  strbuf sb = {0};
  for (size_t i = 0; i < parts.n; i++) {
    if (i) sb_addc(&sb, '/');
    sb_adds(&sb, parts.v[i]);
  }
  sv_free(&parts);
  return sb_take(&sb);
}

char *file_name_for(const char *name) {
  strbuf sb = {0};
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '.' || *p == '-' || *p == '_')
      sb_addc(&sb, (char)*p);
    else sb_addf(&sb, "%%%02X", *p);
  }
  return sb_take(&sb);
}

int mkdir_p(const char *dir) {
  char *d = xstrdup(dir);
  int rc = 0;
  for (char *p = d + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(d, 0777) < 0 && errno != EEXIST) {
      rc = -errno;
      goto out;
    }
    *p = '/';
  }
  if (mkdir(d, 0777) < 0 && errno != EEXIST) rc = -errno;
out:
  free(d);
  return rc;
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *f) {
  (void)sb;
  (void)f;
  return (type == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
  return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

int read_file(const char *path, char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  strbuf sb = {0};
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = -errno;
      close(fd);
      sb_free(&sb);
      return e;
    }
    if (n == 0) break;
    sb_addn(&sb, buf, (size_t)n);
  }
  close(fd);
  if (len) *len = sb.len;
  *out = sb_take(&sb);
  return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len) {
  char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
  int rc = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    rc = -errno;
    goto out_free;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      goto out_close;
    }
    off += (size_t)n;
  }
  if (fsync(fd) < 0) rc = -errno;
out_close:
  if (close(fd) < 0 && rc == 0) rc = -errno;
  if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
  if (rc != 0) unlink(tmp);
out_free:
  free(tmp);
  return rc;
}

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t *row = xmalloc((lb + 1) * sizeof *row);
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  size_t d = row[lb];
  free(row);
  return d;
}

const char *closest_name(const char *name, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t bestd = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(name, cands[i]);
    if (d < bestd) {
      bestd = d;
      best = cands[i];
    }
  }
  size_t len = strlen(name);
  size_t limit = len < 4 ? 1 : len / 3 + 1;
  return bestd <= limit ? best : NULL;
}

int dl_open_table(const char *lib, const char *pkg, const dl_sym *syms, size_t n, void *table, char **err) {
  void *h = dlopen(lib, RTLD_LAZY | RTLD_LOCAL); /* lazy: most of a library's symbols are never called */
  if (!h) {
    *err = xasprintf("cannot load %s: %s; install it (Debian: apt-get install %s)", lib, dlerror(), pkg);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    void *f = dlsym(h, syms[i].name);
    if (!f) {
      *err = xasprintf("%s lacks %s", lib, syms[i].name);
      return -1;
    }
    memcpy((char *)table + syms[i].off, &f, sizeof f);
  }
  return 0;
}
