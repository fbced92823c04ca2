/* unit.h: what every unit test program shares — a private temp folder per
 * test (made in setup, removed in teardown), writing and reading small files,
 * setting mtimes. Header-only, so each test stays one program per module. */
#ifndef DBX_UNIT_H
#define DBX_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* A temp folder under /tmp; with enter set, the test runs inside it. */
typedef struct {
  char path[64];
  char oldcwd[PATH_MAX];
  int entered;
} ut_tmpdir;

static inline int ut_tmpdir_open(ut_tmpdir *t, int enter) {
  snprintf(t->path, sizeof t->path, "/tmp/dbx-unit-XXXXXX");
  if (!mkdtemp(t->path)) return -1;
  t->entered = 0;
  if (enter) {
    if (!getcwd(t->oldcwd, sizeof t->oldcwd) || chdir(t->path) < 0) return -1;
    t->entered = 1;
  }
  return 0;
}

static inline int ut_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(p);
  return 0;
}

/* Remove path and everything below it, never following links. */
static inline void ut_rm_rf(const char *path) { nftw(path, ut_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Leave and remove the folder; closing it again (or one never opened) does nothing. */
static inline void ut_tmpdir_close(ut_tmpdir *t) {
  if (!t->path[0]) return;
  if (t->entered && chdir(t->oldcwd) < 0) perror("chdir back");
  ut_rm_rf(t->path);
  t->path[0] = 0;
  t->entered = 0;
}

/* Write text to path (relative to the current folder), making its folders. */
/* cmocka fixtures: a fresh temp folder per test, entered; removed after. */
static inline int ut_setup_tmpdir(void **state) {
  ut_tmpdir *t = xcalloc(1, sizeof *t);
  if (ut_tmpdir_open(t, 1) < 0) return -1;
  *state = t;
  return 0;
}

static inline int ut_teardown_tmpdir(void **state) {
  ut_tmpdir_close(*state);
  free(*state);
  return 0;
}

static inline void ut_put(const char *path, const char *text) {
  char *dir = xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    assert_int_equal(mkdir_p(dir), 0);
  }
  free(dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* The whole file as a fresh string, or NULL when it cannot be read. */
static inline char *ut_slurp(const char *path) {
  char *data;
  return read_file(path, &data, NULL) == 0 ? data : NULL;
}

static inline int ut_exists(const char *path) { return access(path, F_OK) == 0; }

/* Set path's mtime (and atime) to sec.nsec since the epoch. */
static inline void ut_set_mtime(const char *path, int64_t ns) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = (time_t)(ns / 1000000000);
  ts[0].tv_nsec = ts[1].tv_nsec = (long)(ns % 1000000000);
  assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* The time ut_set_mtime_tree applies (nftw passes no user pointer). */
static inline int64_t *ut_tree_ns(void) {
  static int64_t ns;
  return &ns;
}

static inline int ut_set_mtime_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  ut_set_mtime(p, *ut_tree_ns());
  return 0;
}

/* Set the mtime of path and of every file and folder below it to ns. */
static inline void ut_set_mtime_tree(const char *path, int64_t ns) {
  *ut_tree_ns() = ns;
  assert_int_equal(nftw(path, ut_set_mtime_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* The wall clock in ns since the epoch (the clock file times use). */
static inline int64_t ut_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Count the lines of a string. */
static inline size_t ut_lines(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

#endif
