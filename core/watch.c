/* How it works:
 *
 *   inotify  one uv_fs_event per folder. An event names an entry of the
 *            folder, or (when the name is the folder's own) possibly the
 *            folder itself, so every event is settled by lstat: a file that
 *            is there changed, one that is not was deleted, a new folder is
 *            watched first and walked second (nothing written in between is
 *            missed), a watched folder that is gone or has another inode has
 *            its watches and its descendants' closed.
 *   roots    the folders given to watch_add. One that vanishes is looked for
 *            on a timer every poll_ms until it is back.
 *   polling  after ENOSPC/EMFILE (or DBX_WATCH_LIMIT): every fs_event is
 *            closed, a snapshot (path -> size, mtimes, inode, kind) of every
 *            root is kept and compared with a fresh scan every poll_ms.
 *   batches  every change goes into one set; a timer delivers it settle_ms
 *            after the last change, max_wait_ms after the first at the latest,
 *            but only after the loop has read what the kernel queued.
 *
 * libuv passes no inotify queue overflow on (fs.inotify.max_queued_events,
 * 16384 by default, unread at once): changes beyond it go unreported.
 *
 * The struct lives until the close callback of its last handle (four fixed
 * ones plus one fs_event per folder), so callbacks never see it freed. */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map.h"

/* One folder watched through inotify; freed by its handle's close callback. */
struct wdir {
  uv_fs_event_t h;
  watch *w;
  uint64_t ino;  /* the folder this watch is on: another inode means replaced */
  int recursive; /* its sub-folders are watched too */
  char path[];   /* relative to the root */
};

/* A folder the caller asked for. */
struct root {
  char *path;
  int recursive;
  int missing; /* vanished: looked for on every tick */
};

/* What polling remembers of one path. */
struct snap {
  int64_t size, mtime_ns, ctime_ns;
  uint64_t ino;
  unsigned gen; /* the scan that saw it last */
  int is_dir;
  char path[];
};

struct watch {
  uv_loop_t *loop;
  char *root; /* absolute, no trailing '/' */
  watch_opts o;
  uv_timer_t settle; /* closes the batch */
  uv_idle_t idle;    /* ... keeping the next poll from blocking */
  uv_check_t check;  /* ... so that what the kernel queued meanwhile is read first */
  uv_timer_t tick;   /* polls, or looks for missing roots */
  int handles;       /* open handles; the last close frees the struct */
  int closed, polling;
  long limit; /* DBX_WATCH_LIMIT, or -1 */
  struct root *roots;
  size_t nroots;
  map *dirs; /* path -> struct wdir */
  map *snap; /* path -> struct snap, when polling */
  unsigned gen;
  size_t ndirs;    /* folders in the snapshot */
  strvec pend;     /* the open batch */
  map *pending;    /* the same paths, for uniqueness */
  int open;        /* a batch is open */
  uint64_t first, last; /* its first and latest change, loop time */
};

static const char *const always_ignored[] = {".git", ".dbx", ".venv", "__pycache__",
                                             "node_modules"};

static int64_t ts_ns(struct timespec ts) { return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec; }

/* Whether path is dir or below it ("" holds everything). */
static int under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return n == 0 || (strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/'));
}

static char *full(const watch *w, const char *rel) { return path_join(w->root, rel); }

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Written first, then renamed to the real name: only the rename matters. */
static int temp_name(const char *name) {
  if (ends_with(name, "~") || ends_with(name, ".swp") || ends_with(name, ".swx") ||
      ends_with(name, ".swo") || ends_with(name, ".tmp") || strncmp(name, ".#", 2) == 0 ||
      strcmp(name, "4913") == 0)
    return 1;
  for (const char *t = strstr(name, ".tmp."); t; t = strstr(t + 1, ".tmp.")) {
    const char *d = t + 5; /* write_file_atomic's NAME.tmp.PID */
    while (*d >= '0' && *d <= '9') d++;
    if (d > t + 5 && !*d) return 1;
  }
  return 0;
}

/* Whether a part of path is one of the folders never looked into. */
static int always_skipped(const char *path) {
  for (const char *s = path; *s;) {
    const char *e = strchrnul(s, '/');
    size_t n = (size_t)(e - s);
    for (size_t i = 0; i < sizeof always_ignored / sizeof *always_ignored; i++)
      if (strlen(always_ignored[i]) == n && memcmp(s, always_ignored[i], n) == 0) return 1;
    s = *e ? e + 1 : e;
  }
  return 0;
}

static int ignored(const watch *w, const char *path, int is_dir) {
  if (!*path) return 0;
  if (always_skipped(path)) return 1;
  const char *name = strrchr(path, '/');
  if (!is_dir && temp_name(name ? name + 1 : path)) return 1;
  return w->o.ignore && w->o.ignore(w->o.ud, path, is_dir);
}

static struct root *find_root(const watch *w, const char *path) {
  for (size_t i = 0; i < w->nroots; i++)
    if (strcmp(w->roots[i].path, path) == 0) return &w->roots[i];
  return NULL;
}

/* Stat rel: through a link for a folder the caller named, never below it. */
static int stat_rel(const watch *w, const char *rel, struct stat *st) {
  char *path = full(w, rel);
  int rc = find_root(w, rel) ? stat(path, st) : lstat(path, st);
  free(path);
  return rc;
}

/* ---- batches ---- */

static void deliver(watch *w);

/* When the open batch closes, in loop time. */
static uint64_t due(const watch *w) {
  uint64_t settled = w->last + w->o.settle_ms, cap = w->first + w->o.max_wait_ms;
  return cap < settled ? cap : settled;
}

static void on_settle(uv_timer_t *t);

static void on_idle(uv_idle_t *h) { (void)h; }

/* After the loop's poll: deliver, unless what it read moved the end again. */
static void on_check(uv_check_t *h) {
  watch *w = h->data;
  uv_idle_stop(&w->idle);
  uv_check_stop(h);
  uv_update_time(w->loop);
  uint64_t now = uv_now(w->loop), end = due(w);
  if (now < end) uv_timer_start(&w->settle, on_settle, end - now, 0);
  else deliver(w);
}

/* Timers run before the loop reads its fds: a loop that woke late would
 * cut a burst whose rest is still queued in the kernel. So the batch is
 * delivered after one more poll, which the idle handle keeps from blocking. */
static void on_settle(uv_timer_t *t) {
  watch *w = t->data;
  uint64_t now = uv_now(w->loop), end = due(w);
  if (now < end) {
    uv_timer_start(t, on_settle, end - now, 0);
    return;
  }
  uv_idle_start(&w->idle, on_idle);
  uv_check_start(&w->check, on_check);
}

/* Note a change of path. The timer is armed once per batch; when it fires
 * it re-arms itself for what is left, so a burst costs no timer churn. */
static void pend(watch *w, const char *path) {
  uv_update_time(w->loop); /* the callback may have run long since the loop woke */
  w->last = uv_now(w->loop);
  if (!w->open) {
    w->open = 1;
    w->first = w->last;
    uv_timer_start(&w->settle, on_settle, w->o.settle_ms, 0);
  }
  if (!*path || map_get(w->pending, path)) return; /* the root itself has no name */
  char *s = xstrdup(path);
  sv_push_own(&w->pend, s);
  map_put(w->pending, s, s);
}

/* Drop the paths below a folder that is in the batch too and gone: a deleted
 * folder is reported as itself, not through everything it held. */
static void compact(const watch *w, strvec *b, const map *m) {
  unsigned char *drop = xcalloc(b->n + 1, 1);
  for (size_t i = 0; i < b->n; i++) {
    const char *p = b->v[i];
    for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
      if (!map_getn(m, p, (size_t)(s - p))) continue;
      char *dir = xstrndup(p, (size_t)(s - p)), *path = full(w, dir);
      struct stat st;
      int gone = lstat(path, &st) < 0;
      free(path);
      free(dir);
      if (gone) {
        drop[i] = 1;
        break;
      }
    }
  }
  size_t n = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (drop[i]) free(b->v[i]);
    else b->v[n++] = b->v[i];
  }
  b->n = n;
  free(drop);
}

/* Hand the batch over; what changes during the callback goes into the next. */
static void deliver(watch *w) {
  strvec b = w->pend;
  map *m = w->pending;
  w->pend = (strvec){0};
  w->pending = map_new();
  w->open = 0;
  compact(w, &b, m); /* before m goes: it borrows b's strings */
  map_free(m);
  sv_sort_uniq(&b);
  if (b.n) w->o.batch(w->o.ud, &b);
  sv_free(&b);
}

/* ---- handles ---- */

static void release(watch *w) {
  if (--w->handles == 0 && w->closed) free(w);
}

static void on_handle_closed(uv_handle_t *h) { release(h->data); }

static void on_dir_closed(uv_handle_t *h) {
  struct wdir *d = h->data;
  watch *w = d->w;
  free(d);
  release(w);
}

/* Close the watches on dir and every folder below it. */
static void drop_dirs(watch *w, const char *dir) {
  map *keep = map_new();
  size_t it = 0;
  void *v;
  while (map_next(w->dirs, &it, NULL, &v)) {
    struct wdir *d = v;
    if (under(d->path, dir)) uv_close((uv_handle_t *)&d->h, on_dir_closed);
    else map_put(keep, d->path, d);
  }
  map_free(w->dirs);
  w->dirs = keep;
}

/* ---- polling ---- */

/* Record path's stat in the snapshot, reporting a new file or a change. */
static void note(watch *w, const char *path, const struct stat *st, int quiet) {
  struct snap *s = map_get(w->snap, path);
  int is_dir = S_ISDIR(st->st_mode);
  if (!s) {
    size_t n = strlen(path);
    s = xcalloc(1, sizeof *s + n + 1);
    memcpy(s->path, path, n + 1);
    map_put(w->snap, s->path, s);
    if (!quiet && !is_dir) pend(w, path);
  } else if (!quiet && (s->is_dir != is_dir ||
                        (!is_dir && (s->size != st->st_size || s->mtime_ns != ts_ns(st->st_mtim) ||
                                     s->ctime_ns != ts_ns(st->st_ctim) || s->ino != st->st_ino)))) {
    pend(w, path); /* a folder's own times change with its entries: those are reported */
  }
  s->size = st->st_size;
  s->mtime_ns = ts_ns(st->st_mtim);
  s->ctime_ns = ts_ns(st->st_ctim);
  s->ino = st->st_ino;
  s->is_dir = is_dir;
  s->gen = w->gen;
}

static void scan_dir(watch *w, const char *rel, int recursive, int quiet) {
  char *path = full(w, rel);
  DIR *dir = opendir(path);
  free(path);
  if (!dir) return; /* gone meanwhile: what it held is swept as deleted */
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *p = path_join(rel, e->d_name);
    struct stat st;
    if (stat_rel(w, p, &st) == 0 && !ignored(w, p, S_ISDIR(st.st_mode))) {
      note(w, p, &st, quiet);
      if (S_ISDIR(st.st_mode) && recursive) scan_dir(w, p, 1, quiet);
    }
    free(p);
  }
  closedir(dir);
}

/* Whether another root already holds r's folder. */
static int covered(const watch *w, const struct root *r) {
  for (size_t i = 0; i < w->nroots; i++)
    if (&w->roots[i] != r && w->roots[i].recursive && under(r->path, w->roots[i].path)) return 1;
  return 0;
}

static void scan_root(watch *w, const struct root *r, int quiet) {
  struct stat st;
  if (covered(w, r) || stat_rel(w, r->path, &st) < 0 || !S_ISDIR(st.st_mode)) return;
  note(w, r->path, &st, quiet);
  scan_dir(w, r->path, r->recursive, quiet);
}

/* Forget (and unless quiet, report) what the last scan did not see; count folders. */
static void sweep(watch *w, int quiet) {
  size_t it = 0, stale = 0, dirs = 0;
  void *v;
  while (map_next(w->snap, &it, NULL, &v)) {
    struct snap *s = v;
    stale += s->gen != w->gen;
    dirs += s->gen == w->gen && s->is_dir;
  }
  w->ndirs = dirs;
  if (!stale) return;
  map *keep = map_new_sized(map_len(w->snap) - stale);
  it = 0;
  while (map_next(w->snap, &it, NULL, &v)) {
    struct snap *s = v;
    if (s->gen == w->gen) {
      map_put(keep, s->path, s);
      continue;
    }
    if (!quiet) pend(w, s->path);
    free(s);
  }
  map_free(w->snap);
  w->snap = keep;
}

static void rescan(watch *w) {
  w->gen++;
  for (size_t i = 0; i < w->nroots; i++) scan_root(w, &w->roots[i], 0);
  sweep(w, 0);
}

/* Report every file the snapshot holds under dir (found while falling back). */
static void pend_snapshot(watch *w, const char *dir) {
  size_t it = 0;
  void *v;
  while (map_next(w->snap, &it, NULL, &v)) {
    struct snap *s = v;
    if (!s->is_dir && under(s->path, dir)) pend(w, s->path);
  }
}

/* The value of /proc/sys/fs/inotify/NAME (caller frees). */
static char *inotify_limit(const char *name) {
  char *path = xasprintf("/proc/sys/fs/inotify/%s", name), *text;
  int rc = read_file(path, &text, NULL);
  free(path);
  if (rc < 0) return xstrdup("?");
  text[strcspn(text, "\n")] = 0;
  return text;
}

static void on_tick(uv_timer_t *t);

/* Switch to polling for good: why is UV_ENOSPC, UV_EMFILE, or 0 for DBX_WATCH_LIMIT. */
static void fall_back(watch *w, int why) {
  if (w->polling) return;
  w->polling = 1;
  drop_dirs(w, "");
  uv_timer_stop(&w->tick);
  w->gen++;
  for (size_t i = 0; i < w->nroots; i++) {
    w->roots[i].missing = 0; /* a missing root is seen as new files when it is back */
    scan_root(w, &w->roots[i], 1);
  }
  sweep(w, 1);
  uv_timer_start(&w->tick, on_tick, w->o.poll_ms, w->o.poll_ms);
  if (!w->o.warn) return;
  char *msg, *max;
  if (why == 0) {
    msg = xasprintf("more than DBX_WATCH_LIMIT=%ld folders (%zu here): "
                    "watching by polling every %u ms",
                    w->limit, w->ndirs, w->o.poll_ms);
  } else if (why == UV_EMFILE) {
    max = inotify_limit("max_user_instances");
    msg = xasprintf("cannot open inotify (too many open files, or fs.inotify.max_user_instances=%s "
                    "reached): watching by polling every %u ms; raise it with: "
                    "sysctl fs.inotify.max_user_instances=1024",
                    max, w->o.poll_ms);
    free(max);
  } else {
    max = inotify_limit("max_user_watches");
    msg = xasprintf("out of inotify watches (fs.inotify.max_user_watches=%s, %zu folders here): "
                    "watching by polling every %u ms; raise it with: "
                    "sysctl fs.inotify.max_user_watches=524288",
                    max, w->ndirs, w->o.poll_ms);
    free(max);
  }
  w->o.warn(w->o.ud, msg);
  free(msg);
}

/* ---- inotify ---- */

static void on_event(uv_fs_event_t *h, const char *name, int events, int status);

/* Start a watch on folder rel. 0 (also after falling back to polling), or a
 * negative errno. */
static int start_dir(watch *w, const char *rel, int recursive) {
  if (w->limit >= 0 && map_len(w->dirs) >= (size_t)w->limit) {
    fall_back(w, 0);
    return 0;
  }
  struct stat st;
  if (stat_rel(w, rel, &st) < 0) return -errno;
  if (!S_ISDIR(st.st_mode)) return UV_ENOTDIR;
  size_t n = strlen(rel);
  struct wdir *d = xcalloc(1, sizeof *d + n + 1);
  memcpy(d->path, rel, n + 1);
  d->w = w;
  d->ino = st.st_ino;
  d->recursive = recursive;
  uv_fs_event_init(w->loop, &d->h);
  d->h.data = d;
  w->handles++;
  char *path = full(w, rel);
  int rc = uv_fs_event_start(&d->h, on_event, path, 0);
  free(path);
  if (rc < 0) {
    uv_close((uv_handle_t *)&d->h, on_dir_closed);
    if (rc != UV_ENOSPC && rc != UV_EMFILE) return rc;
    fall_back(w, rc);
    return 0;
  }
  map_put(w->dirs, d->path, d);
  return 0;
}

/* Watch folder rel (with recursive, and every folder below it), then walk it,
 * reporting its files when report is set. 0, or a negative errno for rel
 * itself (a sub-folder that cannot be watched is skipped). After a fall back
 * to polling it stops: the caller reports from the snapshot. */
static int add_tree(watch *w, const char *rel, int recursive, int report) {
  if (w->polling) return 0;
  struct wdir *d = map_get(w->dirs, rel);
  if (d && (!recursive || d->recursive)) return 0;
  if (d) {
    d->recursive = 1;
  } else {
    int rc = start_dir(w, rel, recursive);
    if (rc < 0 || w->polling) return rc;
  }
  char *path = full(w, rel);
  DIR *dir = opendir(path);
  free(path);
  if (!dir) return 0; /* gone already: its parent's events say so */
  struct dirent *e;
  while (!w->polling && (e = readdir(dir))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *p = path_join(rel, e->d_name);
    int is_dir = e->d_type == DT_DIR;
    struct stat st;
    if (e->d_type == DT_UNKNOWN) is_dir = stat_rel(w, p, &st) == 0 && S_ISDIR(st.st_mode);
    if (!ignored(w, p, is_dir)) {
      if (is_dir && recursive) add_tree(w, p, 1, report);
      else if (!is_dir && report) pend(w, p);
    }
    free(p);
  }
  closedir(dir);
  return 0;
}

/* Folder dir is gone: close its watches and its descendants', report it, and
 * start looking for any root that went with it. */
static void dir_gone(watch *w, const char *dir) {
  pend(w, dir);
  drop_dirs(w, dir);
  for (size_t i = 0; i < w->nroots; i++) {
    struct root *r = &w->roots[i];
    if (r->missing || map_get(w->dirs, r->path)) continue;
    r->missing = 1;
    if (!uv_is_active((uv_handle_t *)&w->tick))
      uv_timer_start(&w->tick, on_tick, w->o.poll_ms, w->o.poll_ms);
  }
}

/* Folder path is there and not watched: watch it when its parent is watched
 * recursively or the caller named it, and report its files. */
static void appeared(watch *w, const char *path, int parent_recursive) {
  struct root *r = find_root(w, path);
  if (!r && !parent_recursive) return;
  int rc = add_tree(w, path, parent_recursive || r->recursive, 1);
  if (rc == 0 && r) r->missing = 0;
  if (w->polling) pend_snapshot(w, path);
}

static int parent_recursive(const watch *w, const char *dir) {
  if (!*dir) return 0;
  const char *slash = strrchr(dir, '/');
  const struct wdir *p = map_getn(w->dirs, dir, slash ? (size_t)(slash - dir) : 0);
  return p && p->recursive;
}

/* The watched folder dir may be gone, or another folder in its place. With
 * suspect, the event may have been the folder's own deletion although it
 * seems to be there still (a folder made at once gets the old one's inode
 * and times): it is then watched afresh and reported as replaced. */
static void recheck(watch *w, const char *dir, int suspect) {
  const struct wdir *d = map_get(w->dirs, dir);
  if (!d) return;
  struct stat st;
  int there = stat_rel(w, dir, &st) == 0 && S_ISDIR(st.st_mode);
  if (there && st.st_ino == d->ino && !suspect) return;
  int rec = parent_recursive(w, dir);
  dir_gone(w, dir);
  if (there) appeared(w, dir, rec);
}

/* Something happened to path, an entry of a folder watched with recursive. */
static void changed(watch *w, const char *path, int recursive) {
  struct stat st;
  int there = stat_rel(w, path, &st) == 0;
  const struct wdir *d = map_get(w->dirs, path);
  int is_dir = there ? S_ISDIR(st.st_mode) : d != NULL;
  if (ignored(w, path, is_dir)) return;
  if (!there || !is_dir) {
    if (d) dir_gone(w, path); /* a watched folder gone, or a file in its place */
    else pend(w, path);
    return;
  }
  if (d && d->ino == st.st_ino) return; /* the folder's own attributes */
  if (d) dir_gone(w, path);             /* another folder in its place */
  appeared(w, path, recursive);
}

static void on_event(uv_fs_event_t *h, const char *name, int events, int status) {
  struct wdir *d = h->data;
  watch *w = d->w;
  if (w->closed || w->polling) return;
  char *dir = xstrdup(d->path), *path = full(w, dir);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (status < 0 || !name) {
    recheck(w, dir, 1); /* events may be lost: start afresh */
  } else if (strcmp(name, base) == 0) {
    /* libuv names events on the folder itself after it: it may also be an
     * entry of that name. An entry that was not removed is no suspicion. */
    char *entry = path_join(dir, name);
    struct stat st;
    recheck(w, dir, (events & UV_RENAME) && stat_rel(w, entry, &st) < 0);
    free(entry);
  }
  if (status >= 0 && name && !w->polling && map_get(w->dirs, dir) == d) {
    char *p = path_join(dir, name);
    changed(w, p, d->recursive);
    free(p);
  }
  free(path);
  free(dir);
}

static void on_tick(uv_timer_t *t) {
  watch *w = t->data;
  if (w->polling) {
    rescan(w);
    return;
  }
  int missing = 0;
  for (size_t i = 0; i < w->nroots && !w->polling; i++) {
    struct root *r = &w->roots[i];
    if (!r->missing) continue;
    struct stat st;
    if (map_get(w->dirs, r->path)) {
      r->missing = 0; /* found through its parent's watch */
    } else if (stat_rel(w, r->path, &st) == 0 && S_ISDIR(st.st_mode)) {
      if (add_tree(w, r->path, r->recursive, 1) == 0) r->missing = 0;
      if (w->polling) pend_snapshot(w, r->path);
    }
    missing |= r->missing;
  }
  if (!missing && !w->polling) uv_timer_stop(t);
}

/* ---- the contract ---- */

static int fail(char **err, int rc, char *msg) {
  if (err) *err = msg;
  else free(msg);
  return rc;
}

int watch_open(uv_loop_t *loop, const char *root, const watch_opts *o, watch **out, char **err) {
  *out = NULL;
  if (!o->batch) return fail(err, UV_EINVAL, xstrdup("watch: no batch callback"));
  struct stat st;
  if (stat(root, &st) < 0) return fail(err, -errno, xasprintf("%s: %s", root, strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return fail(err, UV_ENOTDIR, xasprintf("%s: not a folder", root));
  char cwd[4096];
  if (*root != '/' && !getcwd(cwd, sizeof cwd))
    return fail(err, -errno, xasprintf("getcwd: %s", strerror(errno)));
  watch *w = xcalloc(1, sizeof *w);
  w->root = *root == '/' ? xstrdup(root) : path_join(cwd, root);
  for (size_t n = strlen(w->root); n > 1 && w->root[n - 1] == '/';) w->root[--n] = 0;
  w->loop = loop;
  w->o = *o;
  if (!w->o.settle_ms) w->o.settle_ms = 15;
  if (!w->o.max_wait_ms) w->o.max_wait_ms = 2000;
  if (!w->o.poll_ms) w->o.poll_ms = 200;
  w->limit = -1;
  const char *lim = getenv("DBX_WATCH_LIMIT");
  if (lim && *lim) {
    char *end;
    long v = strtol(lim, &end, 10);
    if (!*end && v >= 0) w->limit = v;
  }
  w->dirs = map_new();
  w->snap = map_new();
  w->pending = map_new();
  uv_timer_init(loop, &w->settle);
  uv_idle_init(loop, &w->idle);
  uv_check_init(loop, &w->check);
  uv_timer_init(loop, &w->tick);
  w->settle.data = w->idle.data = w->check.data = w->tick.data = w;
  w->handles = 4;
  *out = w;
  return 0;
}

int watch_add(watch *w, const char *dir, int recursive, char **err) {
  char *rel = path_norm_rel(dir);
  if (!rel) return fail(err, UV_EINVAL, xasprintf("%s: not a folder inside %s", dir, w->root));
  if (always_skipped(rel)) {
    free(rel);
    return fail(err, UV_EINVAL, xasprintf("%s: always ignored by the watcher", dir));
  }
  char *path = full(w, rel);
  struct stat st;
  int rc = stat(path, &st) < 0 ? -errno : !S_ISDIR(st.st_mode) ? UV_ENOTDIR : 0;
  char *msg = rc < 0 ? xasprintf("%s: %s", path, uv_strerror(rc)) : NULL;
  free(path);
  if (rc < 0) {
    free(rel);
    return fail(err, rc, msg);
  }
  struct root *r = find_root(w, rel);
  if (r && (r->recursive || !recursive)) {
    free(rel);
    return 0;
  }
  int added = !r;
  if (r) {
    r->recursive = 1;
    free(rel);
  } else {
    w->roots = xrealloc(w->roots, (w->nroots + 1) * sizeof *w->roots);
    r = &w->roots[w->nroots++];
    *r = (struct root){rel, recursive, 0};
  }
  if (w->polling) {
    scan_root(w, r, 1);
    sweep(w, 1);
    return 0;
  }
  rc = add_tree(w, r->path, r->recursive, 0);
  if (rc < 0) {
    char *msg = xasprintf("%s: cannot watch: %s", r->path, uv_strerror(rc));
    if (added) free(w->roots[--w->nroots].path);
    return fail(err, rc, msg);
  }
  return 0;
}

int watch_polling(const watch *w) { return w->polling; }

size_t watch_count(const watch *w) { return w->polling ? w->ndirs : map_len(w->dirs); }

void watch_close(watch *w) {
  if (!w || w->closed) return;
  w->closed = 1;
  drop_dirs(w, "");
  map_free(w->dirs);
  w->dirs = NULL;
  size_t it = 0;
  void *v;
  while (map_next(w->snap, &it, NULL, &v)) free(v);
  map_free(w->snap);
  map_free(w->pending);
  sv_free(&w->pend);
  for (size_t i = 0; i < w->nroots; i++) free(w->roots[i].path);
  free(w->roots);
  free(w->root);
  uv_close((uv_handle_t *)&w->settle, on_handle_closed);
  uv_close((uv_handle_t *)&w->idle, on_handle_closed);
  uv_close((uv_handle_t *)&w->check, on_handle_closed);
  uv_close((uv_handle_t *)&w->tick, on_handle_closed);
}
