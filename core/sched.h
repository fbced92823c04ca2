/* sched: runs a DAG of nodes on the loop. Each node counts its unfinished
 * dependencies; a node whose count reaches zero joins the ready queue. At most
 * `jobs` nodes run at once, and at most a pool's limit of that pool's nodes.
 * A failure skips every node that depends on it; without keep-going it also
 * stops new work, and whatever has not started is skipped. Dispatch is
 * deferred to its own loop turn, never done inside the caller's callback. */
#ifndef DBX_SCHED_H
#define DBX_SCHED_H

#include <stddef.h>
#include <uv.h>

typedef struct sched sched;

/* What a start callback reports. */
enum { SCHED_STARTED = 0, SCHED_DONE_OK = 1, SCHED_DONE_FAILED = 2 };

typedef struct {
  /* Start node i: SCHED_STARTED when work is under way (sched_done comes
   * later, holding a job slot meanwhile), or SCHED_DONE_OK / SCHED_DONE_FAILED
   * when it finished at once (no slot used, e.g. already up to date). */
  int (*start)(void *ud, size_t i);
  /* Node i will not run: a dependency failed or the run was stopped. */
  void (*skip)(void *ud, size_t i);
  /* Every node has finished or been skipped. */
  void (*done)(void *ud);
} sched_ops;

/* A scheduler for n nodes; jobs 0 means 1. */
sched *sched_new(uv_loop_t *loop, size_t n, const sched_ops *ops, void *ud, unsigned jobs,
                 int keep_going);
/* Make node wait for dep. */
void sched_dep(sched *s, size_t node, size_t dep);
/* A new pool allowing limit nodes at once; returns its id. */
int sched_pool(sched *s, unsigned limit);
/* Put node in pool (an id from sched_pool). */
void sched_set_pool(sched *s, size_t node, int pool);
/* Begin dispatching on the loop. */
void sched_run(sched *s);
/* Report that a started node finished. */
void sched_done(sched *s, size_t node, int ok);
/* Start nothing more: running nodes finish, the rest are skipped. */
void sched_stop(sched *s);
/* How many nodes are running now. */
size_t sched_running(const sched *s);
/* Free the scheduler (closes its loop handle; the loop must run once more). */
void sched_free(sched *s);

#endif
