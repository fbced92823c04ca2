/* dev: `dbx dev [SERVICE...] [--watch]` — builds each service's dev image,
 * runs it as a container through the engine API with dbx-init as its PID 1,
 * streams its output, and with --watch turns each batch of file changes into
 * the cheapest reload that is correct:
 *
 *   source files  -> copied into the container (a bind-mounted sync folder on
 *                    a local engine, a tar PUT through the API on a remote
 *                    one), then SIGHUP to dbx-init, which restarts the app
 *                    (warm: forked from a parent that already imported the
 *                    dependencies);
 *   deps or base  -> rebuild, start a new container, keep it only if healthy;
 *   the recipe    -> load it again, rebuild what the keys say.
 *
 * On SIGINT/SIGTERM it removes every container and file it made. */
#ifndef DBX_DEV_H
#define DBX_DEV_H

#include "build.h"
#include "graph.h"
#include "util.h"

/* Load the recipe again (after build.lua changed): a resolved graph, or NULL
 * with *err set (caller frees). */
typedef graph *(*dev_reload_fn)(void *ud, char **err);

typedef struct {
  build_opts build;      /* how images are built */
  int watch;             /* --watch: reload on changes; otherwise run until interrupted */
  int keep;              /* --keep: leave the containers running at exit */
  unsigned debounce_ms;  /* a batch closes after this long without a change */
  const char *sync;      /* "auto", "mount" (sync folder) or "archive" (tar through the API) */
  const char *gpus;      /* --gpus: "all", "none" or a count, over the recipe's; NULL: the recipe's */
  dev_reload_fn reload;
  void *reload_ud;
} dev_opts;

/* Run the dev loop for services (names of python.service services; none: every
 * service in the dev group). g is the loaded, resolved graph; dev may replace
 * it (the caller frees *g at the end). Returns the exit code: 130 when
 * interrupted, 1 when the first build or start failed (without --watch),
 * 2 on a usage error. */
int dev_run(graph **g, const strvec *services, const dev_opts *o);

#endif
