/* The store log, .dbx/store:
 *
 *   dbx-store 1\n                                   (header)
 *   KEY \t TARGET \t MS \t RESULT \t MANIFEST \n    (one line per build)
 *   - \t TARGET \n                                  (tombstone: forget TARGET)
 *
 * KEY is 64 lower-case hex digits, MS a decimal count, RESULT an image id or
 * "-", MANIFEST a JSON object on one line. Target names hold no tab or
 * newline (the recipe loader rejects them). Each line is written with a single
 * write() on an O_APPEND descriptor, so a crash leaves at most a torn last
 * line; loading skips it (and any malformed line) and truncates the file back
 * to its last newline before appending again. Later lines win. Compaction
 * writes store.tmp, fsyncs it and renames it over the log; a store.tmp left by
 * a crash is removed at open. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map.h"
#include "util.h"

#define HEADER "dbx-store 1\n"

struct store {
  char *path, *tmp;
  int fd;
  char *data;           /* loaded file; loaded entries point into it */
  store_entry **e;      /* every entry, oldest first */
  size_t n, cap, lines, skipped;
  strvec owned;         /* blocks of entries added since loading */
  map *bykey, *bytarget;
};

static void index_entry(store *s, store_entry *e) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->e = xrealloc(s->e, s->cap * sizeof *s->e);
  }
  s->e[s->n++] = e;
  map_put(s->bykey, e->key, e);
  map_put(s->bytarget, e->target, e);
}

static int is_hex64(const char *s) {
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return s[64] == 0;
}

static void forget(store *s, const char *target) {
  store_entry *old = map_get(s->bytarget, target);
  if (!old) return;
  map_put(s->bytarget, old->target, NULL);
  for (size_t i = 0; i < s->n; i++) /* older keys of the target too */
    if (strcmp(s->e[i]->target, target) == 0 && map_get(s->bykey, s->e[i]->key) == s->e[i])
      map_put(s->bykey, s->e[i]->key, NULL);
}

/* Split one line into its fields in place; 0 when it is a valid record. */
static int parse_line(store *s, char *line) {
  char *f[5];
  int nf = 0;
  f[nf++] = line;
  for (char *p = line; *p && nf < 5; p++)
    if (*p == '\t') {
      *p = 0;
      f[nf++] = p + 1;
    }
  if (nf == 2 && strcmp(f[0], "-") == 0) {
    /* tombstone: the name now maps to nothing */
    forget(s, f[1]);
    return 0;
  }
  if (nf != 5 || !is_hex64(f[0]) || !*f[1] || f[4][0] != '{') return -1;
  char *end;
  errno = 0;
  unsigned long long ms = strtoull(f[2], &end, 10);
  if (errno || *end) return -1;
  store_entry *e = xmalloc(sizeof *e);
  *e = (store_entry){f[0], f[1], f[3], f[4], ms};
  sv_push_own(&s->owned, (char *)e);
  index_entry(s, e);
  return 0;
}

int store_open(const char *dir, store **out, char **err) {
  int rc = mkdir_p(dir);
  if (rc < 0) {
    *err = xasprintf("cannot create %s: %s", dir, strerror(-rc));
    return rc;
  }
  store *s = xcalloc(1, sizeof *s);
  s->path = path_join(dir, "store");
  s->tmp = path_join(dir, "store.tmp");
  s->bykey = map_new();
  s->bytarget = map_new();
  s->fd = -1;
  unlink(s->tmp);
  size_t len = 0;
  rc = read_file(s->path, &s->data, &len);
  if (rc == -ENOENT) {
    s->data = xstrdup("");
    len = 0;
  } else if (rc < 0) {
    *err = xasprintf("cannot read %s: %s", s->path, strerror(-rc));
    goto fail;
  }
  size_t good = 0; /* length up to the last newline */
  if (len >= strlen(HEADER) && memcmp(s->data, HEADER, strlen(HEADER)) == 0) {
    char *line = s->data + strlen(HEADER);
    good = strlen(HEADER);
    while (line < s->data + len) {
      char *nl = memchr(line, '\n', (size_t)(s->data + len - line));
      if (!nl) {
        s->skipped++; /* torn last line */
        break;
      }
      *nl = 0;
      s->lines++;
      if (parse_line(s, line) < 0) s->skipped++;
      line = nl + 1;
      good = (size_t)(line - s->data);
    }
  } else if (len > 0) {
    s->skipped++; /* not a store we know: start over, keeping nothing */
  }
  s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (s->fd < 0) {
    rc = -errno;
    *err = xasprintf("cannot open %s for writing: %s", s->path, strerror(errno));
    goto fail;
  }
  if (good != len || len == 0) {
    if (ftruncate(s->fd, (off_t)good) < 0 ||
        (good == 0 && write(s->fd, HEADER, strlen(HEADER)) != (ssize_t)strlen(HEADER))) {
      rc = -errno;
      *err = xasprintf("cannot repair %s: %s", s->path, strerror(errno));
      goto fail;
    }
  }
  *out = s;
  return 0;
fail:
  store_close(s);
  return rc ? rc : -EINVAL;
}

const store_entry *store_get(const store *s, const char *key) { return map_get(s->bykey, key); }

const store_entry *store_last(const store *s, const char *target) {
  return map_get(s->bytarget, target);
}

size_t store_skipped(const store *s) { return s->skipped; }

static int write_all(int fd, const char *buf, size_t n) {
  while (n) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

int store_put(store *s, const char *key, const char *target, uint64_t ms, const char *result,
              const char *manifest) {
  char *line = xasprintf("%s\t%s\t%" PRIu64 "\t%s\t%s\n", key, target, ms, result, manifest);
  size_t n = strlen(line);
  int rc = write_all(s->fd, line, n);
  if (rc < 0) {
    free(line);
    return rc;
  }
  s->lines++;
  line[n - 1] = 0;
  rc = parse_line(s, line);
  sv_push_own(&s->owned, line);
  return rc;
}

int store_forget(store *s, const char *target) {
  char *line = xasprintf("-\t%s\n", target);
  int rc = write_all(s->fd, line, strlen(line));
  if (rc == 0) {
    s->lines++;
    forget(s, target);
  }
  free(line);
  return rc;
}

int store_compact(store *s) {
  strbuf sb = {0};
  sb_adds(&sb, HEADER);
  size_t live = 0;
  for (size_t i = 0; i < s->n; i++) {
    store_entry *e = s->e[i];
    if (map_get(s->bytarget, e->target) != e) continue; /* superseded */
    sb_addf(&sb, "%s\t%s\t%" PRIu64 "\t%s\t%s\n", e->key, e->target, e->ms, e->result, e->manifest);
    live++;
  }
  int rc = 0;
  int fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    rc = -errno;
    goto out;
  }
  rc = write_all(fd, sb.buf, sb.len);
  if (rc == 0 && fsync(fd) < 0) rc = -errno;
  close(fd);
  if (rc == 0 && rename(s->tmp, s->path) < 0) rc = -errno;
  if (rc < 0) {
    unlink(s->tmp);
    goto out;
  }
  /* keep appending to the new file */
  int nfd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (nfd >= 0) {
    close(s->fd);
    s->fd = nfd;
  }
  s->lines = live;
out:
  sb_free(&sb);
  return rc;
}

void store_close(store *s) {
  if (!s) return;
  if (s->fd >= 0 && s->lines > 64 && s->lines > 2 * map_len(s->bytarget)) store_compact(s);
  if (s->fd >= 0) close(s->fd);
  free(s->path);
  free(s->tmp);
  free(s->data);
  free(s->e);
  sv_free(&s->owned);
  map_free(s->bykey);
  map_free(s->bytarget);
  free(s);
}
