/* watch: reports changed files under folders, in batches. One uv_fs_event
 * (inotify) per folder; folders are walked recursively and followed as they
 * appear and disappear. When the system runs out of inotify watches the whole
 * watcher falls back to polling (said once, through the warn callback).
 *
 * Never reported, whatever the ignore callback says: any path with a part
 * named .git, .dbx, .venv, __pycache__ or node_modules (not descended into
 * either), and editors' temp files — names ending in '~', .swp, .swx, .swo or
 * .tmp, starting with ".#", vim's "4913", and write_file_atomic's NAME.tmp.PID.
 * A temp file renamed over the real name is reported as that name. */
#ifndef DBX_WATCH_H
#define DBX_WATCH_H

#include <stddef.h>
#include <uv.h>

#include "util.h"

typedef struct watch watch;

/* Whether path (relative to the root, '/'-separated) is of no interest:
 * ignored paths are neither reported nor, for folders, descended into. */
typedef int (*watch_ignore_fn)(void *ud, const char *path, int is_dir);
/* One batch: the changed paths relative to the root, sorted and unique
 * (borrowed for the call). A path that no longer exists was deleted; a deleted
 * folder is reported as itself, not through what it held; a new folder is
 * reported through every file in it (an empty one not at all). A folder that
 * is reported and still exists was replaced (or is watched afresh): what it
 * held may be gone, and its files are reported as well. The root itself is
 * never named. The callback may call watch_close. */
typedef void (*watch_batch_fn)(void *ud, const strvec *paths);
/* A message for the user (the fall back to polling), borrowed for the call.
 * Neither this nor the ignore callback may call watch_* functions. */
typedef void (*watch_warn_fn)(void *ud, const char *msg);

typedef struct {
  unsigned settle_ms;    /* a batch closes once nothing changed for this long (0: 15) */
  unsigned max_wait_ms;  /* ... or this long after its first change at the latest (0: 2000) */
  unsigned poll_ms;      /* polling interval, and how often a vanished folder is
                            looked for (0: 200) */
  watch_ignore_fn ignore; /* may be NULL */
  watch_batch_fn batch;   /* required */
  watch_warn_fn warn;     /* may be NULL */
  void *ud;
} watch_opts;

/* A watcher for folders under root (a folder; relative to the current one or
 * absolute) on loop, watching nothing yet. 0, or a negative errno with *err
 * set (caller frees; err may be NULL). DBX_WATCH_LIMIT=N in the environment
 * (for tests) makes it poll as soon as it would watch more than N folders. */
int watch_open(uv_loop_t *loop, const char *root, const watch_opts *o, watch **out, char **err);
/* Watch dir (relative to root, "" for the root itself): with recursive, every
 * folder below it too, else only the files directly in it. Nothing is reported
 * for what is already there. If dir later disappears it is looked for every
 * poll_ms and, once back, watched again and its files reported. 0, or a
 * negative errno with *err set (caller frees; err may be NULL): -ENOENT or
 * -ENOTDIR for no such folder, -EINVAL for a path outside root or one that is
 * always ignored. Adding a folder twice is harmless. */
int watch_add(watch *w, const char *dir, int recursive, char **err);
/* Whether it has fallen back to polling (for good). */
int watch_polling(const watch *w);
/* How many folders are watched (inotify), or scanned on each poll. */
size_t watch_count(const watch *w);
/* Stop and free everything: no callback is called after this. The handles are
 * closed on the loop, so run it once more to finish. NULL does nothing. */
void watch_close(watch *w);

#endif
