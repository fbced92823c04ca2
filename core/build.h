/* build: plans and runs a build — digests the inputs, computes every key in
 * dependency order, decides what is up to date from the store, then runs the
 * rest on the scheduler, recording each success in the store as it lands.
 * Also answers `explain` and `--dry-run` from the same plan. */
#ifndef DBX_BUILD_H
#define DBX_BUILD_H

#include <stddef.h>

#include "graph.h"
#include "util.h"

typedef struct {
  unsigned jobs;    /* at most this many commands at once */
  int keep_going;   /* -k: after a failure, go on with what does not depend on it */
  int dry_run;      /* -n: say what would run and why, run nothing */
  const char *state_dir; /* where the store, stat cache and logs live (".dbx") */
  strvec *keys;     /* when set, receives each root's key (hex) after a build that succeeded */
} build_opts;

/* Build roots (indexes into g->t) and everything they need. Returns the exit
 * code: 0 all done, 1 a target failed, 2 a usage or input error, 130 interrupted. */
int build_run(graph *g, const size_t *roots, size_t nroots, const build_opts *o);
/* Print what changed for target since its last build. Returns the exit code. */
int build_explain(graph *g, size_t target, const build_opts *o);

#endif
