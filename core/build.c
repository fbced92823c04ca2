#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "engine.h"
#include "hash.h"
#include "image.h"
#include "imagebuild.h"
#include "key.h"
#include "map.h"
#include "proc.h"
#include "sched.h"
#include "statcache.h"
#include "store.h"
#include "term.h"
#include "util.h"

extern char **environ;

#define GRACE_MS 3000
#define TAIL_LINES 20

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
  char *error;
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
  int interrupted, plan_failed, lockfd;
  char *plan_error;
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
};

static const char *status_word(int s) {
  static const char *w[] = {"pending", "built", "cached", "failed", "skipped"};
  return w[s];
}

/* ---- state folder and lock ---- */

static char *state_path(struct build *b, const char *name) { return path_join(b->o->state_dir, name); }

/* Hold .dbx/lock for the whole run so two builds never interleave. */
static int take_lock(struct build *b) {
  int rc = mkdir_p(b->o->state_dir);
  if (rc < 0) {
    term_msg("dbx: error: cannot create %s: %s", b->o->state_dir, strerror(-rc));
    return -1;
  }
  char *p = state_path(b, "lock");
  b->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  free(p);
  if (b->lockfd < 0) {
    term_msg("dbx: error: cannot open the lock in %s: %s", b->o->state_dir, strerror(errno));
    return -1;
  }
  if (flock(b->lockfd, LOCK_EX | LOCK_NB) < 0) {
    char pid[32] = "";
    ssize_t n = pread(b->lockfd, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    term_msg("dbx: another dbx is working in this project%s%s%s; waiting for it to finish",
             *pid ? " (pid " : "", pid, *pid ? ")" : "");
    while (flock(b->lockfd, LOCK_EX) < 0)
      if (errno != EINTR) return -1;
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(b->lockfd, 0) == 0 && pwrite(b->lockfd, pid, (size_t)n, 0) < 0) { /* best effort */ }
  return 0;
}

/* ---- keys ---- */

static void compute_key(struct build *b, struct job *j) {
  target *t = j->t;
  const char **dk = xmalloc((t->deps.n ? t->deps.n : 1) * sizeof *dk);
  j->key_known = j->digests != NULL || t->inputs.n == 0;
  for (size_t d = 0; d < t->deps.n && j->key_known; d++) {
    struct job *dj = &b->jobs[b->job_of[t->dep_idx[d]] - 1];
    if (!dj->key_known) j->key_known = 0;
    dk[d] = dj->key;
  }
  if (j->key_known) {
    key_src src = {t, (const unsigned char(*)[HASH_LEN])j->digests, dk};
    key_compute(&src, j->key);
  } else {
    j->key[0] = 0;
  }
  free(dk);
}

static char *manifest_of(struct build *b, struct job *j) {
  target *t = j->t;
  const char **dk = xmalloc((t->deps.n ? t->deps.n : 1) * sizeof *dk);
  for (size_t d = 0; d < t->deps.n; d++) dk[d] = b->jobs[b->job_of[t->dep_idx[d]] - 1].key;
  key_src src = {t, (const unsigned char(*)[HASH_LEN])j->digests, dk};
  char *m = key_manifest(&src);
  free(dk);
  return m;
}

static int outputs_exist(const target *t, const char **missing) {
  for (size_t i = 0; i < t->outputs.n; i++) {
    struct stat st;
    if (stat(t->outputs.v[i], &st) < 0) {
      if (missing) *missing = t->outputs.v[i];
      return 0;
    }
  }
  return 1;
}

static int in_engine(struct build *b, struct job *j) {
  return j->t->kind != KIND_IMAGE || (b->ix.by_key && map_get(b->ix.by_key, j->key));
}

static int up_to_date(struct build *b, struct job *j) {
  if (j->t->kind == KIND_GROUP) return 1;
  return j->key_known && store_get(b->st, j->key) && outputs_exist(j->t, NULL) && in_engine(b, j);
}

/* Why j needs work, as sentences appended to out. */
static void reasons(struct build *b, struct job *j, strvec *out) {
  target *t = j->t;
  if (!j->key_known) {
    sv_push(out, "an input is made by another target that has to run first");
    return;
  }
  const char *missing = NULL;
  if (store_get(b->st, j->key)) {
    if (!outputs_exist(t, &missing)) sv_push_own(out, xasprintf("output %s is missing", missing));
    else if (!in_engine(b, j)) sv_push(out, "its image is no longer in the engine (removed or pruned)");
    return;
  }
  const store_entry *last = store_last(b->st, t->name);
  if (!last) {
    sv_push(out, "never built");
    return;
  }
  const char **dk = xmalloc((t->deps.n ? t->deps.n : 1) * sizeof *dk);
  for (size_t d = 0; d < t->deps.n; d++) dk[d] = b->jobs[b->job_of[t->dep_idx[d]] - 1].key;
  key_src src = {t, (const unsigned char(*)[HASH_LEN])j->digests, dk};
  int n = key_diff(last->manifest, &src, out);
  free(dk);
  if (n < 0) sv_push(out, "its last build record cannot be read");
  else if (n == 0) sv_push(out, "its key changed in a way the record does not show (dbx was upgraded?)");
}

/* ---- planning: digest every input once, then keys in dependency order ---- */

static hash_item *find_item(struct build *b, const char *path) { return map_get(b->item_of, path); }

static void plan_fail(struct build *b, char *msg) {
  if (!b->plan_error) b->plan_error = msg;
  else free(msg);
  b->plan_failed = 1;
}

/* Give each job its digests from the plan-time items; missing files that some
 * target of this run makes are left for that target. */
static void assign_digests(struct build *b, struct job *j) {
  target *t = j->t;
  free(j->digests);
  j->digests = t->inputs.n ? xmalloc(t->inputs.n * sizeof *j->digests) : NULL;
  for (size_t i = 0; i < t->inputs.n; i++) {
    hash_item *it = find_item(b, t->inputs.v[i]);
    struct job *maker = map_get(b->producer, t->inputs.v[i]);
    if (maker && maker != j) j->gen_inputs = 1;
    if (it && it->err == 0) {
      memcpy(j->digests[i], it->digest, HASH_LEN);
      continue;
    }
    int err = it ? it->err : -ENOENT;
    if (err == -ENOENT && maker && maker != j) {
      free(j->digests);
      j->digests = NULL; /* known once the maker has run */
      return;
    }
    if (err == -EISDIR)
      plan_fail(b, xasprintf("%s: target '%s': input '%s' is a folder; write '%s/**' for every file in it",
                             t->where, t->name, t->inputs.v[i], t->inputs.v[i]));
    else if (err == -ENOENT)
      plan_fail(b, xasprintf("%s: target '%s': input file '%s' does not exist", t->where, t->name,
                             t->inputs.v[i]));
    else
      plan_fail(b, xasprintf("%s: target '%s': cannot read input '%s': %s", t->where, t->name,
                             t->inputs.v[i], strerror(-err)));
    free(j->digests);
    j->digests = NULL;
    return;
  }
}

static void on_plan_hashed(void *ud, hash_item *items, size_t n) {
  (void)items;
  (void)n;
  struct build *b = ud;
  for (size_t i = 0; i < b->n; i++) {
    assign_digests(b, &b->jobs[i]);
    compute_key(b, &b->jobs[i]);
    b->jobs[i].dirty = !up_to_date(b, &b->jobs[i]);
  }
}

/* The images a Dockerfile takes from outside (FROM python:3.11-slim) are part
 * of what goes into it: their ids become params, so a changed base image
 * rebuilds. Set once per target and run. */
/* Append the external images t's Dockerfile names. */
static void dockerfile_refs(const target *t, strvec *refs) {
  for (size_t i = 0; i < t->nparams; i++)
    if (strcmp(t->params[i].name, "dockerfile") == 0) image_external_refs(t->params[i].value, refs);
}

static void key_base_images(struct build *b, target *t) {
  const char *df = NULL;
  for (size_t i = 0; i < t->nparams; i++) {
    if (strncmp(t->params[i].name, "from:", 5) == 0) return; /* already set */
    if (strcmp(t->params[i].name, "dockerfile") == 0) df = t->params[i].value;
  }
  if (!df) return;
  strvec refs = {0};
  image_external_refs(df, &refs);
  for (size_t i = 0; i < refs.n; i++) {
    const char *id = image_index_lookup(&b->ix, refs.v[i]);
    char *name = xasprintf("from:%s", refs.v[i]);
    target_param(t, name, id ? id : "(not in the engine)");
    free(name);
  }
  sv_free(&refs);
}

/* Set up jobs for the closure of roots and digest their inputs (runs the loop). */
static int plan(struct build *b, const size_t *roots, size_t nroots) {
  graph *g = b->g;
  size_t n;
  size_t *order = graph_closure(g, roots, nroots, &n);
  b->n = n;
  b->jobs = xcalloc(n ? n : 1, sizeof *b->jobs);
  b->job_of = xcalloc(g->n ? g->n : 1, sizeof *b->job_of);
  b->producer = map_new();
  strvec paths = {0};
  for (size_t i = 0; i < n; i++) {
    struct job *j = &b->jobs[i];
    j->b = b;
    j->t = g->t[order[i]];
    j->idx = i;
    b->job_of[order[i]] = i + 1;
    for (size_t k = 0; k < j->t->outputs.n; k++) {
      struct job *other = map_put(b->producer, j->t->outputs.v[k], j);
      if (other && other != j)
        plan_fail(b, xasprintf("%s: output '%s' of target '%s' is also an output of '%s' (%s)",
                               j->t->where, j->t->outputs.v[k], j->t->name, other->t->name,
                               other->t->where));
    }
    for (size_t k = 0; k < j->t->inputs.n; k++) sv_push(&paths, j->t->inputs.v[k]);
  }
  free(order);
  int images = 0;
  for (size_t i = 0; i < n; i++) images |= b->jobs[i].t->kind == KIND_IMAGE;
  if (images) {
    char *err = NULL;
    strvec refs = {0};
    for (size_t i = 0; i < n; i++)
      if (b->jobs[i].t->kind == KIND_IMAGE) dockerfile_refs(b->jobs[i].t, &refs);
    sv_sort_uniq(&refs);
    int rc = engine_open(b->loop, NULL, &b->eng, &err);
    if (rc == 0 && image_index_load(b->eng, b->project, &refs, &b->ix, &err) != 200) rc = -1;
    sv_free(&refs);
    if (rc < 0) {
      plan_fail(b, err);
      sv_free(&paths);
      return -1;
    }
    for (size_t i = 0; i < n; i++)
      if (b->jobs[i].t->kind == KIND_IMAGE) key_base_images(b, b->jobs[i].t);
  }
  sv_sort_uniq(&paths);
  /* the items borrow the path strings: keep them in the vector until the end */
  b->nitems = paths.n;
  b->items = xcalloc(paths.n ? paths.n : 1, sizeof *b->items);
  b->item_of = map_new();
  for (size_t i = 0; i < paths.n; i++) {
    b->items[i].path = paths.v[i];
    map_put(b->item_of, paths.v[i], &b->items[i]);
  }
  free(paths.v); /* strings now owned by b->items */
  if (hash_items_async(b->loop, b->sc, b->items, b->nitems, on_plan_hashed, b) < 0) {
    hash_items_sync(b->sc, b->items, b->nitems);
    on_plan_hashed(b, b->items, b->nitems);
  }
  uv_run(b->loop, UV_RUN_DEFAULT);
  return b->plan_failed ? -1 : 0;
}

/* ---- running ---- */

static void finish_job(struct job *j, int status, const char *error) {
  struct build *b = j->b;
  j->status = status;
  uint64_t ms = j->started ? now_ms() - j->started : 0;
  if (j->t->kind != KIND_GROUP || status == J_FAILED) {
    term_finish(j->t->name, status_word(status), ms, j->key_known ? j->key : "", error);
    if (status == J_BUILT) b->built++;
    else if (status == J_CACHED) b->cached++;
    else if (status == J_FAILED) b->failed++;
    else if (status == J_SKIPPED) b->skipped++;
  }
}

static void flush_line(struct job *j) {
  if (!j->line.len) return;
  term_line(j->t->name, j->line.buf);
  j->line.len = 0;
  j->line.buf[0] = 0;
}

static void on_output(void *ud, const char *buf, size_t n) {
  struct job *j = ud;
  for (size_t i = 0; i < n; i++) {
    if (buf[i] == '\n') flush_line(j);
    else if (j->line.len < 65536) sb_addc(&j->line, buf[i]);
  }
}

static char *log_path(struct build *b, const char *name) {
  strbuf sb = {0};
  sb_adds(&sb, "logs/");
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '.' || *p == '-' || *p == '_')
      sb_addc(&sb, (char)*p);
    else sb_addf(&sb, "%%%02X", *p);
  }
  sb_adds(&sb, ".log");
  char *p = state_path(b, sb.buf);
  sb_free(&sb);
  return p;
}

/* Print the end of a failed target's log where the live output was not shown. */
static void show_tail(struct build *b, struct job *j) {
  char *p = log_path(b, j->t->name), *data;
  size_t len;
  strbuf cmd = {0};
  for (size_t i = 0; i < j->t->argv.n; i++) {
    if (i) sb_addc(&cmd, ' ');
    sb_adds(&cmd, j->t->argv.v[i]);
  }
  if (j->t->kind == KIND_CMD) term_msg("%s: command: %s", j->t->name, cmd.buf ? cmd.buf : "");
  sb_free(&cmd);
  if (term_mode() == PROGRESS_JSON && read_file(p, &data, &len) == 0) {
    size_t lines = 0, start = len;
    while (start > 0 && lines <= TAIL_LINES) {
      start--;
      if (data[start] == '\n' && start + 1 < len) lines++;
    }
    if (lines > TAIL_LINES) start++;
    if (len) term_msg("%s: last lines of %s:\n%s", j->t->name, p, data + start);
    free(data);
  } else {
    term_msg("%s: full output in %s", j->t->name, p);
  }
  free(p);
}

static void on_exit_job(void *ud, int64_t status, int sig) {
  struct job *j = ud;
  struct build *b = j->b;
  j->p = NULL;
  flush_line(j);
  char *err = NULL;
  const char *missing = NULL;
  if (sig) err = xasprintf("killed by signal %d%s", sig, b->interrupted ? " (interrupted)" : "");
  else if (status) err = xasprintf("command exited with status %lld", (long long)status);
  else if (!outputs_exist(j->t, &missing))
    err = xasprintf("the command succeeded but did not produce output '%s'", missing);
  if (!err) {
    char *m = manifest_of(b, j);
    int rc = store_put(b->st, j->key, j->t->name, now_ms() - j->started, "-", m);
    free(m);
    if (rc < 0) err = xasprintf("cannot record the result in %s: %s", b->o->state_dir, strerror(-rc));
  }
  finish_job(j, err ? J_FAILED : J_BUILT, err);
  if (err && !b->interrupted) show_tail(b, j);
  free(err);
  sched_done(b->s, j->idx, j->status == J_BUILT);
}

static char **child_env(const target *t) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = xmalloc((n + t->env.n + 1) * sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    int overridden = 0;
    for (size_t e = 0; e < t->env.n && !overridden; e++)
      overridden = strncmp(t->env.v[e], environ[i], nl) == 0 && t->env.v[e][nl] == '=';
    if (!overridden) env[k++] = environ[i];
  }
  for (size_t e = 0; e < t->env.n; e++) env[k++] = t->env.v[e];
  env[k] = NULL;
  return env;
}

static void on_image_done(void *ud, const char *id, const char *error) {
  struct job *j = ud;
  struct build *b = j->b;
  j->ib = NULL;
  flush_line(j);
  char *err = error ? xstrdup(error) : NULL;
  if (!err) {
    char *m = manifest_of(b, j);
    int rc = store_put(b->st, j->key, j->t->name, now_ms() - j->started, id, m);
    free(m);
    if (rc < 0) err = xasprintf("cannot record the result in %s: %s", b->o->state_dir, strerror(-rc));
  }
  if (err && b->interrupted) {
    free(err);
    err = xstrdup("interrupted");
  }
  finish_job(j, err ? J_FAILED : J_BUILT, err);
  if (err && !b->interrupted) show_tail(b, j);
  free(err);
  sched_done(b->s, j->idx, j->status == J_BUILT);
}

static int launch_image(struct job *j) {
  struct build *b = j->b;
  target *t = j->t;
  char *err = NULL;
  if (b->cli_state == 0) b->cli_state = image_find_cli(&b->cli, &err) == 0 ? 1 : -1;
  if (b->cli_state < 0) {
    if (!err) err = xstrdup("no docker client here can build with BuildKit (see the first failure)");
    finish_job(j, J_FAILED, err);
    free(err);
    return SCHED_DONE_FAILED;
  }
  char **tags = xcalloc(t->deps.n ? t->deps.n : 1, sizeof *tags);
  for (size_t d = 0; d < t->deps.n; d++) {
    struct job *dj = &b->jobs[b->job_of[t->dep_idx[d]] - 1];
    if (dj->t->kind == KIND_IMAGE) tags[d] = image_tag(b->project, dj->t->name, dj->key);
  }
  char *logdir = state_path(b, "logs");
  mkdir_p(logdir);
  free(logdir);
  char *log = log_path(b, t->name);
  imagebuild_opts io = {.loop = b->loop, .eng = b->eng, .ix = &b->ix, .cli = &b->cli,
                        .state_dir = b->o->state_dir, .project = b->project, .log_path = log,
                        .on_output = on_output, .on_done = on_image_done, .ud = j};
  int rc = imagebuild_start(&io, t, j->key, (const char *const *)tags, &j->ib, &err);
  for (size_t d = 0; d < t->deps.n; d++) free(tags[d]);
  free(tags);
  free(log);
  if (rc < 0) {
    finish_job(j, J_FAILED, err);
    free(err);
    return SCHED_DONE_FAILED;
  }
  return SCHED_STARTED;
}

/* The key is known and the target is not up to date: run its command. */
static int launch(struct job *j) {
  struct build *b = j->b;
  target *t = j->t;
  j->started = now_ms();
  term_start(t->name, kind_name(t->kind), j->key);
  if (t->kind == KIND_IMAGE) return launch_image(j);
  if (t->argv.n == 0) { /* nothing to run: only inputs grouped under a name */
    char *m = manifest_of(b, j);
    store_put(b->st, j->key, t->name, 0, "-", m);
    free(m);
    finish_job(j, J_BUILT, NULL);
    return SCHED_DONE_OK;
  }
  char *logdir = state_path(b, "logs");
  mkdir_p(logdir);
  free(logdir);
  for (size_t i = 0; i < t->outputs.n; i++) {
    char *slash = strrchr(t->outputs.v[i], '/');
    if (slash) {
      char *d = xstrndup(t->outputs.v[i], (size_t)(slash - t->outputs.v[i]));
      mkdir_p(d);
      free(d);
    }
  }
  char **argv = xmalloc((t->argv.n + 1) * sizeof *argv);
  for (size_t i = 0; i < t->argv.n; i++) argv[i] = t->argv.v[i];
  argv[t->argv.n] = NULL;
  char **env = child_env(t);
  char *log = log_path(b, t->name);
  proc_opts po = {.argv = argv, .env = env, .cwd = *t->dir ? t->dir : NULL, .log_path = log,
                  .on_output = on_output, .on_exit = on_exit_job, .ud = j};
  int rc = proc_spawn(b->loop, &po, &j->p);
  free(argv);
  free(env);
  free(log);
  if (rc < 0) {
    char *err = rc == UV_ENOENT ? xasprintf("cannot run '%s': no such program (is it installed and on PATH?)", t->argv.v[0])
                                : xasprintf("cannot run '%s': %s", t->argv.v[0], uv_strerror(rc));
    finish_job(j, J_FAILED, err);
    free(err);
    return SCHED_DONE_FAILED;
  }
  return SCHED_STARTED;
}

/* Decide between cached and a run once the key is final. */
static int decide(struct job *j) {
  struct build *b = j->b;
  if (!j->key_known) {
    finish_job(j, J_FAILED, "an input made by another target is still missing after it ran");
    return SCHED_DONE_FAILED;
  }
  if (up_to_date(b, j)) {
    finish_job(j, J_CACHED, NULL);
    return SCHED_DONE_OK;
  }
  return launch(j);
}

static void on_job_hashed(void *ud, hash_item *items, size_t n) {
  struct job *j = ud;
  struct build *b = j->b;
  free(j->digests);
  j->digests = xmalloc((n ? n : 1) * sizeof *j->digests);
  char *err = NULL;
  for (size_t i = 0; i < n && !err; i++) {
    if (items[i].err)
      err = xasprintf("input '%s': %s", items[i].path,
                      items[i].err == -ENOENT ? "does not exist (its maker did not produce it)"
                                              : strerror(-items[i].err));
    else memcpy(j->digests[i], items[i].digest, HASH_LEN);
  }
  free(j->items);
  j->items = NULL;
  if (err || b->interrupted) {
    finish_job(j, b->interrupted ? J_SKIPPED : J_FAILED, err);
    free(err);
    sched_done(b->s, j->idx, 0);
    return;
  }
  compute_key(b, j);
  int r = decide(j);
  if (r != SCHED_STARTED) sched_done(b->s, j->idx, r == SCHED_DONE_OK);
}

static int start_job(void *ud, size_t i) {
  struct build *b = ud;
  struct job *j = &b->jobs[i];
  if (j->t->kind == KIND_GROUP) {
    compute_key(b, j);
    j->status = J_BUILT;
    return SCHED_DONE_OK;
  }
  if (!j->dirty) {
    finish_job(j, J_CACHED, NULL);
    return SCHED_DONE_OK;
  }
  int dep_built = 0;
  for (size_t d = 0; d < j->t->deps.n; d++)
    dep_built |= b->jobs[b->job_of[j->t->dep_idx[d]] - 1].status == J_BUILT;
  if (j->gen_inputs && (dep_built || !j->digests)) {
    /* inputs made by a dependency: digest them as they are now */
    j->items = xcalloc(j->t->inputs.n ? j->t->inputs.n : 1, sizeof *j->items);
    for (size_t k = 0; k < j->t->inputs.n; k++) j->items[k].path = j->t->inputs.v[k];
    if (hash_items_async(b->loop, b->sc, j->items, j->t->inputs.n, on_job_hashed, j) == 0)
      return SCHED_STARTED;
    hash_items_sync(b->sc, j->items, j->t->inputs.n);
    on_job_hashed(j, j->items, j->t->inputs.n);
    return SCHED_STARTED;
  }
  compute_key(b, j);
  return decide(j);
}

static void skip_job(void *ud, size_t i) {
  struct build *b = ud;
  struct job *j = &b->jobs[i];
  if (j->t->kind == KIND_GROUP) {
    j->status = J_SKIPPED;
    return;
  }
  finish_job(j, J_SKIPPED, NULL);
}

static void on_all_done(void *ud) {
  struct build *b = ud;
  uv_close((uv_handle_t *)&b->sigint, NULL);
  uv_close((uv_handle_t *)&b->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
  struct build *b = h->data;
  if (!b->interrupted)
    term_msg("dbx: %s: stopping %zu running target%s", signum == SIGINT ? "interrupted" : "terminated",
             sched_running(b->s), sched_running(b->s) == 1 ? "" : "s");
  b->interrupted++;
  sched_stop(b->s);
  for (size_t i = 0; i < b->n; i++)
    if (b->jobs[i].p) proc_kill(b->jobs[i].p, b->interrupted > 1 ? 0 : GRACE_MS);
    else if (b->jobs[i].ib) imagebuild_kill(b->jobs[i].ib, b->interrupted > 1 ? 0 : GRACE_MS);
}

/* ---- entry points ---- */

static int open_state(struct build *b, uv_loop_t *loop, graph *g, const build_opts *o) {
  memset(b, 0, sizeof *b);
  b->loop = loop;
  b->g = g;
  b->o = o;
  b->lockfd = -1;
  b->t0 = now_ms();
  if (take_lock(b) < 0) return -1;
  char cwd[4096];
  const char *base = getcwd(cwd, sizeof cwd) ? strrchr(cwd, '/') : NULL;
  b->project = image_repo_part(base && base[1] ? base + 1 : "project");
  char *err = NULL;
  char *dir = xstrdup(o->state_dir);
  int rc = store_open(dir, &b->st, &err);
  free(dir);
  if (rc < 0) {
    term_msg("dbx: error: %s", err);
    free(err);
    return -1;
  }
  if (store_skipped(b->st))
    term_msg("dbx: warning: skipped %zu damaged line%s of %s/store (those targets will rebuild)",
             store_skipped(b->st), store_skipped(b->st) == 1 ? "" : "s", o->state_dir);
  char *sc = state_path(b, "statcache");
  b->sc = statcache_load(sc);
  free(sc);
  return 0;
}

static void close_state(struct build *b) {
  if (b->sc) {
    int rc = statcache_save(b->sc);
    if (rc < 0) term_msg("dbx: warning: cannot save %s/statcache: %s", b->o->state_dir, strerror(-rc));
#ifdef DBX_FREE_ALL
    statcache_free(b->sc); /* otherwise left to the exit: freeing 100k entries costs ms */
#endif
  }
  store_close(b->st);
  for (size_t i = 0; i < b->n; i++) {
    free(b->jobs[i].digests);
    free(b->jobs[i].items);
    sb_free(&b->jobs[i].line);
  }
  for (size_t i = 0; i < b->nitems; i++) free((char *)b->items[i].path);
  free(b->items);
  free(b->jobs);
  free(b->job_of);
  map_free(b->producer);
  map_free(b->item_of);
  free(b->plan_error);
  image_index_free(&b->ix);
  image_cli_free(&b->cli);
  engine_close(b->eng);
  free(b->project);
  if (b->lockfd >= 0) close(b->lockfd);
}

/* Point each up-to-date image's own tags (e.g. "app:prod") at it, through the
 * API, where they point elsewhere (say, after building another branch). */
static void retag_cached(struct build *b) {
  for (size_t i = 0; i < b->n; i++) {
    struct job *j = &b->jobs[i];
    if (j->t->kind != KIND_IMAGE || j->dirty) continue;
    const char *id = map_get(b->ix.by_key, j->key);
    for (size_t k = 0; id && k < j->t->tags.n; k++) {
      const char *want = j->t->tags.v[k];
      const char *has = map_get(b->ix.by_tag, want);
      if (has && strcmp(has, id) == 0) continue;
      const char *colon = strrchr(want, ':'), *slash = strrchr(want, '/');
      int tagged = colon && (!slash || colon > slash);
      char *repo = tagged ? xstrndup(want, (size_t)(colon - want)) : xstrdup(want);
      char *path = xasprintf("/images/%s/tag?repo=%s&tag=%s", id, repo, tagged ? colon + 1 : "latest");
      char *body = NULL;
      long st = engine_call(b->eng, "POST", path, NULL, &body);
      if (st != 201) term_msg("dbx: warning: cannot tag %s as %s: %s", j->t->name, want, body ? body : "");
      free(body);
      free(path);
      free(repo);
    }
  }
}

static void print_dry_run(struct build *b) {
  for (size_t i = 0; i < b->n; i++) {
    struct job *j = &b->jobs[i];
    if (!j->dirty || j->t->kind == KIND_GROUP) continue;
    strvec why = {0};
    reasons(b, j, &why);
    printf("would build %s:", j->t->name);
    for (size_t k = 0; k < why.n; k++) printf("%s %s", k ? ";" : "", why.v[k]);
    putchar('\n');
    sv_free(&why);
  }
}

int build_run(graph *g, const size_t *roots, size_t nroots, const build_opts *o) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct build b;
  int code = 2;
  if (open_state(&b, &loop, g, o) < 0) goto out;
  if (plan(&b, roots, nroots) < 0) {
    term_msg("dbx: error: %s", b.plan_error);
    goto out;
  }
  size_t count = 0, dirty = 0;
  for (size_t i = 0; i < b.n; i++)
    if (b.jobs[i].t->kind != KIND_GROUP) {
      count++;
      dirty += b.jobs[i].dirty;
    }
  if (o->dry_run) {
    print_dry_run(&b);
    printf("%zu of %zu targets would build\n", dirty, count);
    code = 0;
    goto out;
  }
  retag_cached(&b);
  term_plan(count, dirty);
  static const sched_ops ops = {start_job, skip_job, on_all_done};
  b.s = sched_new(&loop, b.n, &ops, &b, o->jobs, o->keep_going);
  map *pools = map_new();
  for (size_t i = 0; i < b.n; i++) {
    target *t = b.jobs[i].t;
    for (size_t d = 0; d < t->deps.n; d++) sched_dep(b.s, i, b.job_of[t->dep_idx[d]] - 1);
    if (t->pool) {
      int id = (int)(size_t)map_get(pools, t->pool);
      if (!id) {
        /* a pool named "NAME:N" allows N at once; otherwise one */
        const char *c = strrchr(t->pool, ':');
        id = sched_pool(b.s, c ? (unsigned)atoi(c + 1) : 1);
        map_put(pools, t->pool, (void *)(size_t)id);
      }
      sched_set_pool(b.s, i, id);
    }
  }
  map_free(pools);
  uv_signal_init(&loop, &b.sigint);
  uv_signal_init(&loop, &b.sigterm);
  b.sigint.data = b.sigterm.data = &b;
  uv_signal_start(&b.sigint, on_signal, SIGINT);
  uv_signal_start(&b.sigterm, on_signal, SIGTERM);
  sched_run(b.s);
  uv_run(&loop, UV_RUN_DEFAULT);
  sched_free(b.s);
  uv_run(&loop, UV_RUN_DEFAULT);
  const char *status = b.interrupted ? "interrupted" : b.failed ? "failed" : "ok";
  term_done(status, b.built, b.cached, b.failed, b.skipped, now_ms() - b.t0);
  code = b.interrupted ? 130 : b.failed ? 1 : 0;
out:
  close_state(&b);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}

int build_explain(graph *g, size_t ti, const build_opts *o) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct build b;
  int code = 2;
  if (open_state(&b, &loop, g, o) < 0) goto out;
  if (plan(&b, &ti, 1) < 0) {
    term_msg("dbx: error: %s", b.plan_error);
    goto out;
  }
  struct job *j = &b.jobs[b.job_of[ti] - 1];
  target *t = j->t;
  printf("%s (%s, declared at %s)\n", t->name, kind_name(t->kind), t->where ? t->where : "?");
  if (t->kind == KIND_GROUP) {
    size_t dirty = 0;
    for (size_t i = 0; i < b.n; i++) dirty += b.jobs[i].dirty && b.jobs[i].t->kind != KIND_GROUP;
    printf("  a group of %zu target%s; %zu would build\n", t->deps.n, t->deps.n == 1 ? "" : "s", dirty);
    code = 0;
    goto out;
  }
  const store_entry *last = store_last(b.st, t->name);
  if (j->key_known) printf("  key now:    %s\n", j->key);
  if (last) printf("  last built: %s (%llu ms)\n", last->key, (unsigned long long)last->ms);
  if (!j->dirty) {
    printf("  up to date\n");
  } else {
    strvec why = {0};
    reasons(&b, j, &why);
    printf("  would build:\n");
    for (size_t k = 0; k < why.n; k++) printf("    %s\n", why.v[k]);
    sv_free(&why);
  }
  code = 0;
out:
  close_state(&b);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}
