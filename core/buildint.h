/* buildint: what build.c (running) and plan.c (planning) share; not for
 * other modules. */
#ifndef DBX_BUILDINT_H
#define DBX_BUILDINT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "build.h"
#include "engine.h"
#include "hash.h"
#include "image.h"
#include "imagebuild.h"
#include "map.h"
#include "proc.h"
#include "sched.h"
#include "statcache.h"
#include "store.h"
#include "util.h"

enum { J_PENDING, J_BUILT, J_CACHED, J_FAILED, J_SKIPPED };

struct job {
  struct build *b;
  target *t;
  size_t idx;               /* index in b->jobs */
  char key[HASH_HEX];
  int key_known, dirty, gen_inputs, status;
  unsigned char (*digests)[HASH_LEN];
  hash_item *items;         /* re-hash of a target's own inputs at start */
  uint64_t started;
  proc *p;
  imagebuild *ib;
  strbuf line;              /* output not yet ending in a newline */
  int log_errno;            /* its log could not be written (see proc_opts) */
};

struct build {
  uv_loop_t *loop;
  graph *g;
  const build_opts *o;
  store *st;
  statcache *sc;
  sched *s;
  struct job *jobs;
  size_t n;
  size_t *job_of;           /* graph index -> job index + 1 (0: not in this run) */
  map *producer;            /* output path -> struct job * */
  uv_signal_t sigint, sigterm;
  int interrupted, lockfd;
  char *plan_error;
  char *engine_error;       /* -k and no engine: why each image target fails (the rest runs) */
  size_t built, cached, failed, skipped;
  uint64_t t0;
  hash_item *items;         /* plan-time digests, one per distinct input */
  size_t nitems;
  map *item_of;             /* path -> its item */
  engine *eng;              /* opened when the run has image targets */
  image_index ix;
  image_cli cli;
  int cli_state;            /* 0 not looked for yet, 1 found, -1 none */
  char *project;            /* label and tag part: the project folder's name */
  const char *network;      /* build network of images that name none ("host" on an
                             * engine without a bridge network), or NULL */
};

/* Open the state folder (taking its lock), the store and the stat cache. 0, or -1 after saying why. */
int plan_open(struct build *b, uv_loop_t *loop, graph *g, const build_opts *o);
/* Save the stat cache, close what plan_open opened and free the jobs. */
void plan_close(struct build *b);
/* Set up a job per target needed by roots, digest their inputs, compute keys
 * and decide what is dirty (runs the loop). 0, or -1 with b->plan_error set. */
int plan_run(struct build *b, const size_t *roots, size_t nroots);
/* Compute j's key from its digests and its dependencies' keys (key_known says whether it could). */
void plan_key(struct build *b, struct job *j);
/* The manifest of j's current inputs, params and dependency keys (caller frees). */
char *plan_manifest(struct build *b, struct job *j);
/* Whether every output of t exists; else *missing names the first that does not. */
int plan_outputs_exist(const target *t, const char **missing);
/* Whether j is up to date: its key in the store, its outputs there, its image in the engine. */
int plan_up_to_date(struct build *b, struct job *j);
/* Append to out a sentence for each reason j needs work. */
void plan_reasons(struct build *b, struct job *j, strvec *out);
/* path inside the state folder (caller frees). */
char *plan_state_path(struct build *b, const char *name);
/* Point up-to-date images' own tags at them, through the API. */
void plan_retag(struct build *b);
/* Print each dirty target and why (for --dry-run). */
void plan_dry_run(struct build *b);

#endif
