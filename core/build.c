/* build: runs what plan.c found out of date on the scheduler — commands as
 * process groups, images through imagebuild — recording each success in the
 * store as it lands, and stopping everything cleanly on SIGINT/SIGTERM. */
#include "buildint.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "term.h"

extern char **environ;

#define GRACE_MS 3000
#define TAIL_LINES 20

static const char *status_word(int s) {
  static const char *w[] = {"pending", "built", "cached", "failed", "skipped"};
  return w[s];
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
  char *f = file_name_for(name), *rel = xasprintf("logs/%s.log", f);
  char *p = plan_state_path(b, rel);
  free(f);
  free(rel);
  return p;
}

/* Print the end of a failed target's log where the live output was not shown. */
static void show_tail(struct build *b, struct job *j) {
  char *p = log_path(b, j->t->name), *data;
  size_t len;
  strbuf cmd = {0};
  for (size_t i = 0; i < j->t->argv.n; i++) { /* one line: long or multi-line arguments cut short */
    const char *a = j->t->argv.v[i];
    size_t n = strcspn(a, "\n");
    if (i) sb_addc(&cmd, ' ');
    sb_addn(&cmd, a, n > 60 ? 60 : n);
    if (n > 60 || a[n]) sb_adds(&cmd, "...");
  }
  if (j->t->kind == KIND_CMD) term_msg("%s: command: %s", j->t->name, cmd.buf ? cmd.buf : "");
  sb_free(&cmd);
  if (j->log_errno) { /* the log is short of the output: nothing more to point at */
    free(p);
    return;
  }
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

/* Record j's success in the store; NULL, or why it could not be (caller frees).
 * An input that vanished while j ran fails it; one that changed (its stat is
 * not the one hashed) leaves it unrecorded, so the next build runs it again. */
static char *record(struct job *j, const char *result) {
  struct build *b = j->b;
  for (size_t i = 0; i < j->t->inputs.n; i++) {
    const char *p = j->t->inputs.v[i];
    file_stat was, now;
    if (statcache_stat(b->sc, p, &was) < 0) continue;
    int rc = file_stat_get(p, &now);
    if (rc < 0)
      return xasprintf("input '%s' %s during the build, after dbx read it", p,
                       rc == -ENOENT ? "disappeared" : strerror(-rc));
    /* not ctime: hard-linking an input into an image's context changes it */
    if (was.size != now.size || was.mtime_ns != now.mtime_ns || was.ino != now.ino) {
      term_msg("dbx: warning: %s: input '%s' changed during the build, after dbx read it; the result is not recorded, so the next "
               "build runs it again", j->t->name, p);
      return NULL;
    }
  }
  char *m = plan_manifest(b, j);
  int rc = store_put(b->st, j->key, j->t->name, j->started ? now_ms() - j->started : 0, result, m);
  free(m);
  return rc < 0 ? xasprintf("cannot record the result in %s: %s", b->o->state_dir, strerror(-rc)) : NULL;
}

/* A started job ended, with err (taken) NULL on success: record it, report it,
 * and hand it back to the scheduler. */
static void complete_job(struct job *j, const char *result, char *err) {
  struct build *b = j->b;
  flush_line(j);
  if (!err) err = record(j, result);
  finish_job(j, err ? J_FAILED : J_BUILT, err);
  if (err && !b->interrupted) show_tail(b, j);
  free(err);
  sched_done(b->s, j->idx, j->status == J_BUILT);
}

static void on_exit_job(void *ud, int64_t status, int sig) {
  struct job *j = ud;
  j->p = NULL;
  char *err = NULL;
  const char *missing = NULL;
  if (sig) err = xasprintf("killed by signal %d%s", sig, j->b->interrupted ? " (interrupted)" : "");
  else if (status) err = xasprintf("command exited with status %lld", (long long)status);
  else if (!plan_outputs_exist(j->t, &missing))
    err = xasprintf("the command succeeded but did not produce output '%s'", missing);
  else if (j->log_errno) {
    char *p = log_path(j->b, j->t->name);
    err = xasprintf("the command succeeded but its output could not be kept in %s: %s", p, strerror(j->log_errno));
    free(p);
  }
  complete_job(j, "-", err);
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
  j->ib = NULL;
  complete_job(j, id, !error ? NULL : j->b->interrupted ? xstrdup("interrupted") : xstrdup(error));
}

static int launch_image(struct job *j) {
  struct build *b = j->b;
  target *t = j->t;
  char *err = NULL;
  if (b->engine_error) {
    finish_job(j, J_FAILED, "no container engine answers (see the error above)");
    return SCHED_DONE_FAILED;
  }
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
  char *logdir = plan_state_path(b, "logs");
  mkdir_p(logdir);
  free(logdir);
  char *log = log_path(b, t->name);
  imagebuild_opts io = {.loop = b->loop, .eng = b->eng, .ix = &b->ix, .cli = &b->cli,
                        .state_dir = b->o->state_dir, .project = b->project, .log_path = log, .network = b->network,
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
    char *err = record(j, "-");
    finish_job(j, err ? J_FAILED : J_BUILT, err);
    free(err);
    return err ? SCHED_DONE_FAILED : SCHED_DONE_OK;
  }
  char *logdir = plan_state_path(b, "logs");
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
  j->log_errno = 0;
  proc_opts po = {.argv = argv, .env = env, .cwd = *t->dir ? t->dir : NULL, .log_path = log,
                  .log_errno = &j->log_errno, .on_output = on_output, .on_exit = on_exit_job, .ud = j};
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
  if (plan_up_to_date(b, j)) {
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
  plan_key(b, j);
  int r = decide(j);
  if (r != SCHED_STARTED) sched_done(b->s, j->idx, r == SCHED_DONE_OK);
}

static int start_job(void *ud, size_t i) {
  struct build *b = ud;
  struct job *j = &b->jobs[i];
  if (j->t->kind == KIND_GROUP) {
    plan_key(b, j);
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
  plan_key(b, j);
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

/* ---- entry point ---- */

/* One warning for each link that leads nowhere which a glob of this run's
 * targets matched and left out (a "dangling" meta fact, see recipe.c). */
static void warn_dangling(struct build *b) {
  strvec links = {0};
  for (size_t i = 0; i < b->n; i++)
    for (size_t k = 0; k < b->jobs[i].t->meta.n; k++)
      if (strncmp(b->jobs[i].t->meta.v[k], "dangling=", 9) == 0) sv_push(&links, b->jobs[i].t->meta.v[k] + 9);
  sv_sort_uniq(&links);
  for (size_t i = 0; i < links.n; i++) {
    char to[4096];
    ssize_t n = readlink(links.v[i], to, sizeof to - 1);
    to[n > 0 ? n : 0] = 0;
    term_msg("dbx: warning: %s is a link to '%s', which does not exist: left out of the build", links.v[i], to);
  }
  sv_free(&links);
}

/* An engine without a bridge network (dockerd --bridge=none) fails every
 * build that uses its default network: when an image is to be built and
 * neither its recipe nor $DBX_BUILD_NETWORK names a network, ask the engine
 * once and build on the host's network if it has none. Not part of any key. */
static void pick_build_network(struct build *b) {
  const char *env = getenv("DBX_BUILD_NETWORK");
  if (!b->eng || b->engine_error || (env && *env)) return;
  int asks = 0;
  for (size_t i = 0; i < b->n && !asks; i++)
    asks = b->jobs[i].t->kind == KIND_IMAGE && b->jobs[i].dirty && !b->jobs[i].t->network;
  if (!asks || engine_has_bridge(b->eng) != 0) return;
  b->network = "host";
  term_msg("dbx: engine has no bridge network: builds use the host network");
}

int build_run(graph *g, const size_t *roots, size_t nroots, const build_opts *o) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct build b;
  int code = 2;
  if (plan_open(&b, &loop, g, o) < 0) goto out;
  if (plan_run(&b, roots, nroots) < 0) {
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
    plan_dry_run(&b);
    printf("%zu of %zu targets would build\n", dirty, count);
    code = 0;
    goto out;
  }
  plan_retag(&b);
  pick_build_network(&b);
  for (size_t i = 0; i < b.n; i++) { /* what the recipe warns about, at every build that includes it */
    const char *warn = target_get_meta(b.jobs[i].t, "warning");
    if (warn) term_msg("dbx: warning: %s %s", b.jobs[i].t->name, warn);
  }
  warn_dangling(&b);
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
  for (size_t i = 0; i < nroots && code == 0 && o->keys; i++)
    sv_push(o->keys, b.jobs[b.job_of[roots[i]] - 1].key);
out:
  plan_close(&b);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}
