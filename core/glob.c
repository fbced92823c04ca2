#include "glob.h"

#include <errno.h>

#include <dirent.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int glob_has_magic(const char *s) { return strpbrk(s, "*?[") != NULL; }

static int skipped_dir(const char *name) {
  return strcmp(name, ".git") == 0 || strcmp(name, ".dbx") == 0;
}

/* Match segment by segment so that '**' may stand for zero or more folders. */
static int match_from(const char *pat, const char *path) {
  for (;;) {
    const char *pe = strchr(pat, '/'), *se = strchr(path, '/');
    size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
    if (pl == 2 && pat[0] == '*' && pat[1] == '*') {
      if (!pe) return 1; /* trailing '**' matches everything below */
      for (const char *p = path;;) {
        if (match_from(pe + 1, p)) return 1;
        const char *n = strchr(p, '/');
        if (!n) return 0;
        p = n + 1;
      }
    }
    size_t sl = se ? (size_t)(se - path) : strlen(path);
    char *ps = xstrndup(pat, pl), *ss = xstrndup(path, sl);
    int ok = fnmatch(ps, ss, 0) == 0;
    free(ps);
    free(ss);
    if (!ok) return 0;
    if (!pe || !se) return !pe && !se;
    pat = pe + 1;
    path = se + 1;
  }
}

int glob_match(const char *pattern, const char *path) { return match_from(pattern, path); }

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether p, a name the walk matched, is a link that leads nowhere (its
 * target, or a link on the way, does not exist); if so it is noted in dangling. */
static int leads_nowhere(const char *p, strvec *dangling) {
  struct stat st;
  if (stat(p, &st) == 0 || (errno != ENOENT && errno != ELOOP && errno != ENOTDIR)) return 0;
  if (lstat(p, &st) < 0 || !S_ISLNK(st.st_mode)) return 0;
  if (dangling) sv_push(dangling, p);
  return 1;
}

/* Note that dir's listing was read (for whoever caches what a walk found). */
static void logdir(strvec *dirs, const char *dir) {
  if (dirs) sv_push(dirs, *dir ? dir : ".");
}

/* opendir, keeping the first reason a folder that exists cannot be listed
 * (a folder gone since it was seen is simply empty). */
static DIR *open_dir(const char *dir, char **err) {
  DIR *d = opendir(*dir ? dir : ".");
  if (!d && errno != ENOENT && errno != ENOTDIR && err && !*err)
    *err = xasprintf("cannot list the folder '%s': %s", *dir ? dir : ".", strerror(errno));
  return d;
}

/* Every file below dir (relative path, "" for the current folder). */
static size_t walk_all(const char *dir, strvec *out, strvec *dirs, strvec *dangling, char **err) {
  DIR *d = open_dir(dir, err);
  if (!d) return 0;
  logdir(dirs, dir);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *p = path_join(dir, e->d_name);
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      type = lstat(p, &st) == 0 ? (S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN) : DT_UNKNOWN;
    }
    if (type == DT_DIR) {
      if (!skipped_dir(e->d_name)) n += walk_all(p, out, dirs, dangling, err);
      free(p);
    } else if (type == DT_REG || (type == DT_LNK && !is_dir(p) && !leads_nowhere(p, dangling))) {
      sv_push_own(out, p);
      n++;
    } else {
      free(p);
    }
  }
  closedir(d);
  return n;
}

/* Expand the segments of pat under dir. */
static size_t expand(const char *dir, const char *pat, strvec *out, strvec *dirs, strvec *dangling,
                     char **err) {
  const char *pe = strchr(pat, '/');
  size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
  const char *rest = pe ? pe + 1 : NULL;
  if (pl == 2 && pat[0] == '*' && pat[1] == '*') {
    if (!rest) return walk_all(dir, out, dirs, dangling, err);
    size_t n = expand(dir, rest, out, dirs, dangling, err);
    DIR *d = open_dir(dir, err);
    if (!d) return n;
    logdir(dirs, dir);
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
      if (skipped_dir(e->d_name)) continue;
      char *p = path_join(dir, e->d_name);
      struct stat st;
      int rc = lstat(p, &st);
      if (rc == 0 && S_ISDIR(st.st_mode)) n += expand(p, pat, out, dirs, dangling, err);
      else if (rc < 0 && errno != ENOENT && err && !*err) /* gone since listed: nothing to walk */
        *err = errno == ENAMETOOLONG ? xasprintf("the path '%.80s...' is longer than this system allows", p)
                                     : xasprintf("cannot read '%s': %s", p, strerror(errno));
      free(p);
    }
    closedir(d);
    return n;
  }
  char *seg = xstrndup(pat, pl);
  size_t n = 0;
  if (!glob_has_magic(seg)) {
    char *p = path_join(dir, seg);
    if (rest) {
      if (is_dir(p)) n = expand(p, rest, out, dirs, dangling, err);
      else if (dirs) sv_push(dirs, p); /* not there (yet): its appearance matters too */
    } else {
      struct stat st;
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        sv_push_own(out, p);
        p = NULL;
        n = 1;
      } else {
        leads_nowhere(p, dangling);
      }
    }
    free(p);
    free(seg);
    return n;
  }
  DIR *d = open_dir(dir, err);
  if (d) {
    logdir(dirs, dir);
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if (fnmatch(seg, e->d_name, 0) != 0) continue;
      char *p = path_join(dir, e->d_name);
      struct stat st;
      if (rest) {
        if (!skipped_dir(e->d_name) && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
          n += expand(p, rest, out, dirs, dangling, err);
      } else if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        sv_push_own(out, p);
        p = NULL;
        n++;
      } else {
        leads_nowhere(p, dangling);
      }
      free(p);
    }
    closedir(d);
  }
  free(seg);
  return n;
}

size_t glob_expand_logged(const char *pattern, strvec *out, strvec *dirs, strvec *dangling, char **err) {
  if (!glob_has_magic(pattern)) { /* a file, checked when it is hashed: one stat, not two */
    sv_push(out, pattern);
    return 1;
  }
  return expand("", pattern, out, dirs, dangling, err);
}

size_t glob_expand(const char *pattern, strvec *out) { return glob_expand_logged(pattern, out, NULL, NULL, NULL); }
