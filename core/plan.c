/* plan: the first half of a build — the state folder and its lock, every
 * input digested once on the threadpool, keys in dependency order, what is up
 * to date (the store, and for images the engine), and why the rest is not.
 * `dbx explain` and `--dry-run` are answered from here; build.c runs the rest. */
#include "buildint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "term.h"

/* ---- state folder and lock ---- */

char *plan_state_path(struct build *b, const char *name) { return path_join(b->o->state_dir, name); }

/* Hold .dbx/lock for the whole run so two builds never interleave. */
static int take_lock(struct build *b) {
  int rc = mkdir_p(b->o->state_dir);
  if (rc < 0) {
    term_msg("dbx: error: cannot create %s: %s", b->o->state_dir, strerror(-rc));
    return -1;
  }
  char *p = plan_state_path(b, "lock");
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

void plan_key(struct build *b, struct job *j) {
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

char *plan_manifest(struct build *b, struct job *j) {
  target *t = j->t;
  const char **dk = xmalloc((t->deps.n ? t->deps.n : 1) * sizeof *dk);
  for (size_t d = 0; d < t->deps.n; d++) dk[d] = b->jobs[b->job_of[t->dep_idx[d]] - 1].key;
  key_src src = {t, (const unsigned char(*)[HASH_LEN])j->digests, dk};
  char *m = key_manifest(&src);
  free(dk);
  return m;
}

int plan_outputs_exist(const target *t, const char **missing) {
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

int plan_up_to_date(struct build *b, struct job *j) {
  if (j->t->kind == KIND_GROUP) return 1;
  return j->key_known && store_get(b->st, j->key) && plan_outputs_exist(j->t, NULL) && in_engine(b, j);
}

/* Why j needs work, as sentences appended to out. */
void plan_reasons(struct build *b, struct job *j, strvec *out) {
  target *t = j->t;
  if (!j->key_known) {
    sv_push(out, "an input is made by another target that has to run first");
    return;
  }
  const char *missing = NULL;
  if (store_get(b->st, j->key)) {
    if (!plan_outputs_exist(t, &missing)) sv_push_own(out, xasprintf("output %s is missing", missing));
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
    char to[4096];
    ssize_t tn = err == -ENOENT ? readlink(t->inputs.v[i], to, sizeof to - 1) : -1;
    if (err == -EISDIR)
      plan_fail(b, xasprintf("%s: target '%s': input '%s' is a folder; write '%s/**' for every file in it",
                             t->where, t->name, t->inputs.v[i], t->inputs.v[i]));
    else if (tn >= 0) /* named as it is, not by a glob: the recipe wants it */
      plan_fail(b, xasprintf("%s: target '%s': input '%s' is a link to '%.*s', which does not exist", t->where,
                             t->name, t->inputs.v[i], (int)tn, to));
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
  for (size_t i = 0; i < b->n; i++) assign_digests(b, &b->jobs[i]);
}

/* Ask the engine, in one round of concurrent inspections, for the image of
 * every image target the store says is built (by the tag its key gives) and
 * for the images those targets are tagged with. Inspections rather than one
 * listing: the engine's listing costs grow with every image it holds (12-40
 * ms at 130 images here), an inspection stays at ~1 ms. 0, or -1. */
static int find_built_images(struct build *b) {
  strvec refs = {0};
  for (size_t i = 0; i < b->n; i++) {
    struct job *j = &b->jobs[i];
    if (j->t->kind != KIND_IMAGE || !j->key_known || !store_get(b->st, j->key)) continue;
    sv_push_own(&refs, image_tag(b->project, j->t->name, j->key));
    for (size_t k = 0; k < j->t->tags.n; k++) sv_push(&refs, j->t->tags.v[k]);
  }
  sv_sort_uniq(&refs);
  char *err = NULL;
  long st = refs.n ? image_index_load(b->eng, &refs, &b->ix, &err) : 200;
  sv_free(&refs);
  if (st != 200) plan_fail(b, err);
  return st == 200 ? 0 : -1;
}

/* Append the external images t's Dockerfile names. */
static void dockerfile_refs(const target *t, strvec *refs) {
  const char *df = target_get_param(t, "dockerfile");
  if (df) image_external_refs(df, refs);
}

/* The images a Dockerfile takes from outside (FROM python:3.11-slim) are part
 * of what goes into it: their ids become params, so a changed base image
 * rebuilds. Set once per target and run. */
static void key_base_images(struct build *b, target *t) {
  for (size_t i = 0; i < t->nparams; i++)
    if (strncmp(t->params[i].name, "from:", 5) == 0) return; /* already set */
  const char *df = target_get_param(t, "dockerfile");
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
int plan_run(struct build *b, const size_t *roots, size_t nroots) {
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
    const char *miss = target_missing_arg(j->t);
    if (miss)
      plan_fail(b, xasprintf("%s needs the build argument %s, and it has no value: add --build-arg %s=VALUE",
                             j->t->name, miss, miss));
  }
  free(order);
  if (b->plan_error) { /* nothing to digest or ask the engine about */
    sv_free(&paths);
    return -1;
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
  /* digests on the threadpool while the engine is asked about base images */
  if (hash_items_async(b->loop, b->sc, b->items, b->nitems, on_plan_hashed, b) < 0) {
    hash_items_sync(b->sc, b->items, b->nitems);
    on_plan_hashed(b, b->items, b->nitems);
  }
  int images = 0;
  for (size_t i = 0; i < n; i++) images |= b->jobs[i].t->kind == KIND_IMAGE;
  if (images) {
    char *err = NULL;
    strvec refs = {0};
    for (size_t i = 0; i < n; i++)
      if (b->jobs[i].t->kind == KIND_IMAGE) dockerfile_refs(b->jobs[i].t, &refs);
    sv_sort_uniq(&refs);
    int rc = engine_open(b->loop, NULL, &b->eng, &err);
    if (rc == 0 && image_index_load(b->eng, &refs, &b->ix, &err) != 200) rc = -1;
    sv_free(&refs);
    if (rc < 0 && b->o->keep_going) { /* -k: the image targets fail, what does not need them runs */
      term_msg("dbx: error: %s", err);
      b->engine_error = err;
      images = 0;
    } else if (rc < 0) plan_fail(b, err);
    else
      for (size_t i = 0; i < n; i++)
        if (b->jobs[i].t->kind == KIND_IMAGE) key_base_images(b, b->jobs[i].t);
  }
  uv_run(b->loop, UV_RUN_DEFAULT); /* the digests */
  if (b->plan_error) return -1;
  for (size_t i = 0; i < n; i++) plan_key(b, &b->jobs[i]); /* in dependency order */
  if (images && !b->plan_error) find_built_images(b);
  if (b->plan_error) return -1;
  for (size_t i = 0; i < b->n; i++) b->jobs[i].dirty = !plan_up_to_date(b, &b->jobs[i]);
  return 0;
}

int plan_open(struct build *b, uv_loop_t *loop, graph *g, const build_opts *o) {
  memset(b, 0, sizeof *b);
  b->loop = loop;
  b->g = g;
  b->o = o;
  b->lockfd = -1;
  b->t0 = now_ms();
  if (take_lock(b) < 0) return -1;
  b->project = image_project_name();
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
  char *sc = plan_state_path(b, "statcache");
  b->sc = statcache_load(sc);
  free(sc);
  return 0;
}

void plan_close(struct build *b) {
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
  free(b->engine_error);
  image_index_free(&b->ix);
  image_cli_free(&b->cli);
  engine_close(b->eng);
  free(b->project);
  if (b->lockfd >= 0) close(b->lockfd);
}

/* Point each up-to-date image's own tags (e.g. "app:prod") at it, through the
 * API, where they point elsewhere (say, after building another branch). */
void plan_retag(struct build *b) {
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

void plan_dry_run(struct build *b) {
  for (size_t i = 0; i < b->n; i++) {
    struct job *j = &b->jobs[i];
    if (!j->dirty || j->t->kind == KIND_GROUP) continue;
    strvec why = {0};
    plan_reasons(b, j, &why);
    printf("would build %s:", j->t->name);
    for (size_t k = 0; k < why.n; k++) printf("%s %s", k ? ";" : "", why.v[k]);
    putchar('\n');
    sv_free(&why);
  }
}

int build_explain(graph *g, size_t ti, const build_opts *o) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct build b;
  int code = 2;
  if (plan_open(&b, &loop, g, o) < 0) goto out;
  if (plan_run(&b, &ti, 1) < 0) {
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
    plan_reasons(&b, j, &why);
    printf("  would build:\n");
    for (size_t k = 0; k < why.n; k++) printf("    %s\n", why.v[k]);
    sv_free(&why);
  }
  code = 0;
out:
  plan_close(&b);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}
