/* File format (text, one record a line):
 *
 *   dbx-statcache 1
 *   <sha256 hex> <size> <mtime_ns> <ctime_ns> <inode> <path>
 *
 * The cache's stamp is the mtime of the file itself, read by the filesystem's
 * own clock, so it is comparable with the files' mtimes. */
#include "statcache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "map.h"
#include "util.h"

#define HEADER "dbx-statcache 1\n"

struct entry {
  file_stat st;
  unsigned char digest[HASH_LEN];
  char path[];
};

struct statcache {
  char *file;
  map *m;
  int64_t stamp;
  int dirty;
};

static int64_t ts_ns(struct timespec ts) { return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec; }

int file_stat_get(const char *path, file_stat *st) {
  struct stat sb;
  if (stat(path, &sb) < 0) return -errno;
  if (S_ISDIR(sb.st_mode)) return -EISDIR;
  st->size = sb.st_size;
  st->mtime_ns = ts_ns(sb.st_mtim);
  st->ctime_ns = ts_ns(sb.st_ctim);
  st->ino = sb.st_ino;
  return 0;
}

static void put_entry(statcache *c, const char *path, const file_stat *st,
                      const unsigned char *digest) {
  size_t n = strlen(path);
  struct entry *e = xmalloc(sizeof *e + n + 1);
  e->st = *st;
  memcpy(e->digest, digest, HASH_LEN);
  memcpy(e->path, path, n + 1);
  free(map_put(c->m, e->path, e));
}

/* One space, then a decimal number; advances *p. 0, or -1 when there is none. */
static int num(const char **p, uint64_t *v) {
  const char *s = *p;
  if (*s++ != ' ' || *s < '0' || *s > '9') return -1;
  uint64_t x = 0;
  while (*s >= '0' && *s <= '9') x = x * 10 + (uint64_t)(*s++ - '0');
  *v = x;
  *p = s;
  return 0;
}

/* Hand-written rather than sscanf: loading must stay cheap for 100k files. */
static void parse(statcache *c, char *data) {
  if (strncmp(data, HEADER, strlen(HEADER)) != 0) return;
  char *line = data + strlen(HEADER);
  while (*line) {
    char *nl = strchr(line, '\n');
    if (!nl) break; /* torn last line */
    *nl = 0;
    unsigned char d[HASH_LEN];
    uint64_t v[4];
    const char *p = line + 64;
    if (nl - line > 65 && hash_unhex(line, d) == 0 && num(&p, &v[0]) == 0 && num(&p, &v[1]) == 0 &&
        num(&p, &v[2]) == 0 && num(&p, &v[3]) == 0 && *p == ' ' && p[1]) {
      file_stat st = {(int64_t)v[0], (int64_t)v[1], (int64_t)v[2], v[3]};
      put_entry(c, p + 1, &st, d);
    }
    line = nl + 1;
  }
}

statcache *statcache_load(const char *path) {
  statcache *c = xcalloc(1, sizeof *c);
  c->file = xstrdup(path);
  c->m = map_new();
  char *data;
  struct stat sb;
  if (stat(path, &sb) == 0 && read_file(path, &data, NULL) == 0) {
    map_free(c->m);
    c->m = map_new_sized((size_t)sb.st_size / 100); /* a line is ~100 bytes and more */
    c->stamp = ts_ns(sb.st_mtim);
    parse(c, data);
    free(data);
  }
  return c;
}

const unsigned char *statcache_lookup(const statcache *c, const char *path, const file_stat *st) {
  const struct entry *e = map_get(c->m, path);
  if (!e) return NULL;
  if (e->st.size != st->size || e->st.mtime_ns != st->mtime_ns ||
      e->st.ctime_ns != st->ctime_ns || e->st.ino != st->ino)
    return NULL;
  if (st->mtime_ns >= c->stamp) return NULL; /* racy: may have changed within the tick */
  return e->digest;
}

int statcache_stat(const statcache *c, const char *path, file_stat *out) {
  const struct entry *e = map_get(c->m, path);
  if (!e) return -1;
  *out = e->st;
  return 0;
}

void statcache_update(statcache *c, const char *path, const file_stat *st,
                      const unsigned char digest[32]) {
  if (strchr(path, '\n')) return; /* cannot be written to a line-based file */
  const struct entry *e = map_get(c->m, path);
  if (e && memcmp(&e->st, st, sizeof *st) == 0 && memcmp(e->digest, digest, HASH_LEN) == 0 &&
      st->mtime_ns < c->stamp)
    return;
  put_entry(c, path, st, digest);
  c->dirty = 1;
}

int64_t statcache_stamp(const statcache *c) { return c->stamp; }

int statcache_save(statcache *c) {
  if (!c->dirty) return 0;
  strbuf sb = {0};
  sb_adds(&sb, HEADER);
  size_t it = 0;
  void *v;
  while (map_next(c->m, &it, NULL, &v)) {
    struct entry *e = v;
    char hex[HASH_HEX];
    hash_hex(e->digest, hex);
    sb_addf(&sb, "%s %" PRId64 " %" PRId64 " %" PRId64 " %" PRIu64 " %s\n", hex, e->st.size,
            e->st.mtime_ns, e->st.ctime_ns, e->st.ino, e->path);
  }
  int rc = write_file_atomic(c->file, sb.buf, sb.len);
  sb_free(&sb);
  struct stat st;
  if (rc == 0 && stat(c->file, &st) == 0) c->stamp = ts_ns(st.st_mtim);
  if (rc == 0) c->dirty = 0;
  return rc;
}

void statcache_free(statcache *c) {
  if (!c) return;
  size_t it = 0;
  void *v;
  while (map_next(c->m, &it, NULL, &v)) free(v);
  map_free(c->m);
  free(c->file);
  free(c);
}
