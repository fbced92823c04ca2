#include "dev.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "container.h"
#include "envfile.h"
#include "execstream.h"
#include "engine.h"
#include "glob.h"
#include "hash.h"
#include "ignore.h"
#include "image.h"
#include "map.h"
#include "recipe.h"
#include "tarmem.h"
#include "term.h"
#include "watch.h"

#define TOOLS_DIR "/.dbx"
/* beside the copied folders at a sync folder's root (no source folder has these names):
 * the image's source files, and what dbx copied in since */
#define SEEDED_LIST ".dbx-seeded"
#define SYNCED_LIST ".dbx-synced"
#define READY_TIMEOUT_MS 60000

enum { CH_NONE, CH_SOURCE, CH_DEPS, CH_RECIPE };

struct dev;

/* One service being developed: its facts from the recipe, its container. */
struct svc {
  struct dev *d;
  char *name, *target;
  /* facts (from the dev target's meta) */
  char *workdir, *user, *health, *stop_signal, *context, *source_t, *deps_t, *base_t, *lock_t;
  char *gpus;     /* GPUs to ask the engine for ("all", "2") or NULL */
  char *env_file; /* context-relative: its NAME=value lines reach the container, or NULL */
  strvec env;     /* what env_file held when the container was made */
  int gpus_asked; /* gpus came from --gpus, so an engine without GPUs is an error */
  strvec sources; /* patterns relative to context */
  strvec health_cmd; /* a command run in the container that exits 0 when it is healthy, or empty */
  int uid, port, warm, mount;
  ignore_rules ign;
  /* the running container */
  char *image_id, *cid, *syncdir; /* syncdir: project-relative, NULL without one */
  char *rundir;                   /* mounted at /.dbx/run: dbx-init's "started" file, or NULL */
  strvec mounts;                  /* context-relative top-level folders bind-mounted */
  map *known;                     /* archive mode: context-relative files the container holds */
  map *noted;                     /* names written to the sync folder's "synced" list by this dbx */
  strvec noted_names;             /* (the keys of noted) */
  container_logs *logs;
  char *start_mark; /* the run folder's "started" before the restart being waited for */
  int logs_ended;
  size_t starts, exits; /* "dbx-init: started" and "... exited" lines seen */
  engine *probe;        /* HTTP health checks, when the service has a port */
  int pidfd;            /* the container's dbx-init, to signal without the API; -1: use the API */
  execstream *agent;    /* archive mode: dbx-init --receive in container agent_cid, or NULL */
  char *agent_cid;      /* the container the agent runs in (or could not be started in) */
  int agent_failed;     /* it could not be started there, or ended before its first answer (a
                         * dbx-init without --receive): the archive API it is */
  int agent_answered;   /* an agent in agent_cid has answered */
};

struct dev {
  uv_loop_t loop;
  graph **g;
  const dev_opts *o;
  engine *e;
  char *project;
  int archive; /* files go in through the archive API (remote engine, or --sync=archive) */
  int remote;  /* the engine is on another machine: an app's port is probed from inside its container */
  int no_agent; /* DBX_NO_AGENT: archive mode copies through the archive API only */
  int host_net;
  struct svc *s;
  size_t n;
  watch *w;
  strvec pending; /* changed paths not yet handled */
  int stop, woken; /* woken: a sleep_loop ends early (its timer, or news it waits for) */
  uv_signal_t sigint, sigterm;
  uv_timer_t timer;
};

/* ---- small helpers ---- */

static int under(const char *path, const char *dir, const char **rest);
static int is_mounted(struct svc *s, const char *rel);
static char *deps_print(struct svc *s);
static void attach_signal(struct svc *s);

static void on_signal(uv_signal_t *h, int sig) {
  (void)sig;
  struct dev *d = h->data;
  d->stop = 1;
  uv_stop(&d->loop);
}

static void on_timer(uv_timer_t *t) {
  struct dev *d = t->data;
  d->woken = 1;
}

/* Run the loop for up to ms, or until stopped, or until news a waiter polls
 * for (an app start or exit in the log stream) arrives. */
static void sleep_loop(struct dev *d, uint64_t ms) {
  d->woken = 0;
  uv_timer_start(&d->timer, on_timer, ms, 0);
  while (!d->woken && !d->stop) uv_run(&d->loop, UV_RUN_ONCE);
  uv_timer_stop(&d->timer);
}

static const char *json_str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void say(struct svc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct svc *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  if (!msg) return;
  if (term_mode() == PROGRESS_JSON) {
    strbuf sb = {0};
    sb_adds(&sb, "{\"event\":\"dev\",\"service\":");
    sb_add_json_str(&sb, s ? s->name : "");
    sb_adds(&sb, ",\"message\":");
    sb_add_json_str(&sb, msg);
    sb_adds(&sb, "}\n");
    fputs(sb.buf, stdout);
    fflush(stdout);
    sb_free(&sb);
  } else {
    term_msg("%s%s%s", s ? s->name : "dbx", ": ", msg);
  }
  free(msg);
}

/* ---- the services and their facts ---- */

static void svc_clear_facts(struct svc *s) {
  free(s->workdir), free(s->user), free(s->health), free(s->stop_signal), free(s->context);
  free(s->gpus), s->gpus = NULL;
  free(s->env_file), s->env_file = NULL;
  sv_free(&s->health_cmd);
  free(s->source_t), free(s->deps_t), free(s->base_t), free(s->lock_t), free(s->target);
  sv_free(&s->sources);
  sv_free(&s->env);
  ignore_free(&s->ign);
  s->workdir = s->user = s->health = s->stop_signal = s->context = NULL;
  s->source_t = s->deps_t = s->base_t = s->lock_t = s->target = NULL;
}

static char *meta_dup(const target *t, const char *k) {
  const char *v = target_get_meta(t, k);
  return v ? xstrdup(v) : NULL;
}

/* Read s's facts from its dev target in g; 0, or -1 when the target is gone. */
static int svc_facts(struct svc *s, graph *g) {
  target *t = NULL;
  for (size_t i = 0; i < g->n && !t; i++) {
    const char *sv = target_get_meta(g->t[i], "service"), *v = target_get_meta(g->t[i], "variant");
    if (sv && v && strcmp(sv, s->name) == 0 && strcmp(v, "dev") == 0) t = g->t[i];
  }
  if (!t) return -1;
  svc_clear_facts(s);
  s->target = xstrdup(t->name);
  s->workdir = meta_dup(t, "workdir");
  s->user = meta_dup(t, "user");
  s->health = meta_dup(t, "health");
  const char *hc = target_get_meta(t, "health_cmd"); /* the argv, one item per line */
  for (const char *q = hc; q && *q;) {
    size_t len = strcspn(q, "\n");
    sv_push_own(&s->health_cmd, xstrndup(q, len));
    q += len + (q[len] ? 1 : 0);
  }
  s->stop_signal = meta_dup(t, "stop_signal");
  s->env_file = meta_dup(t, "env_file");
  s->context = meta_dup(t, "context");
  if (!s->context) s->context = xstrdup(t->context ? t->context : "");
  s->source_t = meta_dup(t, "source");
  s->deps_t = meta_dup(t, "deps");
  s->base_t = meta_dup(t, "base");
  s->lock_t = meta_dup(t, "lock");
  const char *p = target_get_meta(t, "port"), *u = target_get_meta(t, "uid");
  s->port = p ? atoi(p) : 0;
  s->uid = u ? atoi(u) : 0;
  const char *r = target_get_meta(t, "restart"), *m = target_get_meta(t, "mode");
  s->warm = !r || strcmp(r, "warm") == 0;
  s->mount = m && strcmp(m, "mount") == 0;
  const char *gp = s->d->o->gpus ? s->d->o->gpus : target_get_meta(t, "gpus");
  s->gpus = gp && strcmp(gp, "none") != 0 ? xstrdup(gp) : NULL;
  s->gpus_asked = s->d->o->gpus != NULL;
  const char *src = target_get_meta(t, "sources");
  for (const char *q = src ? src : "**"; *q;) {
    const char *nl = strchr(q, '\n');
    size_t len = nl ? (size_t)(nl - q) : strlen(q);
    if (len) sv_push_own(&s->sources, xstrndup(q, len));
    q += len + (nl ? 1 : 0);
  }
  if (!s->workdir) s->workdir = xstrdup("/app");
  ignore_defaults(&s->ign);
  char *di = path_join(s->context, ".dockerignore"), *text = NULL;
  size_t len;
  if (read_file(di, &text, &len) == 0) ignore_parse(&s->ign, text);
  free(text);
  free(di);
  return 0;
}

/* The services named (or every default dev service); 0, or 2 after saying why. */
static int pick_services(struct dev *d, const strvec *names) {
  graph *g = *d->g;
  strvec all = {0};
  for (size_t i = 0; i < g->n; i++) {
    const char *sv = target_get_meta(g->t[i], "service"), *v = target_get_meta(g->t[i], "variant");
    const char *def = target_get_meta(g->t[i], "default");
    if (sv && v && strcmp(v, "dev") == 0 && (names->n || !def || strcmp(def, "1") == 0)) sv_push(&all, sv);
  }
  strvec want = {0};
  if (!names->n) {
    for (size_t i = 0; i < all.n; i++) sv_push(&want, all.v[i]);
    if (!want.n) {
      fprintf(stderr, "dbx: error: dev runs python.service services, and this recipe declares none\n");
      sv_free(&all);
      return 2;
    }
  }
  for (size_t i = 0; i < names->n; i++) {
    const char *n = names->v[i];
    size_t k = 0;
    while (k < all.n && strcmp(all.v[k], n) != 0) k++;
    /* "allocator/dev" names the same service as "allocator" */
    if (k == all.n && strchr(n, '/')) {
      size_t l = (size_t)(strchr(n, '/') - n);
      for (k = 0; k < all.n; k++)
        if (strlen(all.v[k]) == l && strncmp(all.v[k], n, l) == 0) break;
    }
    if (k == all.n) {
      const char *hint = closest_name(n, (const char *const *)all.v, all.n);
      fprintf(stderr, "dbx: error: no service '%s'%s%s%s (dev runs the services python.service declares", n,
              hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
      for (size_t j = 0; j < all.n; j++) fprintf(stderr, "%s%s", j ? ", " : ": ", all.v[j]);
      fprintf(stderr, ")\n");
      sv_free(&all);
      sv_free(&want);
      return 2;
    }
    sv_push(&want, all.v[k]);
  }
  sv_sort_uniq(&want);
  d->s = xcalloc(want.n, sizeof *d->s);
  for (size_t i = 0; i < want.n; i++) {
    d->s[i].d = d;
    d->s[i].pidfd = -1;
    d->s[i].name = xstrdup(want.v[i]);
    svc_facts(&d->s[i], g);
  }
  d->n = want.n;
  sv_free(&want);
  sv_free(&all);
  return 0;
}

/* ---- building ---- */

/* Build the dev images of the services flagged in which (NULL: all). */
static int build(struct dev *d, const int *which) {
  size_t *roots = xcalloc(d->n, sizeof *roots), n = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (which && !which[i]) continue;
    target *t = graph_find(*d->g, d->s[i].target);
    if (t) roots[n++] = graph_index(*d->g, t);
  }
  int code = n ? build_run(*d->g, roots, n, &d->o->build) : 0;
  free(roots);
  if (code == 130) d->stop = 1;
  return code;
}

/* The id of the image s's dev target built (by its own tag); NULL after saying why. */
static char *built_image(struct svc *s, cJSON **config) {
  target *t = graph_find(*s->d->g, s->target);
  const char *ref = t && t->tags.n ? t->tags.v[0] : NULL;
  if (!ref) {
    say(s, "the dev image has no tag to run it by");
    return NULL;
  }
  cJSON *img = NULL;
  char *err = NULL;
  if (container_inspect(s->d->e, "images", ref, &img, &err) < 0) {
    say(s, "%s", err);
    free(err);
    return NULL;
  }
  const char *id = json_str(img, "Id");
  char *out = id ? xstrdup(id) : NULL;
  if (config) *config = cJSON_DetachItemFromObjectCaseSensitive(img, "Config");
  cJSON_Delete(img);
  return out;
}

/* ---- the sync folder ---- */

/* Which context-relative top-level folders of s's sources to bind-mount. */
static void pick_mounts(struct svc *s) {
  sv_free(&s->mounts);
  target *t = graph_find(*s->d->g, s->source_t ? s->source_t : "");
  if (!t) return;
  size_t cl = strlen(s->context);
  for (size_t i = 0; i < t->inputs.n; i++) {
    const char *p = t->inputs.v[i];
    if (cl) {
      if (strncmp(p, s->context, cl) != 0 || p[cl] != '/') continue;
      p += cl + 1;
    }
    const char *slash = strchr(p, '/');
    if (slash) sv_push_own(&s->mounts, xstrndup(p, (size_t)(slash - p)));
  }
  sv_sort_uniq(&s->mounts);
}

static char *state_dir_of(struct svc *s) {
  char *f = file_name_for(s->name);
  char *p = xasprintf("%s/dev/%s", s->d->o->build.state_dir, f);
  free(f);
  return p;
}

/* Fill a fresh sync folder with the mounted folders as the image holds them
 * (build steps may have left files there that the host does not have). */
/* The context-relative source files of s's current image (its source
 * target's inputs), one per line, into sb. */
static void source_list(struct svc *s, strbuf *sb) {
  target *t = graph_find(*s->d->g, s->source_t ? s->source_t : "");
  for (size_t i = 0; t && i < t->inputs.n; i++) {
    const char *r;
    if (under(t->inputs.v[i], s->context, &r) && *r && !strchr(r, '\n')) sb_addf(sb, "%s\n", r);
  }
}

static int seed_sync(struct svc *s, char **err) {
  char *tmp = NULL;
  cJSON *cfg = cJSON_CreateObject();
  cJSON_AddStringToObject(cfg, "Image", s->image_id);
  cJSON *lab = cJSON_AddObjectToObject(cfg, "Labels");
  cJSON_AddStringToObject(lab, "dbx.project", s->d->project);
  cJSON_AddStringToObject(lab, "dbx.dev-seed", s->name);
  int rc = container_create(s->d->e, NULL, cfg, &tmp, err);
  cJSON_Delete(cfg);
  if (rc < 0) return -1;
  rm_rf(s->syncdir);
  mkdir_p(s->syncdir);
  for (size_t i = 0; i < s->mounts.n && rc == 0; i++) {
    char *path = xasprintf("%s/%s", s->workdir, s->mounts.v[i]), *tar = NULL;
    size_t len = 0;
    rc = container_get_archive(s->d->e, tmp, path, &tar, &len, err);
    if (rc == 0) rc = tarmem_extract(tar, len, s->syncdir, err);
    free(tar);
    free(path);
  }
  char *e2 = NULL;
  container_remove(s->d->e, tmp, 0, &e2);
  free(e2);
  free(tmp);
  if (rc == 0) { /* the source files the image brought: an adoption deletes those the host has lost since */
    strbuf sb = {0};
    source_list(s, &sb);
    char *p = xasprintf("%s/" SEEDED_LIST, s->syncdir);
    int w = write_file_atomic(p, sb.buf ? sb.buf : "", sb.len);
    if (w < 0) *err = xasprintf("cannot write %s: %s", p, strerror(-w));
    rc = w < 0 ? -1 : 0;
    free(p);
    sb_free(&sb);
  }
  return rc;
}

/* What dbx knows the container holds outside the sync folder: the source
 * files the image was built with, plus what it copied in since. */
struct known {
  char *rel;
  int present;
};

static void know(struct svc *s, const char *rel, int present) {
  struct known *k = map_get(s->known, rel);
  if (!k) {
    k = xcalloc(1, sizeof *k);
    k->rel = xstrdup(rel);
    map_put(s->known, k->rel, k);
  }
  k->present = present;
}

static int held(struct svc *s, const char *rel) {
  struct known *k = map_get(s->known, rel);
  return k && k->present;
}

static void forget_all(struct svc *s) {
  if (!s->known) return;
  size_t it = 0;
  const char *key;
  void *val;
  while (map_next(s->known, &it, &key, &val)) {
    struct known *k = val;
    free(k->rel);
    free(k);
  }
  map_free(s->known);
  s->known = NULL;
}

/* Forget which names this dbx has written to the sync folder's list. */
static void forget_noted(struct svc *s) {
  map_free(s->noted);
  s->noted = NULL;
  sv_free(&s->noted_names);
}

/* Start knowing what the image holds: the source target's inputs. */
static void know_image(struct svc *s) {
  forget_all(s);
  s->known = map_new();
  target *t = graph_find(*s->d->g, s->source_t ? s->source_t : "");
  for (size_t i = 0; t && i < t->inputs.n; i++) {
    const char *r;
    if (under(t->inputs.v[i], s->context, &r) && *r) know(s, r, 1);
  }
}

/* ---- the container ---- */

static void on_log_line(void *ud, int stream, const char *line, size_t len) {
  struct svc *s = ud;
  (void)stream;
  if (len > 18 && strncmp(line, "dbx-init: started ", 18) == 0) {
    s->starts++;
    s->d->woken = 1;
  } else if (len > 10 && strncmp(line, "dbx-init: ", 10) == 0 &&
             (memmem(line, len, " exited with status", 19) || memmem(line, len, " killed by signal", 17))) {
    s->exits++;
    s->d->woken = 1;
  }
  char *l = xstrndup(line, len);
  if (term_mode() == PROGRESS_JSON) {
    strbuf sb = {0};
    sb_adds(&sb, "{\"event\":\"log\",\"service\":");
    sb_add_json_str(&sb, s->name);
    sb_addf(&sb, ",\"stream\":\"%s\",\"line\":", stream == 2 ? "stderr" : "stdout");
    sb_add_json_str(&sb, l);
    sb_adds(&sb, "}\n");
    fputs(sb.buf, stdout);
    fflush(stdout);
    sb_free(&sb);
  } else {
    term_line(s->name, l);
  }
  free(l);
}

static void on_log_end(void *ud) {
  struct svc *s = ud;
  s->logs_ended = 1;
  s->d->woken = 1;
}

/* dbx-init and the zygote, copied into the container before it starts. */
static int put_tools(struct svc *s, const char *cid, char **err) {
  size_t ilen = 0, zlen = 0;
  const char *init = recipe_embedded("init/dbx-init", &ilen);
  const char *zyg = recipe_embedded("init/zygote.py", &zlen);
  if (!init || !zyg) {
    *err = xstrdup("this dbx was built without dbx-init or the zygote (run make)");
    return -1;
  }
  tarmem *t = tarmem_new();
  tarmem_add_dir(t, TOOLS_DIR + 1, 0755, 0, 0);
  tarmem_add_data(t, TOOLS_DIR "/dbx-init" + 1, init, ilen, 0755, 0, 0);
  tarmem_add_data(t, TOOLS_DIR "/zygote.py" + 1, zyg, zlen, 0644, 0, 0);
  strbuf list = {0}; /* what the image's source brought, for an adoption through the API */
  source_list(s, &list);
  tarmem_add_data(t, TOOLS_DIR "/seeded" + 1, list.buf ? list.buf : "", list.len, 0644, 0, 0);
  sb_free(&list);
  size_t len;
  char *tar = tarmem_finish(t, &len);
  int rc = container_put_archive(s->d->e, cid, "/", tar, len, err);
  free(tar);
  return rc;
}

/* s's env file, read afresh for each container it starts (an edit to it
 * takes effect at the next one); a missing file is said, a malformed one is
 * an error that names its line. 0 or -1. */
static int read_env_file(struct svc *s) {
  sv_free(&s->env);
  if (!s->env_file) return 0;
  char *path = path_join(s->context, s->env_file), *err = NULL;
  int rc = envfile_read(path, &s->env, &err);
  if (rc == -ENOENT) say(s, "no env file %s: the container starts without it", path);
  else if (rc < 0) say(s, "env file %s", err);
  free(err);
  free(path);
  return rc < 0 && rc != -ENOENT ? -1 : 0;
}

/* The POST /containers/create body for s running image (whose Config is cfg). */
static cJSON *container_config(struct svc *s, const cJSON *cfg) {
  struct dev *d = s->d;
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "Image", s->image_id);
  cJSON *ep = cJSON_AddArrayToObject(c, "Entrypoint");
  cJSON_AddItemToArray(ep, cJSON_CreateString(TOOLS_DIR "/dbx-init"));
  cJSON_AddItemToArray(ep, cJSON_CreateString("--stay"));
  cJSON_AddItemToArray(ep, cJSON_CreateString(s->warm && !s->mount ? "--hup=forward" : "--hup=restart"));
  cJSON_AddItemToArray(ep, cJSON_CreateString("--"));
  const cJSON *v;
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(cfg, "Entrypoint"))
    if (cJSON_IsString(v)) cJSON_AddItemToArray(ep, cJSON_CreateString(v->valuestring));
  cJSON *cmd = cJSON_AddArrayToObject(c, "Cmd");
  if (s->warm && !s->mount) {
    cJSON_AddItemToArray(cmd, cJSON_CreateString("python"));
    cJSON_AddItemToArray(cmd, cJSON_CreateString(TOOLS_DIR "/zygote.py"));
    cJSON_AddItemToArray(cmd, cJSON_CreateString("--"));
  }
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(cfg, "Cmd"))
    if (cJSON_IsString(v)) cJSON_AddItemToArray(cmd, cJSON_CreateString(v->valuestring));
  cJSON *lab = cJSON_AddObjectToObject(c, "Labels");
  cJSON_AddStringToObject(lab, "dbx.project", d->project);
  cJSON_AddStringToObject(lab, "dbx.service", s->name);
  cJSON_AddStringToObject(lab, "dbx.dev", "1");
  if (s->syncdir || d->archive) { /* for a later dbx dev to adopt it */
    char *dp = deps_print(s);
    if (s->syncdir) cJSON_AddStringToObject(lab, "dbx.sync", s->syncdir);
    else cJSON_AddStringToObject(lab, "dbx.archive", "1");
    cJSON_AddStringToObject(lab, "dbx.deps", dp);
    free(dp);
  }
  cJSON *env = cJSON_AddArrayToObject(c, "Env");
  for (size_t i = 0; i < s->env.n; i++) cJSON_AddItemToArray(env, cJSON_CreateString(s->env.v[i]));
  cJSON_AddItemToArray(env, cJSON_CreateString("DBX_DEV=1"));
  if (s->rundir) cJSON_AddItemToArray(env, cJSON_CreateString("DBX_INIT_STARTED=" TOOLS_DIR "/run/started"));
  cJSON *hc = cJSON_AddObjectToObject(c, "HostConfig");
  if (d->host_net) {
    cJSON_AddStringToObject(hc, "NetworkMode", "host");
  } else if (s->port) {
    char *p = xasprintf("%d/tcp", s->port), *hp = xasprintf("%d", s->port);
    cJSON *ex = cJSON_AddObjectToObject(c, "ExposedPorts");
    cJSON_AddItemToObject(ex, p, cJSON_CreateObject());
    cJSON *pb = cJSON_AddObjectToObject(hc, "PortBindings"), *arr = cJSON_AddArrayToObject(pb, p);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "HostIp", "127.0.0.1");
    cJSON_AddStringToObject(b, "HostPort", hp);
    cJSON_AddItemToArray(arr, b);
    free(p);
    free(hp);
  }
  if (s->gpus) { /* docker run --gpus all */
    cJSON *reqs = cJSON_AddArrayToObject(hc, "DeviceRequests"), *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "Driver", "");
    cJSON_AddNumberToObject(r, "Count", strcmp(s->gpus, "all") == 0 ? -1 : atoi(s->gpus));
    cJSON *caps = cJSON_AddArrayToObject(r, "Capabilities"), *one = cJSON_CreateArray();
    cJSON_AddItemToArray(one, cJSON_CreateString("gpu"));
    cJSON_AddItemToArray(caps, one);
    cJSON_AddItemToArray(reqs, r);
  }
  cJSON *binds = cJSON_AddArrayToObject(hc, "Binds");
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  if (s->rundir) {
    char *b = xasprintf("%s/%s:" TOOLS_DIR "/run", cwd, s->rundir);
    cJSON_AddItemToArray(binds, cJSON_CreateString(b));
    free(b);
  }
  for (size_t i = 0; i < s->mounts.n && (s->syncdir || s->mount); i++) {
    char *from = s->mount ? path_join(s->context, s->mounts.v[i]) : path_join(s->syncdir, s->mounts.v[i]);
    char *b = xasprintf("%s/%s:%s/%s%s", cwd, from, s->workdir, s->mounts.v[i], s->mount ? ":ro" : "");
    cJSON_AddItemToArray(binds, cJSON_CreateString(b));
    free(b);
    free(from);
  }
  return c;
}

static char *container_name(struct svc *s) {
  strbuf sb = {0};
  sb_addf(&sb, "dbx-%s-%s", s->d->project, s->name);
  for (size_t i = 0; i < sb.len; i++) {
    char ch = sb.buf[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
          ch == '.' || ch == '-'))
      sb.buf[i] = '-';
  }
  return sb_take(&sb);
}

/* Remove containers of s left by an earlier dbx dev that ended without
 * cleaning up (killed, or --keep): its dev containers and its seed ones. */
static void remove_leftovers(struct svc *s) {
  strvec labels = {0}, ids = {0}, seeds = {0};
  sv_push_own(&labels, xasprintf("dbx.project=%s", s->d->project));
  sv_push_own(&labels, xasprintf("dbx.service=%s", s->name));
  sv_push(&labels, "dbx.dev=1");
  sv_push_own(&seeds, xasprintf("dbx.project=%s", s->d->project));
  sv_push_own(&seeds, xasprintf("dbx.dev-seed=%s", s->name));
  char *err = NULL;
  if (container_find(s->d->e, &labels, &ids, &err) == 0 && container_find(s->d->e, &seeds, &ids, &err) == 0) {
    for (size_t i = 0; i < ids.n; i++) {
      say(s, "removing container %.12s, left by an earlier dbx dev", ids.v[i]);
      char *e2 = NULL;
      container_remove(s->d->e, ids.v[i], 2, &e2);
      free(e2);
    }
  }
  free(err);
  sv_free(&labels);
  sv_free(&seeds);
  sv_free(&ids);
}

/* Wait until s's app has (re)started since `starts` lines and answers its
 * health check. 0, or -1 with *why set. *started_ms receives when it started. */
/* What dbx-init last wrote in the run folder ("" when nothing yet). */
static char *started_mark(struct svc *s) {
  if (!s->rundir) return xstrdup("");
  char *p = xasprintf("%s/started", s->rundir), *text = NULL;
  size_t len;
  if (read_file(p, &text, &len) < 0) text = xstrdup("");
  free(p);
  return text;
}

/* Run argv in s's container until it exits 0 (a health command, or the
 * dbx-init probe when probe is set). */
static int wait_health_cmd(struct svc *s, const strvec *argv, int probe, uint64_t deadline, char **why) {
  size_t exits_then = s->exits;
  int status = -1;
  while (!s->d->stop) {
    char *err = NULL, *out = NULL;
    if (container_exec_output(s->d->e, s->cid, argv, s->user, &status, &out, &err) < 0) {
      *why = xasprintf("cannot run the health %s: %s", probe ? "probe" : "command", err);
      free(err);
      return -1;
    }
    if (status == 0 || (probe && status == 2)) { /* 2: a dbx-init without --probe (kept by an older dbx) */
      if (status == 2 && term_verbose()) say(s, "this container's dbx-init cannot probe; not waiting for health");
      free(out);
      return 0;
    }
    if (s->exits > exits_then) {
      free(out);
      *why = xstrdup("the app exited (its output is above)");
      return -1;
    }
    if (now_ms() > deadline) {
      if (probe) {
        size_t n = out ? strcspn(out, "\n") : 0;
        *why = xasprintf("%.*s for 60 s (asked inside the container: the engine is on another machine)", (int)n,
                         n ? out : "the probe failed");
      } else {
        *why = xasprintf("the health command '%s' exited with status %d for 60 s", argv->v[0], status);
      }
      free(out);
      return -1;
    }
    free(out);
    sleep_loop(s->d, 20);
  }
  *why = xstrdup("interrupted");
  return -1;
}

static int wait_ready(struct svc *s, size_t starts, size_t exits, uint64_t *started_at, char **why) {
  struct dev *d = s->d;
  uint64_t deadline = now_ms() + READY_TIMEOUT_MS;
  /* a start shows in the run folder (polled every millisecond) sooner than
   * in the log stream, which the engine delivers tens of milliseconds late */
  char *mark = s->rundir ? s->start_mark : NULL;
  while (s->starts <= starts && !d->stop) {
    if (mark) {
      char *now = started_mark(s);
      int changed = strcmp(now, mark) != 0;
      free(now);
      if (changed) break;
    }
    if (s->exits > exits) {
      *why = xstrdup("the app exited before it started (its output is above)");
      return -1;
    }
    if (s->logs_ended) {
      *why = xstrdup("the container stopped");
      return -1;
    }
    if (now_ms() > deadline) {
      *why = xstrdup("the app did not start within 60 s");
      return -1;
    }
    sleep_loop(d, mark ? 1 : 50);
  }
  *started_at = now_ms();
  if (d->stop) {
    *why = xstrdup("interrupted");
    return -1;
  }
  if (s->health_cmd.n) return wait_health_cmd(s, &s->health_cmd, 0, deadline, why);
  if (d->remote && s->port && s->health) { /* its port is on the engine's machine */
    strvec argv = {0};
    sv_push(&argv, TOOLS_DIR "/dbx-init");
    sv_push(&argv, "--probe");
    sv_push_own(&argv, xasprintf("%d", s->port));
    sv_push(&argv, s->health);
    int rc = wait_health_cmd(s, &argv, 1, deadline, why);
    sv_free(&argv);
    return rc;
  }
  if (!s->probe || !s->health) return 0;
  size_t exits_then = s->exits;
  while (!d->stop) {
    char *body = NULL;
    long st = engine_call(s->probe, "GET", s->health, NULL, &body);
    free(body);
    if (st >= 200 && st < 400) return 0;
    if (s->exits > exits_then) {
      *why = xstrdup("the app exited (its output is above)");
      return -1;
    }
    if (now_ms() > deadline) {
      *why = st > 0 ? xasprintf("%s answered %ld for 60 s", s->health, st)
                    : xasprintf("nothing answered on 127.0.0.1:%d%s for 60 s", s->port, s->health);
      return -1;
    }
    sleep_loop(d, 1);
  }
  *why = xstrdup("interrupted");
  return -1;
}

/* Create and start s's container from s->image_id; 0, or -1 after saying why. */
static int start_container(struct svc *s, const cJSON *img_cfg) {
  struct dev *d = s->d;
  char *err = NULL;
  pick_mounts(s);
  free(s->syncdir);
  s->syncdir = NULL;
  forget_noted(s); /* a new sync folder, a new list */
  if (!s->mount && !d->archive && s->mounts.n) {
    char *sd = state_dir_of(s);
    s->syncdir = xasprintf("%s/sync-%.12s", sd, strncmp(s->image_id, "sha256:", 7) == 0 ? s->image_id + 7 : s->image_id);
    free(sd);
    if (seed_sync(s, &err) < 0) {
      say(s, "cannot fill the sync folder %s: %s", s->syncdir, err);
      free(err);
      return -1;
    }
  }
  free(s->rundir);
  s->rundir = NULL;
  if (!d->archive) { /* a folder dbx-init writes its starts into, for the user the app runs as */
    char *sd = state_dir_of(s);
    s->rundir = xasprintf("%s/run", sd);
    free(sd);
    rm_rf(s->rundir);
    mkdir_p(s->rundir);
    if (geteuid() != 0 || chown(s->rundir, (uid_t)s->uid, (gid_t)s->uid) < 0) chmod(s->rundir, 0777);
  }
  if (read_env_file(s) < 0) return -1;
again:;
  cJSON *cfg = container_config(s, img_cfg);
  char *name = container_name(s), *cid = NULL;
  int rc = container_create(d->e, name, cfg, &cid, &err);
  if (rc < 0 && err && strstr(err, "is already in use")) { /* the container being replaced holds the name */
    free(err);
    err = NULL;
    char *alt = xasprintf("%s-%.8s", name, s->image_id + (strncmp(s->image_id, "sha256:", 7) == 0 ? 7 : 0));
    rc = container_create(d->e, alt, cfg, &cid, &err);
    free(alt);
  }
  cJSON_Delete(cfg);
  free(name);
  if (rc == 0) rc = put_tools(s, cid, &err);
  if (rc == 0) {
    s->starts = s->exits = 0;
    s->logs_ended = 0;
    rc = container_start(d->e, cid, &err);
    /* after the start: following a container that is not running ends at once;
     * from its beginning, so nothing it printed is missed */
    if (rc == 0) s->logs = container_logs_follow(d->e, cid, -1, on_log_line, on_log_end, s);
  }
  int no_gpus = rc < 0 && s->gpus && err && (strstr(err, "device driver") || strstr(err, "nvidia"));
  if (rc < 0) {
    if (no_gpus && !s->gpus_asked)
      say(s, "the engine cannot give this container GPUs (%s); running it without them "
             "(--gpus=none skips asking, --gpus=all makes this an error)", err);
    else if (no_gpus)
      say(s, "the engine cannot give this container the GPUs --gpus=%s asks for: %s "
             "(a GPU host needs the NVIDIA driver and nvidia-container-toolkit)", s->gpus, err);
    else say(s, "%s", err);
    free(err);
    err = NULL;
    if (cid) {
      container_logs_close(s->logs);
      s->logs = NULL;
      char *e2 = NULL;
      container_remove(d->e, cid, 0, &e2);
      free(e2);
    }
    free(cid);
    if (no_gpus && !s->gpus_asked) {
      free(s->gpus);
      s->gpus = NULL;
      goto again;
    }
    return -1;
  }
  free(s->cid);
  s->cid = cid;
  know_image(s);
  attach_signal(s);
  return 0;
}

/* ---- signalling dbx-init ---- */

static void detach_signal(struct svc *s) {
  if (s->pidfd >= 0) close(s->pidfd);
  s->pidfd = -1;
}

/* On an engine on this machine, hold a pidfd of the container's PID 1 so a
 * reload signals it directly: the kill API call costs 13-18 ms, a signal
 * microseconds. Only when that process is provably the container's dbx-init
 * (its cgroup names the container, its command line is dbx-init's) and dbx
 * may signal it; otherwise the API is used. */
static void attach_signal(struct svc *s) {
  detach_signal(s);
  if (strncmp(engine_address(s->d->e), "unix://", 7) != 0 || !s->cid) return;
  cJSON *c = NULL;
  char *err = NULL;
  if (container_inspect(s->d->e, "containers", s->cid, &c, &err) < 0) {
    free(err);
    return;
  }
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "State");
  const cJSON *pidj = cJSON_GetObjectItemCaseSensitive(st, "Pid");
  const char *id = json_str(c, "Id");
  int pid = cJSON_IsNumber(pidj) ? pidj->valueint : 0;
  char *want_id = id ? xstrdup(id) : NULL;
  cJSON_Delete(c);
  int fd = pid > 1 && want_id ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
  int ok = fd >= 0;
  if (ok) { /* the pidfd pins the process: what /proc says now is about it, while it lives */
    char *p = xasprintf("/proc/%d/cgroup", pid), *text = NULL;
    size_t len;
    ok = read_file(p, &text, &len) == 0 && strstr(text, want_id) != NULL;
    free(text);
    free(p);
    p = xasprintf("/proc/%d/cmdline", pid);
    ok = ok && read_file(p, &text, &len) == 0 && len > strlen(TOOLS_DIR "/dbx-init") &&
         strcmp(text, TOOLS_DIR "/dbx-init") == 0;
    free(text);
    free(p);
    ok = ok && syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0; /* alive, and ours to signal */
  }
  free(want_id);
  if (ok) s->pidfd = fd;
  else if (fd >= 0) close(fd);
}

/* SIGHUP to the container's dbx-init: directly when attached, else through
 * the API. 0, or -1 with *err set. */
static int signal_restart(struct svc *s, char **err) {
  if (s->pidfd >= 0 && syscall(SYS_pidfd_send_signal, s->pidfd, SIGHUP, NULL, 0) == 0) return 0;
  detach_signal(s); /* gone or not ours any more: the API knows */
  return container_kill(s->d->e, s->cid, "HUP", err);
}

static void stop_container(struct svc *s, int remove_sync) {
  detach_signal(s);
  forget_all(s);
  container_logs_close(s->logs);
  s->logs = NULL;
  if (s->cid) {
    char *err = NULL;
    if (container_remove(s->d->e, s->cid, 5, &err) < 0) say(s, "%s", err);
    free(err);
    free(s->cid);
    s->cid = NULL;
  }
  if (remove_sync && s->syncdir) rm_rf(s->syncdir);
}

/* ---- reloads ---- */

struct change {
  size_t copied, deleted;
  strvec names; /* what changed, for the message */
};

static void report(struct svc *s, const char *reason, const char *action, uint64_t total, uint64_t sync_ms,
                   uint64_t restart_ms, uint64_t health_ms, const char *error) {
  if (term_mode() == PROGRESS_JSON) {
    strbuf sb = {0};
    sb_adds(&sb, "{\"event\":\"reload\",\"service\":");
    sb_add_json_str(&sb, s->name);
    sb_adds(&sb, ",\"reason\":");
    sb_add_json_str(&sb, reason);
    sb_adds(&sb, ",\"action\":");
    sb_add_json_str(&sb, action);
    sb_addf(&sb, ",\"ms\":%llu,\"sync_ms\":%llu,\"restart_ms\":%llu,\"health_ms\":%llu,\"container\":\"%.12s\"",
            (unsigned long long)total, (unsigned long long)sync_ms, (unsigned long long)restart_ms,
            (unsigned long long)health_ms, s->cid ? s->cid : "");
    if (error) {
      sb_adds(&sb, ",\"error\":");
      sb_add_json_str(&sb, error);
    }
    sb_adds(&sb, "}\n");
    fputs(sb.buf, stdout);
    fflush(stdout);
    sb_free(&sb);
    return;
  }
  if (error) term_msg("%s: %s → %s, but %s", s->name, reason, action, error);
  else
    term_msg("%s: %s → %s in %llu ms (sync %llu, restart %llu, health %llu)", s->name, reason, action,
             (unsigned long long)total, (unsigned long long)sync_ms, (unsigned long long)restart_ms,
             (unsigned long long)health_ms);
}

static char *reason_of(const strvec *names) {
  if (!names->n) return xstrdup("nothing changed");
  const char *base = strrchr(names->v[0], '/');
  base = base ? base + 1 : names->v[0];
  if (names->n == 1) return xasprintf("%s changed", base);
  return xasprintf("%s and %zu more changed", base, names->n - 1);
}

/* Bring dst in line with src (read once): when their contents differ, src's
 * bytes are written to a temp file beside dst (a short name of its own)
 * owned by uid with src's mode, and renamed over it, so the app never reads
 * half a file. 1 when dst was written, 0 when it already matched, or a
 * negative errno. */
static int copy_in(const char *src, mode_t mode, const char *dst, int uid) {
  char *data = NULL, *now = NULL;
  size_t len = 0, now_len = 0;
  int rc = read_file(src, &data, &len);
  if (rc < 0) return rc;
  if (read_file(dst, &now, &now_len) == 0 && now_len == len && memcmp(now, data, len) == 0) {
    free(now);
    free(data);
    return 0;
  }
  free(now);
  char *dir = xstrdup(dst), *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    mkdir_p(dir);
  }
  char *tmp = xasprintf("%s/.dbx-sync-XXXXXX", slash ? dir : ".");
  free(dir);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) rc = -errno;
  for (size_t off = 0; rc == 0 && off < len;) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0) rc = -errno;
    else off += (size_t)w;
  }
  if (fd >= 0) {
    if (rc == 0 && fchmod(fd, mode & 0777) < 0) rc = -errno;
    if (rc == 0 && geteuid() == 0 && fchown(fd, (uid_t)uid, (gid_t)uid) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
  }
  if (rc == 0 && rename(tmp, dst) < 0) rc = -errno;
  if (rc < 0 && fd >= 0) unlink(tmp);
  free(tmp);
  free(data);
  return rc < 0 ? rc : 1;
}

/* Whether rel lies below a top-level folder the source layer fills. */
static int in_source_folder(struct svc *s, const char *rel) {
  const char *slash = strchr(rel, '/');
  for (size_t m = 0; slash && m < s->mounts.n; m++)
    if (strlen(s->mounts.v[m]) == (size_t)(slash - rel) && strncmp(s->mounts.v[m], rel, (size_t)(slash - rel)) == 0)
      return 1;
  return 0;
}

/* Whether rel lies in a folder mounted from s's sync folder. */
static int is_mounted(struct svc *s, const char *rel) { return s->syncdir && in_source_folder(s, rel); }

/* Remove from the sync folder dst whatever the host folder host no longer
 * holds; the number of files removed (their paths, rel-based, go to names). */
static size_t prune(const char *dst, const char *host, strvec *names, const char *rel) {
  uv_fs_t req;
  size_t removed = 0;
  if (uv_fs_scandir(NULL, &req, dst, 0, NULL) < 0) {
    uv_fs_req_cleanup(&req);
    return 0;
  }
  uv_dirent_t ent;
  while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
    char *d = path_join(dst, ent.name), *h = path_join(host, ent.name), *r = path_join(rel, ent.name);
    struct stat st;
    if (lstat(h, &st) < 0) {
      rm_rf(d);
      removed++;
      sv_push(names, r);
    } else if (ent.type == UV_DIRENT_DIR && S_ISDIR(st.st_mode)) {
      removed += prune(d, h, names, r);
    }
    free(d), free(h), free(r);
  }
  uv_fs_req_cleanup(&req);
  return removed;
}

/* Remember that rel came into the sync folder from the host, so that a later
 * dbx dev adopting the container deletes it if the host no longer has it. */
static void note_synced(struct svc *s, const char *rel) {
  if (!s->noted) s->noted = map_new();
  if (map_get(s->noted, rel)) return; /* once per name: a file saved a hundred times is one line */
  char *p = xasprintf("%s/" SYNCED_LIST, s->syncdir);
  FILE *f = fopen(p, "a");
  int ok = f && fprintf(f, "%s\n", rel) > 0;
  if (f && fclose(f) != 0) ok = 0;
  if (ok) { /* else tried again at its next copy */
    sv_push(&s->noted_names, rel);
    map_put(s->noted, s->noted_names.v[s->noted_names.n - 1], s);
  }
  free(p);
}

/* Copy files (context-relative) into s's container as one archive PUT and
 * remove gone (absolute) with an `rm` run through the exec API; 0, or -1
 * with *err set. */
static int put_through_api(struct svc *s, const strvec *files, const strvec *gone, char **err) {
  int rc = 0;
  if (files->n) {
    tarmem *t = tarmem_new();
    for (size_t i = 0; i < files->n && rc == 0; i++) {
      char *host = path_join(s->context, files->v[i]);
      int r = tarmem_add_file(t, files->v[i], host, s->uid, s->uid);
      if (r < 0) {
        *err = xasprintf("cannot read %s: %s", host, strerror(-r));
        rc = -1;
      }
      free(host);
    }
    size_t len;
    char *tar = tarmem_finish(t, &len);
    if (rc == 0) rc = container_put_archive(s->d->e, s->cid, s->workdir, tar, len, err);
    free(tar);
  }
  if (rc == 0 && gone->n) {
    strvec argv = {0};
    sv_push(&argv, "rm");
    sv_push(&argv, "-rf");
    sv_push(&argv, "--");
    for (size_t i = 0; i < gone->n; i++) sv_push(&argv, gone->v[i]);
    int status = 0;
    rc = container_exec(s->d->e, s->cid, &argv, "root", &status, err);
    sv_free(&argv);
  }
  return rc;
}

#define AGENT_ANSWER_MS 30000 /* for the agent to take a batch, and to apply it */

static void agent_close(struct svc *s) {
  execstream_close(s->agent);
  s->agent = NULL;
}

/* s's agent, started in its current container when there is none there
 * yet (once: a container that cannot run it goes without); NULL for none. */
static execstream *agent_of(struct svc *s) {
  if (s->d->no_agent) return NULL;
  if (!s->agent_cid || strcmp(s->agent_cid, s->cid) != 0) { /* another container now */
    agent_close(s);
    free(s->agent_cid);
    s->agent_cid = xstrdup(s->cid);
    s->agent_failed = s->agent_answered = 0;
  }
  if (s->agent && execstream_ended(s->agent)) agent_close(s); /* restarted below: it has answered before */
  if (!s->agent && !s->agent_failed) {
    strvec argv = {0};
    sv_push(&argv, TOOLS_DIR "/dbx-init");
    sv_push(&argv, "--receive");
    char *why = NULL, *hello = NULL;
    /* an empty batch first: a dbx-init without --receive (a container kept
     * by an older dbx) ends instead of answering "ok 0" */
    int rc = execstream_open(s->d->e, s->cid, &argv, "root", &s->d->stop, &s->agent, &why);
    if (rc == 0) rc = execstream_write(s->agent, "S\n", 2, AGENT_ANSWER_MS, &why);
    if (rc == 0) rc = execstream_line(s->agent, AGENT_ANSWER_MS, &hello, &why);
    if (rc == 0 && strcmp(hello, "ok 0") != 0) {
      why = xasprintf("it answered '%s'", hello);
      rc = -1;
    }
    if (rc < 0) {
      agent_close(s);
      s->agent_failed = !s->d->stop; /* an interrupted start is no verdict */
      if (term_verbose() && !s->d->stop)
        say(s, "no file agent in the container (%s); copying through the archive API", why);
    } else {
      s->agent_answered = 1;
    }
    free(hello);
    free(why);
    sv_free(&argv);
  }
  return s->agent;
}

/* Apply a batch through s's agent: files (context-relative) copied in,
 * gone (absolute paths in the container) removed. 0; 1 when the agent is
 * not there or broke (the caller uses the archive API instead); -1 with
 * *err set when it applied the batch and a record failed. */
static int agent_apply(struct svc *s, const strvec *files, const strvec *gone, char **err) {
  if (!agent_of(s)) return 1;
  strbuf sb = {0};
  int rc = 0;
  for (size_t i = 0; i < files->n && rc == 0; i++) {
    char *host = path_join(s->context, files->v[i]), *data = NULL;
    struct stat st;
    size_t len = 0;
    if (strchr(files->v[i], '\n')) {
      rc = 1; /* a name the records cannot carry */
    } else if (stat(host, &st) < 0 || read_file(host, &data, &len) < 0) {
      *err = xasprintf("cannot read %s: %s", host, strerror(errno));
      rc = -1;
    } else {
      sb_addf(&sb, "F %o %d %d %zu %s/%s\n", (unsigned)(st.st_mode & 07777), s->uid, s->uid, len, s->workdir,
              files->v[i]);
      sb_addn(&sb, data, len);
    }
    free(data);
    free(host);
  }
  for (size_t i = 0; i < gone->n && rc == 0; i++) {
    if (strchr(gone->v[i], '\n')) rc = 1;
    else sb_addf(&sb, "D %s\n", gone->v[i]);
  }
  char *answer = NULL, *why = NULL;
  if (rc == 0) {
    sb_adds(&sb, "S\n");
    if (execstream_write(s->agent, sb.buf, sb.len, AGENT_ANSWER_MS, &why) < 0 ||
        execstream_line(s->agent, AGENT_ANSWER_MS, &answer, &why) < 0) {
      if (term_verbose()) say(s, "the file agent broke (%s); copying through the archive API", why);
      agent_close(s); /* it has answered before: a new one is started next time */
      rc = 1;
    } else {
      if (strncmp(answer, "ok ", 3) != 0) {
        *err = xasprintf("copying into the container: %s", strncmp(answer, "error ", 6) == 0 ? answer + 6 : answer);
        rc = -1;
      }
    }
  }
  free(answer);
  free(why);
  sb_free(&sb);
  return rc;
}

/* Whether the sync folder's path to rel stays inside it: rel there, or the
 * deepest folder on its way that exists, resolves (links followed) to a
 * place inside the sync folder. Its subfolders are mounted into the
 * container, where the app may put a symbolic link that would take a copy
 * or a deletion elsewhere. */
static int within_sync(struct svc *s, const char *rel) {
  char *p = path_join(s->syncdir, rel), root[PATH_MAX], at[PATH_MAX];
  int ok = 0;
  if (realpath(s->syncdir, root)) {
    for (;;) {
      if (realpath(p, at)) {
        size_t n = strlen(root);
        ok = strncmp(at, root, n) == 0 && (at[n] == '/' || at[n] == '\0');
        break;
      }
      char *slash = strrchr(p, '/');
      if (!slash) break;
      *slash = '\0'; /* not there (yet): up one folder */
    }
  }
  free(p);
  return ok;
}

/* Put the changed source files (context-relative rels) into s's container. */
static int sync_files(struct svc *s, const strvec *rels, struct change *c, char **err) {
  strvec files = {0}, gone = {0};
  int rc = 0;
  for (size_t i = 0; i < rels->n && rc == 0; i++) {
    const char *rel = rels->v[i];
    char *host = path_join(s->context, rel);
    struct stat st;
    int exists = lstat(host, &st) == 0;
    if (!exists && errno != ENOENT && errno != ENOTDIR) { /* there, but not to be looked at: nothing to delete */
      say(s, "cannot look at %s (%s); leaving the container's copy as it is", host, strerror(errno));
      free(host);
      continue;
    }
    if (is_mounted(s, rel) && !within_sync(s, rel)) { /* the app made a link of a folder there */
      say(s, "the sync folder's way to %s leaves it (a symbolic link made in the container?); not syncing it", rel);
      free(host);
      continue;
    }
    if (exists && S_ISDIR(st.st_mode)) { /* replaced: drop what the old folder held */
      if (is_mounted(s, rel)) {
        char *dst = path_join(s->syncdir, rel);
        c->deleted += prune(dst, host, &c->names, rel);
        free(dst);
      }
      free(host);
      continue;
    }
    if (is_mounted(s, rel)) {
      char *dst = path_join(s->syncdir, rel);
      if (exists && S_ISREG(st.st_mode)) {
        rc = copy_in(host, st.st_mode, dst, s->uid);
        if (rc < 0) {
          *err = xasprintf("cannot copy %s into %s: %s", host, dst, strerror(-rc));
        } else if (rc == 1) {
          rc = 0;
          c->copied++;
          sv_push(&c->names, rel);
          note_synced(s, rel);
        }
      } else if (!exists) {
        struct stat ds;
        if (lstat(dst, &ds) == 0) {
          rm_rf(dst);
          c->deleted++;
          sv_push(&c->names, rel);
        }
      }
      free(dst);
    } else if (exists && S_ISREG(st.st_mode)) {
      sv_push(&files, rel);
    } else if (!exists && held(s, rel)) {
      sv_push_own(&gone, xasprintf("%s/%s", s->workdir, rel));
      sv_push(&c->names, rel);
    }
    free(host);
  }
  int via = rc == 0 && (files.n || gone.n) ? agent_apply(s, &files, &gone, err) : 0;
  if (via == 1) via = put_through_api(s, &files, &gone, err);
  if (rc == 0 && via < 0) /* some may be in: known as held, a later deletion removes them (a missing one is no error) */
    for (size_t i = 0; i < files.n; i++) know(s, files.v[i], 1);
  if (rc == 0) rc = via;
  if (rc == 0) {
    for (size_t i = 0; i < files.n; i++) {
      sv_push(&c->names, files.v[i]);
      know(s, files.v[i], 1);
    }
    for (size_t i = 0; i < gone.n; i++) know(s, gone.v[i] + strlen(s->workdir) + 1, 0);
    c->copied += files.n;
    c->deleted += gone.n;
  }
  sv_free(&files);
  sv_free(&gone);
  return rc;
}

/* Source files changed: sync them, restart the app, wait for health. */
static void reload_source(struct svc *s, const strvec *rels, const strvec *names) {
  uint64_t t0 = now_ms();
  struct change c = {0};
  char *err = NULL, *reason;
  if (s->mount) {
    reason = reason_of(names);
    say(s, "%s (mounted: the app's own reloader picks it up)", reason);
    free(reason);
    return;
  }
  int rc = sync_files(s, rels, &c, &err);
  /* the reason names what was copied or deleted, not every path the watcher saw */
  reason = reason_of(rc < 0 || (!c.copied && !c.deleted) ? names : &c.names);
  sv_free(&c.names);
  if (rc < 0) {
    report(s, reason, "sync failed", now_ms() - t0, 0, 0, 0, err);
    free(err);
    free(reason);
    return;
  }
  if (!c.copied && !c.deleted) {
    if (term_verbose()) say(s, "%s, but no content differs from the container's: nothing to do", reason);
    free(reason);
    return;
  }
  uint64_t t1 = now_ms();
  size_t starts = s->starts, exits = s->exits;
  free(s->start_mark);
  s->start_mark = started_mark(s);
  if (signal_restart(s, &err) < 0) {
    report(s, reason, "synced, restart failed", now_ms() - t0, t1 - t0, 0, 0, err);
    free(err);
    free(reason);
    return;
  }
  uint64_t started = 0;
  rc = wait_ready(s, starts, exits, &started, &err);
  uint64_t t3 = now_ms();
  char *action = c.deleted && c.copied ? xasprintf("synced %zu file%s, deleted %zu, restarted", c.copied, c.copied == 1 ? "" : "s", c.deleted)
                 : c.deleted             ? xasprintf("deleted %zu file%s, restarted", c.deleted, c.deleted == 1 ? "" : "s")
                                         : xasprintf("synced %zu file%s, restarted", c.copied, c.copied == 1 ? "" : "s");
  if (rc < 0) {
    report(s, reason, action, t3 - t0, t1 - t0, 0, 0, err);
    free(err);
  } else {
    if (!started) started = t3;
    report(s, reason, action, t3 - t0, t1 - t0, started - t1, t3 - started, NULL);
  }
  free(action);
  free(reason);
}

/* A digest of what s's dependencies layer is made of: the base, deps and lock
 * targets' params and input files. Equal digests: a container can be kept
 * however its source differs, as syncing brings the source in line. */
static char *deps_print(struct svc *s) {
  strbuf sb = {0};
  const char *ts[] = {s->base_t, s->deps_t, s->lock_t};
  for (size_t k = 0; k < 3; k++) {
    target *t = ts[k] ? graph_find(*s->d->g, ts[k]) : NULL;
    if (!t) continue;
    sb_adds(&sb, t->name);
    for (size_t i = 0; i < t->nparams; i++) sb_addf(&sb, "\n%s=%s", t->params[i].name, t->params[i].value);
    for (size_t i = 0; i < t->inputs.n; i++) {
      unsigned char d[HASH_LEN];
      char hex[HASH_HEX];
      if (hash_file(t->inputs.v[i], d) < 0) memset(d, 0, sizeof d);
      hash_hex(d, hex);
      sb_addf(&sb, "\n%s %s", t->inputs.v[i], hex);
    }
  }
  unsigned char d[HASH_LEN];
  char hex[HASH_HEX];
  hash_buf(sb.buf ? sb.buf : "", sb.len, d);
  hash_hex(d, hex);
  sb_free(&sb);
  return xstrdup(hex);
}

/* Say that s's container serves (a "ready" event in JSON). */
static void report_ready(struct svc *s, uint64_t t0) {
  const char *how = s->mount ? "source mounted" : s->syncdir ? "sync folder mounted" : "files copied through the engine API";
  uint64_t ms = now_ms() - t0;
  if (term_mode() == PROGRESS_JSON) {
    strbuf sb = {0};
    sb_adds(&sb, "{\"event\":\"ready\",\"service\":");
    sb_add_json_str(&sb, s->name);
    sb_addf(&sb, ",\"container_id\":\"%s\",\"port\":%d,\"sync\":", s->cid, s->port);
    sb_add_json_str(&sb, how);
    sb_addf(&sb, ",\"restart\":\"%s\",\"ms\":%llu}\n", s->mount ? "app" : s->warm ? "warm" : "cold",
            (unsigned long long)ms);
    fputs(sb.buf, stdout);
    fflush(stdout);
    sb_free(&sb);
    return;
  }
  char *where = !s->port      ? xstrdup("")
                : s->d->remote ? xasprintf(" on port %d of the engine's machine", s->port)
                               : xasprintf(" on http://127.0.0.1:%d", s->port);
  say(s, "running%s (container %.12s, %s%s, ready in %llu ms)", where, s->cid, how,
      s->warm && !s->mount ? ", warm restarts" : "", (unsigned long long)ms);
  free(where);
}

/* Take over s's container left running by an earlier dbx dev (--keep, or
 * killed) when its dependencies are the current ones (deps_print) and it has
 * a sync folder: bring the sync
 * folder in line with the host by content, restart the app if anything
 * differed. 1 when adopted, 0 when there is nothing to adopt. */
/* Archive mode: the context-relative source files whose content in the
 * container (sha256sum run there) differs from the host's, and the files
 * added to the container since its image (what dbx copied in) that the host
 * no longer has, known as held so that they are deleted. */
/* Whether the host has lost rel (context-relative): it is not there, as
 * opposed to not readable. */
static int host_lost(struct svc *s, const char *rel) {
  char *host = path_join(s->context, rel);
  struct stat st;
  int lost = lstat(host, &st) < 0 && (errno == ENOENT || errno == ENOTDIR);
  free(host);
  return lost;
}

static void archive_differences(struct svc *s, strvec *rels) {
  struct dev *d = s->d;
  target *t = graph_find(*d->g, s->source_t ? s->source_t : "");
  strvec files = {0}, argv = {0};
  sv_push(&argv, "sha256sum");
  sv_push(&argv, "--");
  for (size_t i = 0; t && i < t->inputs.n; i++) {
    const char *r;
    if (!under(t->inputs.v[i], s->context, &r) || !*r) continue;
    sv_push(&files, r);
    sv_push_own(&argv, xasprintf("%s/%s", s->workdir, r));
  }
  char *out = NULL, *err = NULL;
  int status = 0;
  map *theirs = map_new();
  if (files.n && container_exec_output(d->e, s->cid, &argv, "root", &status, &out, &err) < 0) {
    say(s, "cannot compare the container's files (%s); copying them all", err);
    free(err);
  }
  for (char *line = out ? strtok(out, "\n") : NULL; line; line = strtok(NULL, "\n")) {
    if (strlen(line) > 66 && line[64] == ' ' && line[65] == ' ') { /* "HEX  PATH"; an escaped name: copied again */
      line[64] = 0;
      map_put(theirs, line + 66, line);
    }
  }
  for (size_t i = 0; i < files.n; i++) {
    char *host = path_join(s->context, files.v[i]), *in = xasprintf("%s/%s", s->workdir, files.v[i]);
    unsigned char dg[HASH_LEN];
    char hex[HASH_HEX];
    const char *their = map_get(theirs, in);
    int same = their && hash_file(host, dg) == 0 && (hash_hex(dg, hex), strcmp(hex, their) == 0);
    if (!same) sv_push(rels, files.v[i]);
    free(host);
    free(in);
  }
  map_free(theirs);
  free(out);
  /* the image's own source files that the host no longer has */
  strvec cat = {0};
  sv_push(&cat, "cat");
  sv_push(&cat, TOOLS_DIR "/seeded");
  char *seeded = NULL;
  if (container_exec_output(d->e, s->cid, &cat, "root", &status, &seeded, &err) < 0) {
    free(err); /* a container without the list: what the changes API names below is all there is */
    err = NULL;
  } else if (status == 0) {
    for (char *line = strtok(seeded, "\n"); line; line = strtok(NULL, "\n")) {
      char *rel = path_norm_rel(line); /* written by dbx, but in the container: checked all the same */
      if (rel && strcmp(rel, line) == 0 && in_source_folder(s, rel) && host_lost(s, rel)) {
        know(s, rel, 1);
        sv_push(rels, rel);
      }
      free(rel);
    }
  }
  free(seeded);
  sv_free(&cat);
  strvec added = {0};
  size_t wl = strlen(s->workdir);
  if (container_added(d->e, s->cid, &added, &err) == 0) {
    for (size_t i = 0; i < added.n; i++) {
      const char *p = added.v[i];
      if (strncmp(p, s->workdir, wl) != 0 || p[wl] != '/') continue;
      const char *rel = p + wl + 1;
      if (in_source_folder(s, rel) && host_lost(s, rel)) {
        know(s, rel, 1);
        sv_push(rels, rel);
      }
    }
  } else {
    free(err);
  }
  sv_free(&added);
  sv_free(&files);
  sv_free(&argv);
}

static int adopt(struct svc *s) {
  struct dev *d = s->d;
  if (s->mount) return 0;
  strvec labels = {0}, ids = {0};
  sv_push_own(&labels, xasprintf("dbx.project=%s", d->project));
  sv_push_own(&labels, xasprintf("dbx.service=%s", s->name));
  sv_push(&labels, "dbx.dev=1");
  char *err = NULL;
  int found = container_find(d->e, &labels, &ids, &err) == 0 && ids.n == 1;
  free(err);
  err = NULL;
  cJSON *c = NULL;
  const char *sync = NULL;
  if (found && container_inspect(d->e, "containers", ids.v[0], &c, &err) == 0) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "State");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(c, "Config");
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(cfg, "Labels");
    const char *dp = json_str(lab, "dbx.deps");
    sync = json_str(lab, "dbx.sync");
    const char *arch = json_str(lab, "dbx.archive");
    char *now = deps_print(s);
    struct stat sb;
    found = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "Running")) && dp && strcmp(dp, now) == 0 &&
            (d->archive ? arch && strcmp(arch, "1") == 0
                        : sync && stat(sync, &sb) == 0 && S_ISDIR(sb.st_mode));
    free(now);
    if (found) { /* it runs the image it was made from, whatever was built since */
      free(s->image_id);
      s->image_id = xstrdup(json_str(c, "Image") ? json_str(c, "Image") : "");
    }
  } else {
    found = 0;
  }
  free(err);
  if (found) {
    s->cid = xstrdup(ids.v[0]);
    pick_mounts(s);
    if (!d->archive) {
      s->syncdir = xstrdup(sync);
      char *sd = state_dir_of(s);
      s->rundir = xasprintf("%s/run", sd);
      free(sd);
    }
    know_image(s);
    attach_signal(s);
    s->logs_ended = 0;
    s->logs = container_logs_follow(d->e, s->cid, 0, on_log_line, on_log_end, s);
    strvec rels = {0}, names = {0};
    if (d->archive) {
      archive_differences(s, &rels);
    } else { /* every source file the host has now, compared with the sync folder by content */
      target *t = graph_find(*d->g, s->source_t ? s->source_t : "");
      for (size_t i = 0; t && i < t->inputs.n; i++) {
        const char *r;
        if (under(t->inputs.v[i], s->context, &r) && *r && is_mounted(s, r)) sv_push(&rels, r);
      }
      /* what the image brought and what dbx copied in since: deleted on the host meanwhile? */
      const char *lists[] = {SEEDED_LIST, SYNCED_LIST};
      for (size_t k = 0; k < 2; k++) {
        char *manifest = xasprintf("%s/%s", s->syncdir, lists[k]), *text = NULL;
        size_t len;
        if (read_file(manifest, &text, &len) == 0)
          for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
            if (is_mounted(s, line) && host_lost(s, line)) sv_push(&rels, line); /* the rest was compared above */
        free(text);
        free(manifest);
      }
    }
    sv_sort_uniq(&rels);
    say(s, "adopting container %.12s, left running by an earlier dbx dev", s->cid);
    reload_source(s, &rels, &names);
    sv_free(&rels);
    sv_free(&names);
  }
  cJSON_Delete(c);
  sv_free(&labels);
  sv_free(&ids);
  return found;
}

/* Start s's container for the first time (or adopt it); 0 or -1 (said why). */
static int first_start(struct svc *s) {
  uint64_t t0 = now_ms();
  cJSON *cfg = NULL;
  char *err = NULL;
  free(s->image_id);
  s->image_id = built_image(s, &cfg);
  if (!s->image_id) return -1;
  if (adopt(s)) {
    cJSON_Delete(cfg);
    report_ready(s, t0);
    return 0;
  }
  remove_leftovers(s);
  int rc = start_container(s, cfg);
  cJSON_Delete(cfg);
  if (rc < 0) return -1;
  uint64_t started = 0;
  free(s->start_mark);
  s->start_mark = xstrdup("");
  if (wait_ready(s, 0, 0, &started, &err) < 0) {
    say(s, "container %.12s started, but %s", s->cid, err);
    free(err);
    return s->d->stop ? -1 : 0; /* keep it: the next edit may fix the app */
  }
  report_ready(s, t0);
  if (s->d->archive && !s->mount) agent_of(s); /* started now, not on the first edit */
  return 0;
}

/* The image changed (deps, base or recipe): replace the container, keeping the
 * old one if the new one does not become healthy. 1 when a new container took
 * over (built with the source as it is now), else 0. */
static int replace(struct svc *s, const char *reason) {
  struct dev *d = s->d;
  uint64_t t0 = now_ms();
  cJSON *cfg = NULL;
  char *id = built_image(s, &cfg);
  if (!id) return 0;
  if (s->image_id && strcmp(id, s->image_id) == 0 && s->cid) {
    free(id);
    cJSON_Delete(cfg);
    if (term_verbose()) say(s, "%s, and the dev image is the same: nothing to do", reason);
    return 0;
  }
  /* the old container holds the port: stop it (not remove) while the new one tries */
  char *old_id = s->image_id, *old_cid = s->cid, *old_sync = s->syncdir ? xstrdup(s->syncdir) : NULL, *err = NULL;
  container_logs *old_logs = s->logs;
  s->logs = NULL;
  s->syncdir = NULL;
  if (old_cid) {
    container_logs_close(old_logs);
    char *e2 = NULL;
    container_stop(d->e, old_cid, 5, &e2);
    free(e2);
  }
  s->image_id = id;
  s->cid = NULL;
  int rc = start_container(s, cfg);
  cJSON_Delete(cfg);
  uint64_t started = 0;
  free(s->start_mark);
  s->start_mark = xstrdup("");
  if (rc == 0) rc = wait_ready(s, 0, 0, &started, &err);
  else err = xstrdup("the new container did not start");
  if (rc == 0) {
    if (old_cid) {
      char *e2 = NULL;
      container_remove(d->e, old_cid, 0, &e2);
      free(e2);
    }
    if (old_sync && (!s->syncdir || strcmp(old_sync, s->syncdir) != 0)) rm_rf(old_sync);
    char *action = xasprintf("rebuilt, new container %.12s", s->cid);
    report(s, reason, action, now_ms() - t0, 0, 0, started ? now_ms() - started : 0, NULL);
    free(action);
    if (d->archive && !s->mount) agent_of(s);
    free(old_id);
    rc = 1;
  } else {
    rc = 0;
    report(s, reason, "rebuilt", now_ms() - t0, 0, 0, 0, err);
    free(err);
    stop_container(s, s->syncdir && (!old_sync || strcmp(old_sync, s->syncdir) != 0));
    free(s->image_id);
    free(s->syncdir);
    s->image_id = old_id;
    s->syncdir = old_sync;
    old_sync = NULL;
    s->cid = old_cid;
    old_cid = NULL;
    know_image(s); /* stop_container forgot what the container holds */
    if (s->cid) {
      s->starts = s->exits = 0;
      s->logs_ended = 0;
      char *e2 = NULL;
      long since = (long)time(NULL);
      if (container_start(d->e, s->cid, &e2) < 0) say(s, "cannot start the previous container again: %s", e2);
      else {
        s->logs = container_logs_follow(d->e, s->cid, since, on_log_line, on_log_end, s);
        attach_signal(s);
        say(s, "keeping the previous container %.12s", s->cid);
      }
      free(e2);
    }
  }
  free(old_cid);
  free(old_sync);
  return rc;
}

/* ---- watching ---- */

static int under(const char *path, const char *dir, const char **rest) {
  size_t n = strlen(dir);
  if (!n) {
    *rest = path;
    return 1;
  }
  if (strncmp(path, dir, n) != 0 || (path[n] != '/' && path[n])) return 0;
  *rest = path[n] ? path + n + 1 : "";
  return 1;
}

static int in_list(const strvec *v, const char *s) {
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->v[i], s) == 0) return 1;
  return 0;
}

static int input_of(graph *g, const char *tname, const char *path) {
  target *t = tname ? graph_find(g, tname) : NULL;
  return t && in_list(&t->inputs, path);
}

/* What a change of path (project-relative) means for s; *rel receives the
 * context-relative path of a source file. */
static int classify(struct svc *s, const char *path, const char **rel) {
  graph *g = *s->d->g;
  if (in_list(&g->recipe_files, path)) return CH_RECIPE;
  if (input_of(g, s->deps_t, path) || input_of(g, s->base_t, path) || input_of(g, s->lock_t, path))
    return CH_DEPS;
  const char *r;
  if (!under(path, s->context, &r) || !*r) return CH_NONE;
  if (ignore_match(&s->ign, r)) return CH_NONE;
  for (size_t i = 0; i < s->sources.n; i++)
    if (glob_match(s->sources.v[i], r)) {
      *rel = r;
      return CH_SOURCE;
    }
  return CH_NONE;
}

/* Whether v holds path, or (a folder) something below it. */
static int holds(const strvec *v, const char *path, size_t n, int is_dir) {
  for (size_t i = 0; i < v->n; i++)
    if (is_dir ? strncmp(v->v[i], path, n) == 0 && v->v[i][n] == '/' : strcmp(v->v[i], path) == 0) return 1;
  return 0;
}

/* A path is left unwatched only when every build context holding it leaves
 * it out (one service's .dockerignore does not hide another's files) and
 * neither the recipe nor a base, deps or lock step reads it (a .dockerignore
 * listing build.lua or a lock file does not stop reloads). */
static int on_watch_ignore(void *ud, const char *path, int is_dir) {
  struct dev *d = ud;
  int held = 0;
  for (size_t i = 0; i < d->n; i++) {
    const char *r;
    if (!under(path, d->s[i].context, &r) || !*r) continue;
    if (!ignore_match(&d->s[i].ign, r)) return 0;
    held = 1;
  }
  if (!held) return 0;
  graph *g = *d->g;
  size_t n = strlen(path);
  if (holds(&g->recipe_files, path, n, is_dir)) return 0;
  for (size_t i = 0; i < d->n; i++) {
    const char *ts[] = {d->s[i].deps_t, d->s[i].base_t, d->s[i].lock_t};
    for (size_t k = 0; k < 3; k++) {
      target *t = ts[k] ? graph_find(g, ts[k]) : NULL;
      if (t && holds(&t->inputs, path, n, is_dir)) return 0;
    }
  }
  return 1;
}

static void on_watch_batch(void *ud, const strvec *paths) {
  struct dev *d = ud;
  for (size_t i = 0; i < paths->n; i++) sv_push(&d->pending, paths->v[i]);
}

static void on_watch_warn(void *ud, const char *msg) {
  (void)ud;
  say(NULL, "%s", msg);
}

static char *dir_of(const char *p) {
  const char *slash = strrchr(p, '/');
  return slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup("");
}

static int start_watch(struct dev *d) {
  watch_opts wo = {.settle_ms = d->o->debounce_ms, .ignore = on_watch_ignore, .batch = on_watch_batch,
                   .warn = on_watch_warn, .ud = d};
  char *err = NULL;
  if (watch_open(&d->loop, ".", &wo, &d->w, &err) < 0) {
    say(NULL, "cannot watch files: %s", err);
    free(err);
    return -1;
  }
  strvec flat = {0};
  graph *g = *d->g;
  for (size_t i = 0; i < g->recipe_files.n; i++) sv_push_own(&flat, dir_of(g->recipe_files.v[i]));
  for (size_t i = 0; i < d->n; i++) {
    struct svc *s = &d->s[i];
    const char *ts[] = {s->deps_t, s->base_t, s->lock_t};
    for (size_t k = 0; k < 3; k++) {
      target *t = ts[k] ? graph_find(g, ts[k]) : NULL;
      for (size_t j = 0; t && j < t->inputs.n; j++) sv_push_own(&flat, dir_of(t->inputs.v[j]));
    }
  }
  sv_sort_uniq(&flat);
  int rc = 0;
  for (size_t i = 0; i < d->n && rc == 0; i++) rc = watch_add(d->w, d->s[i].context, 1, &err);
  for (size_t i = 0; i < flat.n && rc == 0; i++) {
    int covered = 0;
    for (size_t k = 0; k < d->n; k++) {
      const char *r;
      covered |= under(flat.v[i], d->s[k].context, &r);
    }
    if (!covered && (rc = watch_add(d->w, flat.v[i], 0, &err)) == -ENOENT) { /* made later: the recipe reload sees it */
      free(err);
      err = NULL;
      rc = 0;
    }
  }
  sv_free(&flat);
  if (rc < 0) {
    say(NULL, "cannot watch files: %s", err);
    free(err);
    return -1;
  }
  say(NULL, "watching %zu folder%s for changes%s", watch_count(d->w), watch_count(d->w) == 1 ? "" : "s",
      watch_polling(d->w) ? " (by polling)" : "");
  return 0;
}

/* Handle the changes gathered so far. */
static void handle_changes(struct dev *d) {
  strvec paths = d->pending;
  memset(&d->pending, 0, sizeof d->pending);
  sv_sort_uniq(&paths);
  int recipe = 0;
  int *level = xcalloc(d->n, sizeof *level);
  strvec *rels = xcalloc(d->n, sizeof *rels), *names = xcalloc(d->n, sizeof *names), rnames = {0};
  for (size_t i = 0; i < paths.n; i++) {
    for (size_t k = 0; k < d->n; k++) {
      const char *rel = NULL;
      int c = classify(&d->s[k], paths.v[i], &rel);
      if (c == CH_RECIPE) {
        recipe = 1;
        sv_push(&rnames, paths.v[i]);
        break;
      }
      if (c > level[k]) level[k] = c;
      if (c == CH_SOURCE) sv_push(&rels[k], rel);
      if (c != CH_NONE) sv_push(&names[k], paths.v[i]);
    }
  }
  int *swapped = xcalloc(d->n, sizeof *swapped); /* a new container, built with this batch's source, took over */
  if (recipe) {
    char *reason = reason_of(&rnames), *err = NULL;
    graph *ng = d->o->reload(d->o->reload_ud, &err);
    if (!ng) {
      say(NULL, "%s, and it does not load: %s (still running what was built before)", reason, err);
      free(err);
    } else {
      graph_free(*d->g);
      *d->g = ng;
      for (size_t k = 0; k < d->n; k++) {
        if (svc_facts(&d->s[k], ng) < 0) say(&d->s[k], "the recipe no longer declares this service; still running the old one");
      }
      int code = build(d, NULL);
      if (code == 0)
        for (size_t k = 0; k < d->n && !d->stop; k++) swapped[k] = replace(&d->s[k], reason);
      else if (!d->stop)
        say(NULL, "%s: the rebuild failed (above); the running container keeps serving", reason);
    }
    free(reason);
  } else {
    int *which = xcalloc(d->n, sizeof *which), any = 0;
    for (size_t k = 0; k < d->n; k++) any |= which[k] = level[k] == CH_DEPS;
    if (any) {
      int code = build(d, which);
      for (size_t k = 0; k < d->n && !d->stop; k++) {
        if (!which[k]) continue;
        char *reason = reason_of(&names[k]);
        if (code == 0) swapped[k] = replace(&d->s[k], reason);
        else say(&d->s[k], "%s: the rebuild failed (above); the running container keeps serving", reason);
        free(reason);
      }
    }
    free(which);
  }
  /* the source edits of the batch reach the running container, unless a new
   * one built with them took over (a rebuild that changed nothing or failed
   * keeps the old one, which still needs them) */
  for (size_t k = 0; k < d->n && !d->stop; k++)
    if (rels[k].n && !swapped[k] && d->s[k].cid) reload_source(&d->s[k], &rels[k], &names[k]);
  free(swapped);
  for (size_t k = 0; k < d->n; k++) {
    sv_free(&rels[k]);
    sv_free(&names[k]);
  }
  free(rels);
  free(names);
  free(level);
  sv_free(&rnames);
  sv_free(&paths);
}

/* ---- the session ---- */

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int dev_run(graph **g, const strvec *services, const dev_opts *o) {
  struct dev d = {0};
  d.g = g;
  d.o = o;
  uv_loop_init(&d.loop);
  uv_timer_init(&d.loop, &d.timer);
  d.timer.data = &d;
  int code = pick_services(&d, services);
  if (code) goto out;
  code = 1;
  uv_signal_init(&d.loop, &d.sigint);
  uv_signal_init(&d.loop, &d.sigterm);
  d.sigint.data = d.sigterm.data = &d;
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);

  char *err = NULL;
  if (tarmem_load(&err) < 0) {
    fprintf(stderr, "dbx: error: %s\n", err);
    free(err);
    code = 2;
    goto out;
  }
  if (engine_open(&d.loop, NULL, &d.e, &err) < 0) {
    fprintf(stderr, "dbx: error: %s\n", err);
    free(err);
    code = 2;
    goto out;
  }
  char *body = NULL;
  long st = engine_call(d.e, "GET", "/_ping", NULL, &body);
  if (st != 200) {
    char *msg = engine_unreachable_msg(d.e, body ? body : "no answer");
    fprintf(stderr, "dbx: error: %s\n", msg);
    free(msg);
    free(body);
    code = 2;
    goto out;
  }
  free(body);
  /* an engine without the default bridge (as the private test engine) runs
   * containers on the host's network; otherwise ports are published on 127.0.0.1 */
  d.host_net = engine_has_bridge(d.e) != 1;
  const char *addr = engine_address(d.e);
  d.archive = strcmp(o->sync, "archive") == 0 || (strcmp(o->sync, "auto") == 0 && strncmp(addr, "unix://", 7) != 0);
  d.remote = !engine_address_is_local(addr);
  const char *na = getenv("DBX_NO_AGENT");
  d.no_agent = na && *na && strcmp(na, "0") != 0;
  d.project = image_project_name();

  /* watched from before the first build: a save made while it builds, or
   * right after a "ready" event, is never missed */
  if (o->watch && start_watch(&d) < 0) {
    code = 1;
    goto out;
  }
  code = build(&d, NULL);
  if (d.stop) {
    code = 130;
    goto out;
  }
  if (code != 0 && !o->watch) goto out;
  if (code != 0) say(NULL, "the build failed; fix it and save: dbx dev --watch builds again");
  for (size_t i = 0; i < d.n; i++)
    if (d.s[i].port && d.s[i].health && !d.remote) {
      char *h = xasprintf("tcp://127.0.0.1:%d", d.s[i].port);
      if (engine_open(&d.loop, h, &d.s[i].probe, &err) < 0) free(err);
      free(h);
    }
  int started = 0;
  if (code == 0)
    for (size_t i = 0; i < d.n && !d.stop; i++) started += first_start(&d.s[i]) == 0;
  if (!o->watch && started < (int)d.n && !d.stop) {
    code = 1;
    goto cleanup;
  }
  if (!o->watch) say(NULL, "running; Ctrl-C stops and removes the container%s", d.n == 1 ? "" : "s");
  else say(NULL, "ready; edit and save to reload, Ctrl-C to stop");
  int built_ok = code == 0;
  while (!d.stop) {
    uv_run(&d.loop, UV_RUN_ONCE);
    if (d.stop) break;
    if (d.pending.n) {
      if (!built_ok) { /* nothing runs yet: build and start on any change */
        sv_free(&d.pending);
        if (build(&d, NULL) == 0) {
          built_ok = 1;
          for (size_t i = 0; i < d.n && !d.stop; i++) first_start(&d.s[i]);
        }
      } else {
        handle_changes(&d);
      }
    }
    for (size_t i = 0; i < d.n && !d.stop; i++) {
      struct svc *s = &d.s[i];
      if (s->cid && s->logs_ended) { /* stopped or removed from outside */
        container_logs_close(s->logs);
        s->logs = NULL;
        say(s, "container %.12s stopped from outside dbx; starting a new one", s->cid);
        char *e2 = NULL;
        container_remove(d.e, s->cid, 0, &e2);
        free(e2);
        free(s->cid);
        s->cid = NULL;
        if (first_start(s) < 0) say(s, "could not start it again; save a file to retry");
      }
    }
  }
  code = 130;
cleanup:
  for (size_t i = 0; i < d.n; i++) {
    struct svc *s = &d.s[i];
    if (o->keep && s->cid) {
      container_logs_close(s->logs);
      s->logs = NULL;
      say(s, "leaving container %.12s running (--keep)", s->cid);
      continue;
    }
    if (s->cid) say(s, "stopping and removing container %.12s", s->cid);
    stop_container(s, 1);
    char *sd = state_dir_of(s);
    rm_rf(sd);
    free(sd);
  }
  {
    char *devdir = xasprintf("%s/dev", o->build.state_dir);
    rmdir(devdir);
    free(devdir);
  }
out:
  if (d.w) watch_close(d.w);
  for (size_t i = 0; i < d.n; i++) {
    struct svc *s = &d.s[i];
    container_logs_close(s->logs);
    detach_signal(s);
    agent_close(s);
    free(s->agent_cid);
    forget_noted(s);
    if (s->probe) engine_close(s->probe);
    svc_clear_facts(s);
    free(s->name), free(s->image_id), free(s->cid), free(s->syncdir), free(s->rundir), free(s->start_mark);
    forget_all(s);
    sv_free(&s->mounts);
  }
  free(d.s);
  if (d.e) engine_close(d.e);
  sv_free(&d.pending);
  free(d.project);
  uv_walk(&d.loop, close_walk, NULL);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  uv_loop_close(&d.loop);
  return code;
}
