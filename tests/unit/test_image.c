/* image: the names image results get, the base images a Dockerfile pulls in,
 * the Dockerfile with its {{dep:...}} filled in, the build context as written
 * to disk, the `docker build` command line, the docker client chosen, and
 * finding images in the engine's index. */
#include "unit.h"

#include "image.h"

typedef struct {
  ut_tmpdir dir;
  graph *g;
  char *err;
  char *path;      /* PATH as the test program found it */
  char *dbx_docker;
  char *build_network;
  const char *network; /* the build network of images that name none (dbx's pick) */
  image_cli cli;
  strvec argv, env, refs;
} fixture;

static char *saved(const char *name) {
  const char *v = getenv(name);
  return v ? xstrdup(v) : NULL;
}

static void restore(const char *name, char *v) {
  if (v) setenv(name, v, 1);
  else unsetenv(name);
  free(v);
}

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 1) < 0) return -1;
  f->g = graph_new();
  f->path = saved("PATH");
  f->dbx_docker = saved("DBX_DOCKER");
  f->build_network = saved("DBX_BUILD_NETWORK");
  unsetenv("DBX_DOCKER");
  unsetenv("DBX_BUILD_NETWORK");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  restore("PATH", f->path);
  restore("DBX_DOCKER", f->dbx_docker);
  restore("DBX_BUILD_NETWORK", f->build_network);
  image_cli_free(&f->cli);
  sv_free(&f->argv);
  sv_free(&f->env);
  sv_free(&f->refs);
  graph_free(f->g);
  free(f->err);
  ut_tmpdir_close(&f->dir);
  free(f);
  return 0;
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* sv must hold exactly the NULL-terminated want, in order. */
static void expect_list(const char *what, const strvec *sv, const char *const *want) {
  size_t i = 0;
  for (; want[i]; i++) {
    if (i >= sv->n) fail_msg("%s: missing '%s'", what, want[i]);
    if (strcmp(sv->v[i], want[i]) != 0)
      fail_msg("%s: item %zu is '%s', expected '%s'", what, i, sv->v[i], want[i]);
  }
  if (sv->n != i) fail_msg("%s: unexpected '%s'", what, sv->v[i]);
}

/* ---- names ---- */

/* Plain names only change case; anything else is made valid and gets a short
 * digest of the original, so two names never end up as one repository. */
static void repo_part_is_lower_case_and_plain(void **state) {
  (void)state;
  const char *same[][2] = {
      {"MyApp", "myapp"}, {"web.API_v2-x", "web.api_v2-x"}, {"svc/Prod", "svc/prod"}, {"", ""},
  };
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    char *got = image_repo_part(same[i][0]);
    if (strcmp(got, same[i][1]) != 0)
      fail_msg("image_repo_part(\"%s\") is \"%s\", expected \"%s\"", same[i][0], got, same[i][1]);
    free(got);
  }
  const char *changed[][2] = {{"a:b@c+d", "a-b-c-d-"}, {"caf\xc3\xa9", "caf-"}, {"_base", "base-"}};
  for (size_t i = 0; i < sizeof changed / sizeof *changed; i++) {
    char *got = image_repo_part(changed[i][0]);
    size_t n = strlen(changed[i][1]);
    if (strncmp(got, changed[i][1], n) != 0 || strlen(got) != n + 8)
      fail_msg("image_repo_part(\"%s\") is \"%s\", expected \"%s\" and 8 hex digits", changed[i][0], got,
               changed[i][1]);
    free(got);
  }
  char *a = image_repo_part("a:b"), *b = image_repo_part("a@b");
  assert_string_not_equal(a, b); /* both would be "a-b" without the digest */
  free(a);
  free(b);
}

static void tag_is_project_target_and_key_prefix(void **state) {
  (void)state;
  char *tag = image_tag("LabLink", "allocator/prod", "0123456789abcdef0123456789abcdef");
  assert_string_equal(tag, "dbx/lablink/allocator/prod:0123456789abcdef");
  free(tag);
  tag = image_tag("", "app", "fedcba9876543210ff");
  assert_string_equal(tag, "dbx/project/app:fedcba9876543210");
  free(tag);
  tag = image_tag("my-project", "Web.API", "abc");
  assert_string_equal(tag, "dbx/my-project/web.api:abc");
  free(tag);
}

static int alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* One path component of a Docker reference: [a-z0-9]+ runs joined by '.',
 * '_', '__' or any number of '-'. */
static int valid_component(const char *s, size_t n) {
  if (!n || !alnum(s[0]) || !alnum(s[n - 1])) return 0;
  for (size_t i = 0; i < n;) {
    while (i < n && alnum(s[i])) i++;
    size_t j = i, dashes = 1;
    for (; j < n && !alnum(s[j]); j++) dashes &= s[j] == '-';
    size_t k = j - i;
    if (k && !dashes && !(k == 1 && (s[i] == '.' || s[i] == '_')) &&
        !(k == 2 && s[i] == '_' && s[i + 1] == '_'))
      return 0;
    i = j;
  }
  return 1;
}

/* Whether docker accepts ref ("a/b/c:tag") as an image name with a tag. */
static int valid_ref(const char *ref) {
  const char *colon = strrchr(ref, ':');
  if (!colon || strchr(colon, '/') || !colon[1] || colon - ref > 255) return 0;
  for (const char *p = colon + 1; *p; p++)
    if (!alnum(*p) && !(*p >= 'A' && *p <= 'Z') && *p != '_' && (p == colon + 1 || (*p != '.' && *p != '-')))
      return 0;
  for (const char *p = ref; p < colon;) {
    const char *slash = memchr(p, '/', (size_t)(colon - p));
    const char *end = slash ? slash : colon;
    if (!valid_component(p, (size_t)(end - p))) return 0;
    p = end + (slash ? 1 : 0);
    if (slash && p == colon) return 0;
  }
  return 1;
}

/* Every name the recipe language accepts for a target must give a tag docker
 * takes: otherwise the build fails with "invalid reference format". */
static void tag_is_a_valid_reference_for_any_target_name(void **state) {
  (void)state;
  const char *names[] = {"app", "svc/prod", "Web.API", "a:b", "x@1", "c++", "_base",
                         "tools/_lint", "v1.", "lib-", "a..b", "a__b", "a---b"};
  strbuf bad = {0};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char *tag = image_tag("proj", names[i], "0123456789abcdef");
    if (!valid_ref(tag)) sb_addf(&bad, "\n  target '%s' -> %s", names[i], tag);
    free(tag);
  }
  char *proj = image_tag("_scratch", "app", "0123456789abcdef"); /* a project folder "_scratch" */
  if (!valid_ref(proj)) sb_addf(&bad, "\n  project '_scratch' -> %s", proj);
  free(proj);
  if (bad.len) {
    char *msg = sb_take(&bad);
    fail_msg("tags docker refuses:%s", msg);
  }
}

static void reference_checker_knows_valid_from_invalid(void **state) {
  (void)state; /* the checker above is itself a test fixture: keep it honest */
  assert_true(valid_ref("dbx/proj/app:0123456789abcdef"));
  assert_true(valid_ref("dbx/my-project/svc/prod:abc"));
  assert_true(valid_ref("dbx/a__b/c---d/e.f_g:x"));
  assert_false(valid_ref("dbx/proj/_base:abc"));
  assert_false(valid_ref("dbx/proj/lib-:abc"));
  assert_false(valid_ref("dbx/proj/a..b:abc"));
  assert_false(valid_ref("dbx/Proj/app:abc"));
  assert_false(valid_ref("dbx//app:abc"));
  assert_false(valid_ref("dbx/proj/app"));
}

/* ---- external refs ---- */

static void expect_refs(fixture *f, const char *dockerfile, const char *const *want) {
  sv_free(&f->refs);
  image_external_refs(dockerfile, &f->refs);
  char *what = xasprintf("refs of:\n%s\n", dockerfile);
  expect_list(what, &f->refs, want);
  free(what);
}

static void from_lines_name_base_images(void **state) {
  fixture *f = *state;
  expect_refs(f, "FROM python:3.12-slim\nRUN pip install flask\n", LIST("python:3.12-slim"));
  expect_refs(f, "  from  debian:bookworm\r\nRUN true\r\n", LIST("debian:bookworm"));
  expect_refs(f, "# FROM commented:out\nFROM alpine@sha256:0123abcd\n", LIST("alpine@sha256:0123abcd"));
  expect_refs(f, "", NONE);
}

static void platform_flag_is_not_the_image(void **state) {
  fixture *f = *state;
  expect_refs(f, "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM alpine:3.19\n",
              LIST("alpine:3.19", "golang:1.22"));
}

static void stages_are_not_external(void **state) {
  fixture *f = *state;
  expect_refs(f,
              "FROM node:20 AS deps\n"
              "RUN npm ci\n"
              "FROM deps AS build\n"
              "RUN npm run build\n"
              "FROM build\n",
              LIST("node:20"));
  expect_refs(f, "from ubuntu:22.04 as Base\nFROM base\n", LIST("ubuntu:22.04"));
}

static void copy_from_an_image_is_external(void **state) {
  fixture *f = *state;
  expect_refs(f,
              "FROM python:3.12-slim AS build\n"
              "FROM debian:bookworm-slim\n"
              "COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /usr/local/bin/uv\n"
              "COPY --from=build /app /app\n"
              "COPY --from=0 /etc/passwd /etc/passwd\n"
              "COPY --chown=app:app --from=BUILD /venv /venv\n"
              "COPY --chown=1000:1000 src /app/src\n",
              LIST("debian:bookworm-slim", "ghcr.io/astral-sh/uv:0.4", "python:3.12-slim"));
}

static void run_mount_from_an_image_is_external(void **state) {
  fixture *f = *state;
  expect_refs(f,
              "FROM alpine:3.19 AS tools\n"
              "FROM debian:bookworm\n"
              "RUN --mount=type=bind,from=busybox:1.36,source=/bin,target=/bb ls /bb\n"
              "RUN --mount=type=bind,from=tools,target=/t ls /t\n"
              "RUN --mount=type=cache,target=/root/.cache pip install x\n",
              LIST("alpine:3.19", "busybox:1.36", "debian:bookworm"));
}

/* The keys of --mount may come in any order; from= first is as valid. */
static void run_mount_with_from_first_is_external(void **state) {
  fixture *f = *state;
  expect_refs(f,
              "FROM debian:bookworm\n"
              "RUN --mount=from=busybox:1.36,source=/bin,target=/bb ls /bb\n",
              LIST("busybox:1.36", "debian:bookworm"));
}

static void dep_placeholders_are_not_external(void **state) {
  fixture *f = *state;
  expect_refs(f,
              "FROM {{dep:svc/base}} AS base\n"
              "COPY --from={{dep:svc/tools}} /bin/tool /bin/tool\n"
              "RUN --mount=type=bind,from={{dep:svc/deps}},target=/d true\n"
              "FROM {{dep:svc/prod/source}}\n",
              NONE);
}

static void each_image_is_named_once(void **state) {
  fixture *f = *state;
  expect_refs(f,
              "FROM alpine:3.19 AS a\n"
              "FROM alpine:3.19 AS b\n"
              "COPY --from=alpine:3.19 /etc/os-release /x\n"
              "RUN --mount=type=bind,from=alpine:3.19,target=/y true\n",
              LIST("alpine:3.19"));
}

/* "scratch" is the empty image: there is nothing to pull or key by, and
 * `docker pull scratch` fails ("'scratch' is a reserved name"). */
static void scratch_is_not_an_image_to_fetch(void **state) {
  fixture *f = *state;
  expect_refs(f, "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n", NONE);
  expect_refs(f, "FROM golang:1.22 AS build\nFROM scratch\nCOPY --from=build /app /app\n",
              LIST("golang:1.22"));
}

/* ---- the Dockerfile ---- */

/* An image target named name with the given deps (NULL-terminated) and Dockerfile. */
static target *image_target(fixture *f, const char *name, const char *const *deps, const char *df) {
  target *t = graph_add(f->g, name, KIND_IMAGE, NULL);
  assert_non_null(t);
  t->where = xstrdup("build.lua:7");
  t->context = xstrdup("");
  for (size_t i = 0; deps[i]; i++) sv_push(&t->deps, deps[i]);
  if (df) target_param(t, "dockerfile", df);
  return t;
}

static void dep_placeholders_become_dependency_tags(void **state) {
  fixture *f = *state;
  target *t = image_target(f, "svc/prod", LIST("svc/lock", "svc/base", "svc/source"),
                           "FROM {{dep:svc/source}} AS build\n"
                           "FROM {{dep:svc/base}}\n"
                           "COPY --from=build /venv /venv\n"
                           "RUN echo '{{not a placeholder}}'\n");
  const char *tags[] = {NULL, "dbx/p/svc/base:1111111111111111", "dbx/p/svc/source:2222222222222222"};
  char *df = image_dockerfile(t, tags, &f->err);
  if (!df) fail_msg("image_dockerfile: %s", f->err);
  assert_string_equal(df, "FROM dbx/p/svc/source:2222222222222222 AS build\n"
                          "FROM dbx/p/svc/base:1111111111111111\n"
                          "COPY --from=build /venv /venv\n"
                          "RUN echo '{{not a placeholder}}'\n");
  free(df);
}

static void placeholder_of_a_non_dependency_is_named(void **state) {
  fixture *f = *state;
  target *t = image_target(f, "app", LIST("base"), "FROM {{dep:bsae}}\nRUN true\n");
  const char *tags[] = {"dbx/p/base:1111111111111111"};
  assert_null(image_dockerfile(t, tags, &f->err));
  assert_non_null(f->err);
  if (!strstr(f->err, "{{dep:bsae}}") || !strstr(f->err, "'app'") || !strstr(f->err, "build.lua:7"))
    fail_msg("the error should name the placeholder, the image and where it is:\n%s", f->err);
}

static void placeholder_of_a_command_dependency_is_refused(void **state) {
  fixture *f = *state;
  target *t = image_target(f, "app", LIST("lock", "base"), "FROM {{dep:lock}}\n");
  const char *tags[] = {NULL, "dbx/p/base:1111111111111111"}; /* lock is no image */
  assert_null(image_dockerfile(t, tags, &f->err));
  assert_non_null(strstr(f->err, "{{dep:lock}}"));
}

static void image_without_a_dockerfile_is_refused(void **state) {
  fixture *f = *state;
  target *t = image_target(f, "bare", NONE, NULL);
  assert_null(image_dockerfile(t, NULL, &f->err));
  assert_non_null(strstr(f->err, "'bare'"));
}

/* ---- the build context ---- */

static int is_exec(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (st.st_mode & S_IXUSR) != 0;
}

static void expect_file(const char *path, const char *text) {
  char *got = ut_slurp(path);
  if (!got) fail_msg("%s is missing", path);
  if (strcmp(got, text) != 0) fail_msg("%s holds \"%s\", expected \"%s\"", path, got, text);
  free(got);
}

static void context_holds_inputs_relative_to_it_and_files(void **state) {
  fixture *f = *state;
  ut_put("app/main.py", "print('main')\n");
  ut_put("app/pkg/mod.py", "X = 1\n");
  ut_put("app/run.sh", "#!/bin/sh\n");
  assert_int_equal(chmod("app/run.sh", 0755), 0);
  ut_put("other/skip.py", "not declared\n");
  assert_int_equal(mkdir("ctx", 0755), 0);
  target *t = image_target(f, "app", NONE, "FROM python:3.12-slim\n");
  free(t->context);
  t->context = xstrdup("app");
  sv_push(&t->inputs, "app/main.py");
  sv_push(&t->inputs, "app/pkg/mod.py");
  sv_push(&t->inputs, "app/run.sh");
  target_param(t, "file:start.sh", "#!/bin/sh\nexec python main.py\n");
  target_param(t, "file:conf/app.ini", "[app]\nport = 5000\n");
  if (image_write_context(t, "ctx", &f->err) < 0) fail_msg("image_write_context: %s", f->err);

  expect_file("ctx/main.py", "print('main')\n");
  expect_file("ctx/pkg/mod.py", "X = 1\n");
  expect_file("ctx/start.sh", "#!/bin/sh\nexec python main.py\n");
  expect_file("ctx/conf/app.ini", "[app]\nport = 5000\n");
  assert_true(is_exec("ctx/start.sh"));
  assert_false(is_exec("ctx/conf/app.ini"));
  assert_true(is_exec("ctx/run.sh")); /* an input keeps its mode */
  assert_false(ut_exists("ctx/app"));
  assert_false(ut_exists("ctx/skip.py"));
  assert_false(ut_exists("ctx/other"));
}

static void context_at_the_project_root_keeps_paths(void **state) {
  fixture *f = *state;
  ut_put("src/app.py", "app\n");
  ut_put("pyproject.toml", "[project]\n");
  assert_int_equal(mkdir("ctx", 0755), 0);
  target *t = image_target(f, "app", NONE, "FROM python:3.12-slim\n");
  sv_push(&t->inputs, "pyproject.toml");
  sv_push(&t->inputs, "src/app.py");
  if (image_write_context(t, "ctx", &f->err) < 0) fail_msg("image_write_context: %s", f->err);
  expect_file("ctx/pyproject.toml", "[project]\n");
  expect_file("ctx/src/app.py", "app\n");
}

static void missing_input_is_named(void **state) {
  fixture *f = *state;
  assert_int_equal(mkdir("ctx", 0755), 0);
  target *t = image_target(f, "app", NONE, "FROM python:3.12-slim\n");
  sv_push(&t->inputs, "config/missing.yaml");
  assert_int_equal(image_write_context(t, "ctx", &f->err), -1);
  assert_non_null(f->err);
  assert_non_null(strstr(f->err, "config/missing.yaml"));
}

/* Inputs may be hard links into the project: a generated file of the same
 * name must replace the link in the context, not write through it into the
 * user's own file. */
static void generated_file_never_writes_into_the_project(void **state) {
  fixture *f = *state;
  ut_put("app/settings.py", "DEBUG = False  # the user's own\n");
  assert_int_equal(mkdir("ctx", 0755), 0);
  target *t = image_target(f, "app", NONE, "FROM python:3.12-slim\n");
  free(t->context);
  t->context = xstrdup("app");
  sv_push(&t->inputs, "app/settings.py");
  target_param(t, "file:settings.py", "DEBUG = True\n");
  image_write_context(t, "ctx", &f->err);
  expect_file("app/settings.py", "DEBUG = False  # the user's own\n");
  expect_file("ctx/settings.py", "DEBUG = True\n");
}

/* ---- the build command ---- */

/* Whether flag is followed by value somewhere in argv. */
static int has_pair(const strvec *argv, const char *flag, const char *value) {
  for (size_t i = 0; i + 1 < argv->n; i++)
    if (strcmp(argv->v[i], flag) == 0 && strcmp(argv->v[i + 1], value) == 0) return 1;
  return 0;
}

static size_t count(const strvec *argv, const char *s) {
  size_t n = 0;
  for (size_t i = 0; i < argv->n; i++) n += strcmp(argv->v[i], s) == 0;
  return n;
}

static target *build_target(fixture *f) {
  target *t = image_target(f, "svc/prod", NONE, "FROM python:3.12-slim\n");
  sv_push(&t->tags, "svc:prod");
  sv_push(&t->tags, "registry.local/svc:1.2");
  target_param(t, "build-arg.PY", "3.12");
  target_param(t, "build-arg.OPTS", "--flag=a b");
  target_param(t, "stage", "final");
  target_param(t, "file:start.sh", "#!/bin/sh\n");
  target_param(t, "context", ".");
  return t;
}

static void build_argv(fixture *f, const target *t) {
  sv_free(&f->argv);
  sv_free(&f->env);
  image_build_argv(&f->cli, t, "/work/ctx", "/work/ctx/Dockerfile", "dbx/p/svc/prod:0123456789abcdef",
                   "/work/iid", "p", "0123456789abcdef0123", f->network, &f->argv, &f->env);
}

static void buildx_argv_tags_labels_and_args(void **state) {
  fixture *f = *state;
  f->cli.docker = xstrdup("/usr/bin/docker");
  f->cli.buildx = 1;
  build_argv(f, build_target(f));
  const strvec *a = &f->argv;
  assert_true(a->n > 4);
  assert_string_equal(a->v[0], "/usr/bin/docker");
  assert_string_equal(a->v[1], "buildx");
  assert_string_equal(a->v[2], "build");
  assert_int_equal(count(a, "--load"), 1);
  assert_int_equal(f->env.n, 0);
  assert_true(has_pair(a, "-f", "/work/ctx/Dockerfile"));
  assert_true(has_pair(a, "-t", "dbx/p/svc/prod:0123456789abcdef"));
  assert_true(has_pair(a, "-t", "svc:prod"));
  assert_true(has_pair(a, "-t", "registry.local/svc:1.2"));
  assert_int_equal(count(a, "-t"), 3);
  assert_true(has_pair(a, "--label", "dbx.key=0123456789abcdef0123"));
  assert_true(has_pair(a, "--label", "dbx.project=p"));
  assert_true(has_pair(a, "--label", "dbx.target=svc/prod"));
  assert_true(has_pair(a, "--iidfile", "/work/iid"));
  assert_true(has_pair(a, "--build-arg", "PY=3.12"));
  assert_true(has_pair(a, "--build-arg", "OPTS=--flag=a b")); /* one argument, no shell */
  assert_int_equal(count(a, "--build-arg"), 2);
  assert_true(has_pair(a, "--target", "final"));
  assert_int_equal(count(a, "--network"), 0);
  assert_string_equal(a->v[a->n - 1], "/work/ctx");
  assert_int_equal(count(a, "/work/ctx"), 1);
}

static void legacy_argv_sets_docker_buildkit(void **state) {
  fixture *f = *state;
  f->cli.docker = xstrdup("/opt/docker-20/docker");
  f->cli.buildx = 0;
  build_argv(f, build_target(f));
  const strvec *a = &f->argv;
  assert_string_equal(a->v[0], "/opt/docker-20/docker");
  assert_string_equal(a->v[1], "build");
  assert_int_equal(count(a, "buildx"), 0);
  assert_int_equal(count(a, "--load"), 0);
  expect_list("env", &f->env, LIST("DOCKER_BUILDKIT=1"));
  assert_true(has_pair(a, "-t", "dbx/p/svc/prod:0123456789abcdef"));
  assert_true(has_pair(a, "--target", "final"));
  assert_string_equal(a->v[a->n - 1], "/work/ctx");
}

static void image_without_stage_or_args_has_neither(void **state) {
  fixture *f = *state;
  f->cli.docker = xstrdup("docker");
  f->cli.buildx = 1;
  build_argv(f, image_target(f, "plain", NONE, "FROM alpine\n"));
  assert_int_equal(count(&f->argv, "--target"), 0);
  assert_int_equal(count(&f->argv, "--build-arg"), 0);
  assert_int_equal(count(&f->argv, "-t"), 1);
}

static void network_from_target_then_environment(void **state) {
  fixture *f = *state;
  f->cli.docker = xstrdup("docker");
  f->cli.buildx = 1;
  target *t = build_target(f);

  t->network = xstrdup("host");
  build_argv(f, t);
  assert_true(has_pair(&f->argv, "--network", "host"));

  setenv("DBX_BUILD_NETWORK", "ci-net", 1);
  build_argv(f, t);
  assert_true(has_pair(&f->argv, "--network", "host")); /* the recipe's word wins */
  assert_int_equal(count(&f->argv, "--network"), 1);

  free(t->network);
  t->network = NULL;
  build_argv(f, t);
  assert_true(has_pair(&f->argv, "--network", "ci-net"));

  setenv("DBX_BUILD_NETWORK", "", 1);
  build_argv(f, t);
  assert_int_equal(count(&f->argv, "--network"), 0);
  assert_string_equal(f->argv.v[f->argv.n - 1], "/work/ctx");
}

/* dbx's own pick (host, on an engine without a bridge) comes last: the
 * recipe's network and $DBX_BUILD_NETWORK both win over it. */
static void network_picked_by_dbx_comes_last(void **state) {
  fixture *f = *state;
  f->cli.docker = xstrdup("docker");
  f->cli.buildx = 1;
  target *t = build_target(f);
  f->network = "host";
  build_argv(f, t);
  assert_true(has_pair(&f->argv, "--network", "host"));
  assert_int_equal(count(&f->argv, "--network"), 1);

  setenv("DBX_BUILD_NETWORK", "ci-net", 1);
  build_argv(f, t);
  assert_true(has_pair(&f->argv, "--network", "ci-net"));
  assert_int_equal(count(&f->argv, "--network"), 1);

  t->network = xstrdup("svc-net");
  build_argv(f, t);
  assert_true(has_pair(&f->argv, "--network", "svc-net"));
  assert_int_equal(count(&f->argv, "--network"), 1);
}

/* ---- finding the docker client ---- */

static const char *BUILDX =
    "[ \"$1\" = buildx ] && [ \"$2\" = version ] && { echo 'github.com/docker/buildx v0.17.1'; exit 0; }\n"
    "[ \"$1\" = --version ] && { echo 'Docker version 27.3.1, build ce12230'; exit 0; }\n"
    "exit 1\n";
static const char *LEGACY =
    "[ \"$1\" = buildx ] && { echo \"docker: 'buildx' is not a docker command.\" >&2; exit 1; }\n"
    "[ \"$1\" = --version ] && { echo 'Docker version 20.10.24, build 297e128'; exit 0; }\n"
    "exit 1\n";
static const char *NEW_WITHOUT_BUILDX =
    "[ \"$1\" = buildx ] && { echo \"docker: unknown command: docker buildx\" >&2; exit 1; }\n"
    "[ \"$1\" = --version ] && { echo 'Docker version 28.0.1, build 068a01e'; exit 0; }\n"
    "exit 1\n";
static const char *BROKEN = "echo 'cannot load libc' >&2\nexit 127\n";

/* Write a fake client as FOLDER/docker under the test's folder; its full path (caller frees). */
static char *fake_docker(fixture *f, const char *folder, const char *body) {
  char *rel = xasprintf("%s/docker", folder);
  char *text = xasprintf("#!/bin/sh\n%s", body);
  ut_put(rel, text);
  assert_int_equal(chmod(rel, 0755), 0);
  free(text);
  free(rel);
  return xasprintf("%s/%s/docker", f->dir.path, folder);
}

/* Set PATH to the given folders (under the test's folder), in order. */
static void set_path(fixture *f, const char *const *folders) {
  strbuf sb = {0};
  for (size_t i = 0; folders[i]; i++) {
    if (i) sb_addc(&sb, ':');
    sb_addf(&sb, "%s/%s", f->dir.path, folders[i]);
  }
  setenv("PATH", sb.buf, 1);
  sb_free(&sb);
}

static void client_with_buildx_builds_with_buildx(void **state) {
  fixture *f = *state;
  char *good = fake_docker(f, "good", BUILDX);
  set_path(f, LIST("good"));
  if (image_find_cli(&f->cli, &f->err) < 0) fail_msg("image_find_cli: %s", f->err);
  assert_string_equal(f->cli.docker, good);
  assert_int_equal(f->cli.buildx, 1);
  free(good);
}

static void old_client_builds_with_its_own_buildkit(void **state) {
  fixture *f = *state;
  char *old = fake_docker(f, "old", LEGACY);
  set_path(f, LIST("old"));
  if (image_find_cli(&f->cli, &f->err) < 0) fail_msg("image_find_cli: %s", f->err);
  assert_string_equal(f->cli.docker, old);
  assert_int_equal(f->cli.buildx, 0);
  free(old);
}

static void new_client_without_buildx_is_passed_over(void **state) {
  fixture *f = *state;
  free(fake_docker(f, "new", NEW_WITHOUT_BUILDX));
  char *good = fake_docker(f, "good", BUILDX);
  set_path(f, LIST("empty", "new", "good"));
  if (image_find_cli(&f->cli, &f->err) < 0) fail_msg("image_find_cli: %s", f->err);
  assert_string_equal(f->cli.docker, good);
  assert_int_equal(f->cli.buildx, 1);
  free(good);
}

static void first_usable_client_on_path_wins(void **state) {
  fixture *f = *state;
  char *old = fake_docker(f, "old", LEGACY);
  free(fake_docker(f, "good", BUILDX));
  set_path(f, LIST("old", "good"));
  if (image_find_cli(&f->cli, &f->err) < 0) fail_msg("image_find_cli: %s", f->err);
  assert_string_equal(f->cli.docker, old);
  assert_int_equal(f->cli.buildx, 0);
  free(old);
}

static void dbx_docker_is_tried_first(void **state) {
  fixture *f = *state;
  free(fake_docker(f, "good", BUILDX));
  char *old = fake_docker(f, "old", LEGACY);
  setenv("DBX_DOCKER", old, 1);
  set_path(f, LIST("good"));
  if (image_find_cli(&f->cli, &f->err) < 0) fail_msg("image_find_cli: %s", f->err);
  assert_string_equal(f->cli.docker, old);
  free(old);
}

static void nothing_usable_lists_each_client_and_why(void **state) {
  fixture *f = *state;
  char *nw = fake_docker(f, "new", NEW_WITHOUT_BUILDX);
  char *broken = fake_docker(f, "broken", BROKEN);
  set_path(f, LIST("new", "empty", "broken", "new"));
  assert_int_equal(image_find_cli(&f->cli, &f->err), -1);
  assert_null(f->cli.docker);
  assert_non_null(f->err);
  char *why_new = xasprintf("%s: version 28 ", nw);
  char *why_broken = xasprintf("%s: does not run", broken);
  const char *at = strstr(f->err, why_new);
  if (!at || !strstr(at, "buildx") || !strstr(f->err, why_broken) || !strstr(f->err, "DBX_DOCKER"))
    fail_msg("the error should say why each client was passed over, and what to do:\n%s", f->err);
  if (strstr(at + 1, why_new)) fail_msg("a client twice on PATH is listed twice:\n%s", f->err);
  free(why_new);
  free(why_broken);
  free(nw);
  free(broken);
}

static void no_client_at_all_says_so(void **state) {
  fixture *f = *state;
  assert_int_equal(mkdir("empty", 0755), 0);
  set_path(f, LIST("empty"));
  assert_int_equal(image_find_cli(&f->cli, &f->err), -1);
  if (!strstr(f->err, "no `docker` on PATH") || !strstr(f->err, "apt-get install"))
    fail_msg("unexpected message:\n%s", f->err);
}

/* ---- the engine's index ---- */

static void index_lookup_fills_in_latest_and_takes_digests(void **state) {
  (void)state;
  image_index ix = {.by_key = map_new(), .by_tag = map_new()};
  map_put(ix.by_tag, "alpine:latest", "sha256:aaa");
  map_put(ix.by_tag, "python:3.12-slim", "sha256:bbb");
  map_put(ix.by_tag, "localhost:5000/tools:latest", "sha256:ccc");
  map_put(ix.by_key, "0123456789abcdef", "sha256:ddd");

  assert_string_equal(image_index_lookup(&ix, "alpine"), "sha256:aaa");
  assert_string_equal(image_index_lookup(&ix, "alpine:latest"), "sha256:aaa");
  assert_string_equal(image_index_lookup(&ix, "python:3.12-slim"), "sha256:bbb");
  assert_string_equal(image_index_lookup(&ix, "localhost:5000/tools"), "sha256:ccc");
  assert_null(image_index_lookup(&ix, "python"));
  assert_null(image_index_lookup(&ix, "python:3.11-slim"));
  assert_null(image_index_lookup(&ix, "localhost:5000/other"));
  assert_null(image_index_lookup(&ix, "0123456789abcdef")); /* keys are not names */
  assert_string_equal(image_index_lookup(&ix, "alpine@sha256:0123abcd"), "alpine@sha256:0123abcd");
  image_index_free(&ix);
  assert_null(ix.by_tag);
}

static void inspection_answers_fill_the_index(void **state) {
  (void)state;
  image_index ix = {0};
  assert_int_equal(image_index_add_json(&ix,
                                        "{\"Id\":\"sha256:abc\",\"RepoTags\":[\"app:prod\", 7],"
                                        "\"Config\":{\"Labels\":{\"dbx.key\":\"0123\"}}}",
                                        "python:3.11-slim"),
                   0);
  assert_string_equal(image_index_lookup(&ix, "app:prod"), "sha256:abc");
  assert_string_equal(image_index_lookup(&ix, "python:3.11-slim"), "sha256:abc");
  assert_string_equal(map_get(ix.by_key, "0123"), "sha256:abc");
  /* not an object, truncated, or an object without an Id: nothing added */
  assert_int_equal(image_index_add_json(&ix, "[1, 2]", "x"), -1);
  assert_int_equal(image_index_add_json(&ix, "{\"Id\":\"sha256:", "y"), -1);
  assert_int_equal(image_index_add_json(&ix, "{\"RepoTags\":[\"z:1\"]}", "z"), 0);
  assert_null(image_index_lookup(&ix, "x"));
  assert_null(image_index_lookup(&ix, "z:1"));
  image_index_free(&ix);
}

static void secrets_become_secret_options_with_absolute_sources(void **state) {
  fixture *f = *state;
  f->cli.docker = xstrdup("/usr/bin/docker");
  f->cli.buildx = 1;
  target *t = build_target(f);
  sv_push(&t->secrets, "netrc=~/.netrc");
  sv_push(&t->secrets, "token=secrets/token");
  sv_push(&t->secrets, "abs=/etc/token");
  setenv("HOME", "/home/someone", 1);
  build_argv(f, t);
  const strvec *a = &f->argv;
  assert_int_equal(count(a, "--secret"), 3);
  assert_true(has_pair(a, "--secret", "id=netrc,src=/home/someone/.netrc"));
  assert_true(has_pair(a, "--secret", "id=abs,src=/etc/token"));
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof cwd));
  char *want = xasprintf("id=token,src=%s/%s%ssecrets/token", cwd, t->dir, *t->dir ? "/" : "");
  assert_true(has_pair(a, "--secret", want));
  free(want);
  assert_string_equal(a->v[a->n - 1], "/work/ctx");
}

static void url_escape_keeps_only_unreserved_bytes(void **state) {
  (void)state;
  char *e = image_url_escape("{\"label\":[\"dbx.project=my app\"]}");
  assert_string_equal(e, "%7B%22label%22%3A%5B%22dbx.project%3Dmy%20app%22%5D%7D");
  free(e);
  e = image_url_escape("Az09-._~/\xc3\xa9");
  assert_string_equal(e, "Az09-._~%2F%C3%A9");
  free(e);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(repo_part_is_lower_case_and_plain),
      T(tag_is_project_target_and_key_prefix),
      T(tag_is_a_valid_reference_for_any_target_name),
      T(reference_checker_knows_valid_from_invalid),
      T(from_lines_name_base_images),
      T(platform_flag_is_not_the_image),
      T(stages_are_not_external),
      T(copy_from_an_image_is_external),
      T(run_mount_from_an_image_is_external),
      T(run_mount_with_from_first_is_external),
      T(dep_placeholders_are_not_external),
      T(each_image_is_named_once),
      T(scratch_is_not_an_image_to_fetch),
      T(dep_placeholders_become_dependency_tags),
      T(placeholder_of_a_non_dependency_is_named),
      T(placeholder_of_a_command_dependency_is_refused),
      T(image_without_a_dockerfile_is_refused),
      T(context_holds_inputs_relative_to_it_and_files),
      T(context_at_the_project_root_keeps_paths),
      T(missing_input_is_named),
      T(generated_file_never_writes_into_the_project),
      T(buildx_argv_tags_labels_and_args),
      T(legacy_argv_sets_docker_buildkit),
      T(image_without_stage_or_args_has_neither),
      T(network_from_target_then_environment),
      T(network_picked_by_dbx_comes_last),
      T(client_with_buildx_builds_with_buildx),
      T(old_client_builds_with_its_own_buildkit),
      T(new_client_without_buildx_is_passed_over),
      T(first_usable_client_on_path_wins),
      T(dbx_docker_is_tried_first),
      T(nothing_usable_lists_each_client_and_why),
      T(no_client_at_all_says_so),
      T(index_lookup_fills_in_latest_and_takes_digests),
      T(url_escape_keeps_only_unreserved_bytes),
      T(inspection_answers_fill_the_index),
      T(secrets_become_secret_options_with_absolute_sources),
  };
  return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
