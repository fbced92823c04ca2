#include "imagebuild.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

struct imagebuild {
  imagebuild_opts o;
  const target *t;
  char *key, *tag, *dir, *df, *iid, *dockerfile, *log;
  strvec pulls;  /* external images to pull first */
  size_t next_pull;
  proc *p;
  int killed;
  strbuf line;   /* output not yet ending in a newline */
  char *cause;   /* the last line of the output that says what went wrong */
  int log_errno; /* the log could not be written */
};

/* Report (unless both id and err are NULL), clean up and free ib. */
static void finish(imagebuild *ib, const char *id, const char *err) {
  if (id || err) ib->o.on_done(ib->o.ud, id, err);
  rm_rf(ib->dir);
  unlink(ib->df);
  unlink(ib->iid);
  free(ib->key);
  free(ib->tag);
  free(ib->dir);
  free(ib->df);
  free(ib->iid);
  free(ib->dockerfile);
  free(ib->log);
  sb_free(&ib->line);
  free(ib->cause);
  sv_free(&ib->pulls);
  free(ib);
}

static void on_build_exit(void *ud, int64_t status, int sig) {
  imagebuild *ib = ud;
  ib->p = NULL;
  if (sig || status) {
    char *err = sig ? xasprintf("docker build was stopped by signal %d", sig)
                    : xasprintf("docker build failed (exit status %lld)%s%s; the failing step and its output are above and in %s",
                                (long long)status, ib->cause ? ": " : "", ib->cause ? ib->cause : "", ib->log);
    finish(ib, NULL, err);
    free(err);
    return;
  }
  char *id = NULL;
  if (read_file(ib->iid, &id, NULL) < 0 || strncmp(id, "sha256:", 7) != 0) {
    free(id);
    finish(ib, NULL, "docker build succeeded but wrote no image id");
    return;
  }
  id[strcspn(id, "\r\n")] = 0;
  if (ib->log_errno) {
    char *err = xasprintf("docker build succeeded but its output could not be kept in %s: %s", ib->log,
                          strerror(ib->log_errno));
    finish(ib, NULL, err);
    free(err);
  } else {
    finish(ib, id, NULL);
  }
  free(id);
}

/* Keep a line of a step's output that names the cause of a failure: apt's
 * "E: ...", pip's "ERROR: ...", uv's "error: ..." (BuildKit prefixes each
 * with "#STEP SECONDS"; its own "#STEP ERROR:" line only repeats the command). */
static void note_cause(imagebuild *ib, const char *line) {
  const char *p = line;
  if (*p != '#') return;
  while (*p && *p != ' ') p++;
  while (*p == ' ') p++;
  if (*p >= '0' && *p <= '9') { /* a timestamp: the step's own output follows */
    while (*p && *p != ' ') p++;
    if (*p == ' ') p++;
    const char *q = p;
    while (*q == ' ') q++;
    if (strncmp(q, "E: ", 3) == 0 || strncmp(q, "ERROR: ", 7) == 0 || strncmp(q, "error: ", 7) == 0) {
      free(ib->cause);
      ib->cause = xstrdup(q);
    } else if (strncmp(q, "cause: ", 7) == 0 && q > p && ib->cause && strncmp(ib->cause, "error: ", 7) == 0 &&
               !strstr(ib->cause, "; cause: ")) { /* uv's indented reason under its error line */
      char *c = xasprintf("%s; %s", ib->cause, q);
      free(ib->cause);
      ib->cause = c;
    }
  }
}

static void on_build_output(void *ud, const char *buf, size_t n) {
  imagebuild *ib = ud;
  for (size_t i = 0; i < n; i++) {
    if (buf[i] != '\n') {
      if (ib->line.len < 4096) sb_addc(&ib->line, buf[i]);
      continue;
    }
    if (ib->line.len) note_cause(ib, ib->line.buf);
    ib->line.len = 0;
  }
  if (ib->o.on_output) ib->o.on_output(ib->o.ud, buf, n);
}

static void start_docker(imagebuild *ib) {
  char *err = NULL;
  for (size_t i = 0; i < ib->t->secrets.n; i++) { /* a missing secret: say which, before docker does */
    char *src = image_secret_path(ib->t, i);
    if (access(src, R_OK) < 0) {
      const char *s = ib->t->secrets.v[i];
      err = xasprintf("secret %.*s: cannot read %s: %s", (int)(strchr(s, '=') - s), s, src, strerror(errno));
    }
    free(src);
    if (err) {
      finish(ib, NULL, err);
      free(err);
      return;
    }
  }
  rm_rf(ib->dir);
  mkdir_p(ib->dir);
  if (image_write_context(ib->t, ib->dir, &err) < 0 ||
      write_file_atomic(ib->df, ib->dockerfile, strlen(ib->dockerfile)) < 0) {
    if (!err) err = xasprintf("cannot write %s: %s", ib->df, strerror(errno));
    finish(ib, NULL, err);
    free(err);
    return;
  }
  strvec argv = {0}, extra = {0};
  image_build_argv(ib->o.cli, ib->t, ib->dir, ib->df, ib->tag, ib->iid, ib->o.project, ib->key,
                   ib->o.network, &argv, &extra);
  extern char **environ;
  size_t n = 0;
  while (environ[n]) n++;
  char **env = xmalloc((n + extra.n + 1) * sizeof *env);
  memcpy(env, environ, n * sizeof *env);
  memcpy(env + n, extra.v, extra.n * sizeof *env);
  env[n + extra.n] = NULL;
  sv_push_own(&argv, NULL);
  proc_opts po = {.argv = argv.v, .env = env, .log_path = ib->o.log_path, .log_errno = &ib->log_errno,
                  .on_output = on_build_output, .on_exit = on_build_exit, .ud = ib};
  int rc = proc_spawn(ib->o.loop, &po, &ib->p);
  free(env);
  if (rc < 0) {
    err = xasprintf("cannot run %s: %s", argv.v[0], uv_strerror(rc));
    sv_free(&argv);
    sv_free(&extra);
    finish(ib, NULL, err);
    free(err);
    return;
  }
  sv_free(&argv);
  sv_free(&extra);
}

static void pull_next(imagebuild *ib);

static void on_pulled(void *ud, long status, const char *body, size_t len) {
  (void)len;
  imagebuild *ib = ud;
  const char *ref = ib->pulls.v[ib->next_pull - 1];
  const char *inline_err = status == 200 ? strstr(body, "\"error\"") : NULL;
  if (status != 200 || inline_err) {
    char *why = status < 0 ? engine_unreachable_msg(ib->o.eng, body)
                           : xasprintf("%.300s", inline_err ? inline_err : body);
    why[strcspn(why, "\n")] = 0;
    char *err = xasprintf("base image '%s' is not in the engine and pulling it failed: %s", ref, why);
    free(why);
    finish(ib, NULL, err);
    free(err);
    return;
  }
  pull_next(ib);
}

static void pull_next(imagebuild *ib) {
  if (ib->killed) {
    finish(ib, NULL, "interrupted");
    return;
  }
  if (ib->next_pull == ib->pulls.n) {
    start_docker(ib);
    return;
  }
  const char *ref = ib->pulls.v[ib->next_pull++];
  char *esc = image_url_escape(ref);
  char *path = xasprintf("/images/create?fromImage=%s", esc);
  free(esc);
  if (ib->o.on_output) {
    char *msg = xasprintf("pulling %s\n", ref);
    ib->o.on_output(ib->o.ud, msg, strlen(msg));
    free(msg);
  }
  if (engine_request(ib->o.eng, "POST", path, NULL, on_pulled, ib) < 0)
    on_pulled(ib, -1, "cannot send the request", 0);
  free(path);
}

int imagebuild_start(const imagebuild_opts *o, const target *t, const char *key,
                     const char *const *dep_tags, imagebuild **out, char **err) {
  char *df = image_dockerfile(t, dep_tags, err);
  if (!df) return -1;
  imagebuild *ib = xcalloc(1, sizeof *ib);
  ib->o = *o;
  ib->log = xstrdup(o->log_path);
  ib->o.log_path = ib->log;
  ib->t = t;
  ib->key = xstrdup(key);
  ib->dockerfile = df;
  ib->tag = image_tag(o->project, t->name, key);
  char *enc = file_name_for(t->name);
  char *ctx = path_join(o->state_dir, "ctx");
  mkdir_p(ctx);
  ib->dir = xasprintf("%s/%s", ctx, enc);
  ib->df = xasprintf("%s/%s.Dockerfile", ctx, enc);
  ib->iid = xasprintf("%s/%s.iid", ctx, enc);
  free(ctx);
  free(enc);
  unlink(ib->iid);
  /* external images are read off the Dockerfile as written: its {{dep:...}}
   * images are built by this run, never pulled */
  strvec refs = {0};
  image_external_refs(target_get_param(t, "dockerfile"), &refs);
  const char *pull = getenv("DBX_PULL");
  int never = pull && strcmp(pull, "never") == 0;
  for (size_t i = 0; i < refs.n; i++) {
    if (image_index_lookup(o->ix, refs.v[i])) continue;
    if (never) {
      *err = xasprintf("base image '%s' is not in the engine at %s, and DBX_PULL=never forbids pulling it",
                       refs.v[i], engine_address(o->eng));
      sv_free(&refs);
      finish(ib, NULL, NULL); /* frees ib without reporting */
      return -1;
    }
    sv_push(&ib->pulls, refs.v[i]);
  }
  sv_free(&refs);
  *out = ib;
  pull_next(ib);
  return 0;
}

void imagebuild_kill(imagebuild *ib, unsigned grace_ms) {
  ib->killed = 1;
  if (ib->p) proc_kill(ib->p, grace_ms);
}
