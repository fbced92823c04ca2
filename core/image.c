#include "image.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "hash.h"
#include "proc.h"

/* ---- finding a client ---- */

struct capture {
  strbuf out;
  int64_t status;
  int done;
};

static void cap_out(void *ud, const char *buf, size_t n) { sb_addn(&((struct capture *)ud)->out, buf, n); }

static void cap_exit(void *ud, int64_t status, int sig) {
  struct capture *c = ud;
  c->status = sig ? 128 + sig : status;
  c->done = 1;
}

/* Run argv to completion on a private loop; its exit status, or -1. */
static int run_capture(char **argv, char **out) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct capture c = {0};
  proc *p;
  proc_opts o = {.argv = argv, .on_output = cap_out, .on_exit = cap_exit, .ud = &c};
  int rc = proc_spawn(&loop, &o, &p);
  if (rc == 0) uv_run(&loop, UV_RUN_DEFAULT);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (out) *out = sb_take(&c.out);
  else sb_free(&c.out);
  return rc < 0 ? -1 : (int)c.status;
}

/* 1 when docker at path can build with BuildKit; sets *buildx. */
static int usable(const char *path, int *buildx, strbuf *tried) {
  char *argv[] = {(char *)path, "buildx", "version", NULL};
  if (run_capture(argv, NULL) == 0) {
    *buildx = 1;
    return 1;
  }
  char *out = NULL;
  char *vargv[] = {(char *)path, "--version", NULL};
  if (run_capture(vargv, &out) != 0) {
    sb_addf(tried, "\n  %s: does not run", path);
    free(out);
    return 0;
  }
  const char *v = strstr(out, "version ");
  int major = v ? atoi(v + 8) : 0;
  free(out);
  if (major > 0 && major < 23) { /* its own BuildKit support, without buildx */
    *buildx = 0;
    return 1;
  }
  sb_addf(tried, "\n  %s: version %d has no buildx plugin, and without it cannot build with BuildKit", path, major);
  return 0;
}

int image_find_cli(image_cli *cli, char **err) {
  strvec cands = {0};
  const char *env = getenv("DBX_DOCKER");
  if (env && *env) sv_push(&cands, env);
  const char *path = getenv("PATH");
  char *copy = xstrdup(path ? path : "/usr/bin:/bin");
  for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char *p = path_join(*d ? d : ".", "docker");
    if (access(p, X_OK) == 0) sv_push_own(&cands, p);
    else free(p);
  }
  free(copy);
  strbuf tried = {0};
  int rc = -1;
  for (size_t i = 0; i < cands.n && rc < 0; i++) {
    int dup = 0;
    for (size_t k = 0; k < i; k++) dup |= strcmp(cands.v[k], cands.v[i]) == 0;
    if (dup) continue;
    if (access(cands.v[i], X_OK) != 0) {
      sb_addf(&tried, "\n  %s: not found", cands.v[i]);
      continue;
    }
    if (usable(cands.v[i], &cli->buildx, &tried)) {
      cli->docker = xstrdup(cands.v[i]);
      rc = 0;
    }
  }
  if (rc < 0 && !tried.len) sb_adds(&tried, "\n  no `docker` on PATH");
  if (rc < 0)
    *err = xasprintf("no docker client here can build with BuildKit:%s\n"
                     "  install one (Debian: apt-get install docker.io; or the buildx plugin), or set DBX_DOCKER",
                     tried.buf ? tried.buf : "");
  sb_free(&tried);
  sv_free(&cands);
  return rc;
}

void image_cli_free(image_cli *cli) {
  free(cli->docker);
  cli->docker = NULL;
}

/* ---- names ---- */

/* One path component made valid for a repository name: [a-z0-9]+ runs joined
 * by ".", "_", "__" or "-"s; anything else becomes "-", and separators at the
 * ends go. When that changed more than letter case, a short digest of the
 * original keeps distinct names apart. */
static void repo_component(strbuf *sb, const char *s, size_t n) {
  strbuf c = {0};
  int lossy = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    if (alnum) {
      sb_addc(&c, ch);
      continue;
    }
    size_t j = i; /* a run of non-alphanumerics */
    while (j < n && !((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9'))) j++;
    size_t len = j - i;
    int at_end = i == 0 || j == n;
    int valid = !at_end && ((len == 1 && (s[i] == '.' || s[i] == '_' || s[i] == '-')) ||
                            (len == 2 && s[i] == '_' && s[i + 1] == '_'));
    for (size_t k = i; valid == 0 && k < j && s[k] == '-'; k++)
      if (k + 1 == j && !at_end) valid = 1; /* a run of '-' only */
    if (valid) sb_addn(&c, s + i, len);
    else {
      lossy = 1;
      if (!at_end) sb_addc(&c, '-');
    }
    i = j - 1;
  }
  if (!c.len && n) lossy = 1;
  sb_adds(sb, c.len ? c.buf : (n ? "x" : ""));
  if (lossy) {
    unsigned char d[HASH_LEN];
    char hex[HASH_HEX];
    hash_buf(s, n, d);
    hash_hex(d, hex);
    sb_addf(sb, "-%.8s", hex);
  }
  sb_free(&c);
}

char *image_repo_part(const char *s) {
  strbuf sb = {0};
  for (const char *p = s;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n || !slash) repo_component(&sb, p, n);
    if (!slash) break;
    if (n) sb_addc(&sb, '/');
    p = slash + 1;
  }
  if (sb.len && sb.buf[sb.len - 1] == '/') sb.buf[--sb.len] = 0;
  return sb_take(&sb);
}

char *image_project_name(void) {
  char cwd[4096];
  const char *base = getcwd(cwd, sizeof cwd) ? strrchr(cwd, '/') : NULL;
  return image_repo_part(base && base[1] ? base + 1 : "project");
}

char *image_tag(const char *project, const char *target, const char *key) {
  char *p = image_repo_part(project), *t = image_repo_part(target);
  char *tag = xasprintf("dbx/%s/%s:%.16s", *p ? p : "project", t, key);
  free(p);
  free(t);
  return tag;
}

/* ---- Dockerfile ---- */

/* Next whitespace-separated word of s into a fresh string; advances *s. */
static char *word(const char **s) {
  while (**s == ' ' || **s == '\t') (*s)++;
  const char *b = *s;
  while (**s && **s != ' ' && **s != '\t' && **s != '\n' && **s != '\r') (*s)++;
  return *s > b ? xstrndup(b, (size_t)(*s - b)) : NULL;
}

void image_external_refs(const char *df, strvec *out) {
  strvec stages = {0};
  for (const char *line = df; *line;) {
    const char *s = line;
    char *w = word(&s);
    if (w && strcasecmp(w, "FROM") == 0) {
      char *ref = word(&s);
      while (ref && strncmp(ref, "--", 2) == 0) { /* --platform=... */
        free(ref);
        ref = word(&s);
      }
      char *as = word(&s), *name = as && strcasecmp(as, "AS") == 0 ? word(&s) : NULL;
      if (ref) {
        int internal = strstr(ref, "{{") != NULL || strcasecmp(ref, "scratch") == 0;
        for (size_t i = 0; i < stages.n && !internal; i++) internal = strcasecmp(stages.v[i], ref) == 0;
        if (!internal) sv_push(out, ref);
      }
      if (name) sv_push_own(&stages, name);
      free(ref);
      free(as);
    } else if (w && (strcasecmp(w, "COPY") == 0 || strcasecmp(w, "RUN") == 0)) {
      char *a;
      while ((a = word(&s)) && strncmp(a, "--", 2) == 0) {
        const char *ref = strncmp(a, "--from=", 7) == 0 ? a + 7 : NULL;
        const char *from = NULL; /* --mount=...,from=x or --mount=from=x,... */
        if (strncmp(a, "--mount=", 8) == 0)
          from = strncmp(a + 8, "from=", 5) == 0 ? a + 7 /* "=from=" lines up with ",from=" */
                                                 : strstr(a, ",from=");
        if (from) {
          ref = from + 6;
          char *end = strchr(ref, ',');
          if (end) *end = 0;
        }
        int internal = !ref || strstr(ref, "{{") != NULL || (ref[0] >= '0' && ref[0] <= '9' && !strchr(ref, ':'));
        for (size_t i = 0; i < stages.n && !internal; i++) internal = strcasecmp(stages.v[i], ref) == 0;
        if (!internal) sv_push(out, ref);
        free(a);
      }
      free(a); /* the first word after the flags, or NULL */
    }
    free(w);
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : line + strlen(line);
  }
  sv_free(&stages);
  sv_sort_uniq(out);
}

char *image_dockerfile(const target *t, const char *const *dep_tags, char **err) {
  const char *df = target_get_param(t, "dockerfile");
  if (!df) {
    *err = xasprintf("image '%s' has no Dockerfile", t->name);
    return NULL;
  }
  strbuf sb = {0};
  for (const char *p = df; *p;) {
    const char *open = strstr(p, "{{dep:");
    if (!open) {
      sb_adds(&sb, p);
      break;
    }
    sb_addn(&sb, p, (size_t)(open - p));
    const char *close = strstr(open, "}}");
    if (!close) {
      sb_adds(&sb, open);
      break;
    }
    char *name = xstrndup(open + 6, (size_t)(close - open - 6));
    const char *tag = NULL;
    for (size_t i = 0; i < t->deps.n && !tag; i++)
      if (strcmp(t->deps.v[i], name) == 0) tag = dep_tags[i];
    if (!tag) {
      *err = xasprintf("%s: image '%s': its Dockerfile names {{dep:%s}}, which is not one of its image dependencies",
                       t->where, t->name, name);
      free(name);
      sb_free(&sb);
      return NULL;
    }
    free(name);
    sb_adds(&sb, tag);
    p = close + 2;
  }
  return sb_take(&sb);
}

/* ---- context ---- */

static int copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -errno;
  struct stat st;
  fstat(in, &st);
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
  if (out < 0) {
    int e = -errno;
    close(in);
    return e;
  }
  char buf[65536];
  ssize_t n;
  int rc = 0;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) {
      rc = -EIO;
      break;
    }
  if (n < 0) rc = -errno;
  close(in);
  if (close(out) < 0 && !rc) rc = -errno;
  return rc;
}

static int put_file(const char *dir, const char *rel, const char *src, const char *content,
                    char **err) {
  char *dst = path_join(dir, rel);
  char *slash = strrchr(dst, '/');
  *slash = 0;
  mkdir_p(dst);
  *slash = '/';
  int rc = 0;
  if (src) {
    if (link(src, dst) < 0) rc = copy_file(src, dst);
  } else {
    unlink(dst); /* it may be a hard link to a project file: never write through it */
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, strncmp(content, "#!", 2) == 0 ? 0755 : 0644);
    size_t n = strlen(content);
    if (fd < 0 || write(fd, content, n) != (ssize_t)n) rc = -errno;
    if (fd >= 0) close(fd);
  }
  if (rc < 0) *err = xasprintf("cannot put %s into the build context: %s", src ? src : rel, strerror(-rc));
  free(dst);
  return rc;
}

int image_write_context(const target *t, const char *dir, char **err) {
  size_t plen = strlen(t->context);
  for (size_t i = 0; i < t->inputs.n; i++) {
    const char *rel = t->inputs.v[i] + (plen ? plen + 1 : 0);
    if (put_file(dir, rel, t->inputs.v[i], NULL, err) < 0) return -1;
  }
  for (size_t i = 0; i < t->nparams; i++)
    if (strncmp(t->params[i].name, "file:", 5) == 0 &&
        put_file(dir, t->params[i].name + 5, NULL, t->params[i].value, err) < 0)
      return -1;
  return 0;
}

void image_build_argv(const image_cli *cli, const target *t, const char *dir, const char *df,
                      const char *tag, const char *iidfile, const char *project, const char *key,
                      const char *network, strvec *argv, strvec *env) {
  sv_push(argv, cli->docker);
  if (cli->buildx) {
    sv_push(argv, "buildx");
    sv_push(argv, "build");
    sv_push(argv, "--load");
  } else {
    sv_push(argv, "build");
    sv_push(env, "DOCKER_BUILDKIT=1");
  }
  sv_push(argv, "--progress=plain");
  sv_push(argv, "-f");
  sv_push(argv, df);
  sv_push(argv, "-t");
  sv_push(argv, tag);
  for (size_t i = 0; i < t->tags.n; i++) {
    sv_push(argv, "-t");
    sv_push(argv, t->tags.v[i]);
  }
  sv_push(argv, "--label");
  sv_push_own(argv, xasprintf("dbx.key=%s", key));
  sv_push(argv, "--label");
  sv_push_own(argv, xasprintf("dbx.project=%s", project));
  sv_push(argv, "--label");
  sv_push_own(argv, xasprintf("dbx.target=%s", t->name));
  sv_push(argv, "--iidfile");
  sv_push(argv, iidfile);
  const char *net = t->network ? t->network : getenv("DBX_BUILD_NETWORK");
  if (!net || !*net) net = network;
  if (net && *net) {
    sv_push(argv, "--network");
    sv_push(argv, net);
  }
  for (size_t i = 0; i < t->nparams; i++) {
    if (strncmp(t->params[i].name, "build-arg.", 10) == 0) {
      sv_push(argv, "--build-arg");
      sv_push_own(argv, xasprintf("%s=%s", t->params[i].name + 10, t->params[i].value));
    } else if (strcmp(t->params[i].name, "stage") == 0) {
      sv_push(argv, "--target");
      sv_push(argv, t->params[i].value);
    }
  }
  for (size_t i = 0; i < t->secrets.n; i++) {
    const char *eq = strchr(t->secrets.v[i], '=');
    char *src = image_secret_path(t, i);
    sv_push(argv, "--secret");
    sv_push_own(argv, xasprintf("id=%.*s,src=%s", (int)(eq - t->secrets.v[i]), t->secrets.v[i], src));
    free(src);
  }
  sv_push(argv, dir);
}

char *image_secret_path(const target *t, size_t i) {
  const char *p = strchr(t->secrets.v[i], '=') + 1, *home = getenv("HOME");
  if (p[0] == '/') return xstrdup(p);
  if (p[0] == '~' && p[1] == '/' && home) return xasprintf("%s/%s", home, p + 2);
  char cwd[4096], *rel = path_join(t->dir, p);
  char *out = getcwd(cwd, sizeof cwd) ? xasprintf("%s/%s", cwd, rel) : xstrdup(rel);
  free(rel);
  return out;
}

/* ---- the engine's images ---- */

struct index_load {
  image_index *ix;
  engine *e;
  size_t pending;
  long status;
  char *err;
};

char *image_url_escape(const char *s) {
  strbuf sb = {0};
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("-._~", *p))
      sb_addc(&sb, (char)*p);
    else sb_addf(&sb, "%%%02X", *p);
  }
  return sb_take(&sb);
}

static void keep(image_index *ix, char *s) { sv_push_own(&ix->owned, s); }

/* Record one inspected image under the name it was asked by, its tags and its dbx.key. */
static void add_image(image_index *ix, const cJSON *img, const char *asked) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(img, "Id");
  if (!cJSON_IsString(id)) return;
  char *idcopy = xstrdup(id->valuestring);
  keep(ix, idcopy);
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(img, "Config");
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(cfg ? cfg : img, "Labels");
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(labels, "dbx.key");
  if (cJSON_IsString(key)) {
    char *k = xstrdup(key->valuestring);
    keep(ix, k);
    map_put(ix->by_key, k, idcopy);
  }
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(img, "RepoTags"), *tag;
  cJSON_ArrayForEach(tag, tags) {
    if (!cJSON_IsString(tag)) continue;
    char *tg = xstrdup(tag->valuestring);
    keep(ix, tg);
    map_put(ix->by_tag, tg, idcopy);
  }
  if (asked) { /* inspected by the name a Dockerfile uses */
    char *a = xstrdup(asked);
    keep(ix, a);
    map_put(ix->by_tag, a, idcopy);
  }
}

int image_index_add_json(image_index *ix, const char *body, const char *asked) {
  if (!ix->by_key) {
    ix->by_key = map_new();
    ix->by_tag = map_new();
  }
  cJSON *j = cJSON_Parse(body);
  int ok = cJSON_IsObject(j);
  if (ok) add_image(ix, j, asked);
  cJSON_Delete(j);
  return ok ? 0 : -1;
}

struct index_req {
  struct index_load *ld;
  char *asked; /* the ref inspected */
};

static void on_index(void *ud, long status, const char *body, size_t len) {
  (void)len;
  struct index_req *rq = ud;
  struct index_load *ld = rq->ld;
  ld->pending--;
  if (status < 0) {
    if (!ld->err) ld->err = engine_unreachable_msg(ld->e, body);
    ld->status = status;
  } else if (status == 200) {
    if (image_index_add_json(ld->ix, body, rq->asked) < 0 && !ld->err) {
      ld->err = xasprintf("the engine at %s answered with JSON dbx cannot read: %.200s", engine_address(ld->e), body);
      ld->status = -1;
    }
  } else if (status != 404 && !ld->err) { /* a missing image is no error here */
    ld->err = xasprintf("the engine at %s answered %ld: %.200s", engine_address(ld->e), status, body);
    ld->status = status;
  }
  free(rq->asked);
  free(rq);
}

long image_index_load(engine *e, const strvec *refs, image_index *ix, char **err) {
  if (!ix->by_key) {
    ix->by_key = map_new();
    ix->by_tag = map_new();
  }
  struct index_load ld = {ix, e, 0, 200, NULL};
  for (size_t i = 0; refs && i < refs->n; i++) {
    struct index_req *rq = xcalloc(1, sizeof *rq);
    rq->ld = &ld;
    rq->asked = xstrdup(refs->v[i]);
    char *path = xasprintf("/images/%s/json", refs->v[i]);
    if (engine_request(e, "GET", path, NULL, on_index, rq) == 0) ld.pending++;
    else {
      free(rq->asked);
      free(rq);
    }
    free(path);
  }
  engine_wait(e, &ld.pending);
  if (ld.err) *err = ld.err;
  return ld.err ? (ld.status == 200 ? -1 : ld.status) : 200;
}

const char *image_index_lookup(const image_index *ix, const char *ref) {
  const char *id = map_get(ix->by_tag, ref);
  if (id) return id;
  if (strchr(ref, '@')) return ref;
  const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
  if (colon && (!slash || colon > slash)) return NULL;
  char *full = xasprintf("%s:latest", ref);
  id = map_get(ix->by_tag, full);
  free(full);
  return id;
}

void image_index_free(image_index *ix) {
  map_free(ix->by_key);
  map_free(ix->by_tag);
  sv_free(&ix->owned);
  ix->by_key = ix->by_tag = NULL;
}
