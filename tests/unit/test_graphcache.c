/* graphcache: a recipe graph saved under .dbx/ comes back whole while nothing
 * the evaluation read has changed, and is refused as soon as anything has —
 * the recipe, a file it read, a folder a glob listed, a file it looked for,
 * the environment — or when the cache itself is damaged. */
#include "unit.h"

#include <signal.h>
#include <sys/wait.h>

#include "graphcache.h"
#include "recipe.h"

#define CACHE ".dbx/graph"
#define ROOT "build.lua"
#define SEC ((int64_t)1000000000)

typedef struct {
  ut_tmpdir dir;
  graph *g;
  char *err;
  int64_t past; /* well before any cache write: files this old are not racy */
} fixture;

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 1) < 0) return -1;
  f->g = graph_new();
  f->past = ut_now_ns() - 3600 * SEC;
  unsetenv("DBX_LUA_PATH");
  unsetenv("DBX_UT_FLAVOR");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  unsetenv("DBX_LUA_PATH");
  unsetenv("DBX_UT_FLAVOR");
  graph_free(f->g);
  free(f->err);
  ut_tmpdir_close(&f->dir);
  free(f);
  return 0;
}

/* Write text as ./build.lua and evaluate it into f->g. */
static void load(fixture *f, const char *text) {
  ut_put(ROOT, text);
  if (recipe_load(ROOT, f->g, NULL, &f->err) < 0) fail_msg("recipe failed: %s", f->err);
}

/* Put every project file and folder in the past, then save f->g. */
static void save(fixture *f) {
  assert_int_equal(mkdir_p(".dbx"), 0);
  ut_set_mtime_tree(".", f->past);
  assert_int_equal(graphcache_save(f->g, CACHE, ROOT), 0);
}

static void expect_fresh(const char *why) {
  graph *g = graphcache_load(CACHE, ROOT);
  if (!g) fail_msg("the cache was refused %s", why);
  graph_free(g);
}

static void expect_stale(const char *why) {
  graph *g = graphcache_load(CACHE, ROOT);
  if (g) {
    graph_free(g);
    fail_msg("the cache was used %s", why);
  }
}

/* Strings a and b are equal, both NULL included. */
static void same_str(const char *who, const char *what, const char *a, const char *b) {
  if (!a && !b) return;
  if (!a || !b || strcmp(a, b) != 0)
    fail_msg("%s: %s was '%s', came back as '%s'", who, what, a ? a : "(null)", b ? b : "(null)");
}

static void same_list(const char *who, const char *what, const strvec *a, const strvec *b) {
  if (a->n != b->n) fail_msg("%s: %s had %zu items, came back with %zu", who, what, a->n, b->n);
  for (size_t i = 0; i < a->n; i++) same_str(who, what, a->v[i], b->v[i]);
}

static void same_target(const target *a, const target *b) {
  same_str(a->name, "name", a->name, b->name);
  if (a->kind != b->kind) fail_msg("%s: kind %d came back as %d", a->name, a->kind, b->kind);
  same_str(a->name, "where", a->where, b->where);
  same_str(a->name, "dir", a->dir, b->dir);
  same_str(a->name, "desc", a->desc, b->desc);
  same_str(a->name, "pool", a->pool, b->pool);
  same_str(a->name, "network", a->network, b->network);
  same_str(a->name, "context", a->context, b->context);
  same_list(a->name, "deps", &a->deps, &b->deps);
  same_list(a->name, "inputs", &a->inputs, &b->inputs);
  same_list(a->name, "argv", &a->argv, &b->argv);
  same_list(a->name, "env", &a->env, &b->env);
  same_list(a->name, "outputs", &a->outputs, &b->outputs);
  same_list(a->name, "tags", &a->tags, &b->tags);
  same_list(a->name, "gen names", &a->gen_names, &b->gen_names);
  same_list(a->name, "gen texts", &a->gen_texts, &b->gen_texts);
  same_list(a->name, "meta", &a->meta, &b->meta);
  same_list(a->name, "args", &a->args, &b->args);
  same_list(a->name, "secrets", &a->secrets, &b->secrets);
  if (a->nparams != b->nparams)
    fail_msg("%s: %zu params came back as %zu", a->name, a->nparams, b->nparams);
  for (size_t i = 0; i < a->nparams; i++) {
    same_str(a->name, "param name", a->params[i].name, b->params[i].name);
    same_str(a->name, a->params[i].name, a->params[i].value, b->params[i].value);
  }
}

static const char *param_of(const target *t, const char *name) {
  for (size_t i = 0; i < t->nparams; i++)
    if (strcmp(t->params[i].name, name) == 0) return t->params[i].value;
  return NULL;
}

/* A project with one of each kind of target, and a python.service for
 * targets with generated files. */
static void big_project(fixture *f) {
  ut_put("VERSION", "1.4.2");
  ut_put("src/a.c", "int a;\n");
  ut_put("src/b.c", "int b;\n");
  ut_put("app/main.py", "print('app')\n");
  ut_put("app/pkg/util.py", "X = 1\n");
  ut_put("svc/pyproject.toml", "[project]\nname = \"svc\"\nversion = \"0.1.0\"\n");
  ut_put("svc/uv.lock", "version = 1\n");
  ut_put("svc/src/svc/__init__.py", "\n");
  setenv("DBX_UT_FLAVOR", "spicy", 1);
  load(f, "local version = read('VERSION')\n"
          "local flavor = os.getenv('DBX_UT_FLAVOR') or 'plain'\n"
          "local has_local = pcall(read, 'local.lua')\n"
          "local python = require 'dbx.python'\n"
          "target 'compile' {\n"
          "  desc = 'compile the sources',\n"
          "  inputs = { 'src/*.c' },\n"
          "  run = { 'cc', '-c', 'src/a.c', '-DVERSION=' .. version },\n"
          "  outputs = { 'out/a.o' },\n"
          "  env = { CC = 'gcc', FLAVOR = flavor },\n"
          "  pool = 'cpu',\n"
          "}\n"
          "image 'app' {\n"
          "  desc = 'the app image',\n"
          "  deps = { 'compile' },\n"
          "  context = 'app',\n"
          "  inputs = { 'app/**' },\n"
          "  dockerfile = 'FROM python:3.12-slim\\nCOPY . /app\\n',\n"
          "  files = { ['start.sh'] = '#!/bin/sh\\nexec app\\n' },\n"
          "  build_args = { VERSION = version },\n"
          "  stage = 'final',\n"
          "  tags = { 'app:latest', 'app:' .. version },\n"
          "  network = 'host',\n"
          "  args = { 'RELEASE', 'MIRROR=https://deb.example' },\n"
          "  secrets = { token = 'secrets/token' },\n"
          "}\n"
          "group 'everything' { 'compile', 'app' }\n"
          "python.service 'svc' { dir = 'svc', cmd = { 'svc' } }\n");
}

static void every_target_field_survives_a_round_trip(void **state) {
  fixture *f = *state;
  big_project(f);
  save(f);
  graph *back = graphcache_load(CACHE, ROOT);
  if (!back) fail_msg("a fresh cache was refused");

  assert_int_equal(back->n, f->g->n);
  for (size_t i = 0; i < f->g->n; i++) same_target(f->g->t[i], back->t[i]);
  same_list("graph", "recipe files", &f->g->recipe_files, &back->recipe_files);
  same_list("graph", "recipe folders", &f->g->recipe_dirs, &back->recipe_dirs);
  same_list("graph", "absent files", &f->g->recipe_absent, &back->recipe_absent);
  same_list("graph", "environment", &f->g->recipe_env, &back->recipe_env);

  /* and the comparison above compared something */
  target *c = graph_find(back, "compile"), *app = graph_find(back, "app");
  target *prod = graph_find(back, "svc/prod");
  assert_non_null(c);
  assert_non_null(app);
  assert_non_null(prod);
  assert_non_null(graph_find(back, "everything"));
  assert_int_equal(c->kind, KIND_CMD);
  assert_string_equal(c->where, "build.lua:5");
  assert_string_equal(c->desc, "compile the sources");
  assert_string_equal(c->pool, "cpu");
  assert_int_equal(c->inputs.n, 2);
  assert_string_equal(c->argv.v[3], "-DVERSION=1.4.2");
  assert_string_equal(c->env.v[1], "FLAVOR=spicy");
  assert_string_equal(c->outputs.v[0], "out/a.o");
  assert_int_equal(app->kind, KIND_IMAGE);
  assert_string_equal(app->context, "app");
  assert_string_equal(app->network, "host");
  assert_null(app->pool);
  assert_int_equal(app->inputs.n, 2);
  assert_int_equal(app->tags.n, 2);
  assert_string_equal(app->tags.v[1], "app:1.4.2");
  assert_string_equal(param_of(app, "build-arg.VERSION"), "1.4.2");
  assert_string_equal(param_of(app, "stage"), "final");
  assert_string_equal(param_of(app, "file:start.sh"), "#!/bin/sh\nexec app\n");
  assert_non_null(strstr(param_of(app, "dockerfile"), "FROM python:3.12-slim"));
  assert_string_equal(prod->dir, "svc");
  assert_true(prod->gen_names.n >= 1);
  assert_int_equal(prod->gen_names.n, prod->gen_texts.n);
  assert_string_equal(target_get_meta(prod, "variant"), "prod"); /* what dbx dev reads */
  assert_string_equal(target_get_meta(prod, "workdir"), "/app");
  assert_null(target_get_meta(prod, "no-such-fact"));
  assert_true(back->recipe_files.n >= 3); /* build.lua, VERSION, the python files */
  assert_true(back->recipe_absent.n >= 2); /* local.lua, app/.dockerignore */
  assert_int_equal(back->recipe_env.n, 1);
  assert_string_equal(back->recipe_env.v[0], "DBX_UT_FLAVOR=spicy");

  char *err = NULL;
  assert_int_equal(graph_resolve(back, &err), 0); /* usable as recipe_load's graph */
  graph_free(back);
}

static void unchanged_sources_do_not_invalidate(void **state) {
  fixture *f = *state;
  big_project(f);
  save(f);
  expect_fresh("with nothing changed");
  /* input contents are the build's business, not the recipe's */
  ut_put("src/a.c", "int a = 2;\n");
  ut_set_mtime("src/a.c", f->past + 10 * SEC);
  ut_put("app/main.py", "print('changed')\n");
  ut_set_mtime("app/main.py", f->past + 10 * SEC);
  expect_fresh("after editing a source file the recipe did not read");
}

static void edited_recipe_invalidates(void **state) {
  fixture *f = *state;
  load(f, "target 'a' { run = { 'true' } }\n");
  save(f);
  expect_fresh("before the edit");
  ut_put(ROOT, "target 'a' { run = { 'false' }, desc = 'now failing' }\n");
  ut_set_mtime(ROOT, f->past + 10 * SEC);
  expect_stale("after build.lua was edited");
}

/* Same size, mtime put back as it was (a checkout or copy keeping times):
 * the change of ctime still gives it away. */
static void edit_hidden_behind_the_old_mtime_is_noticed(void **state) {
  fixture *f = *state;
  load(f, "target 'a' { run = { 'true' } }\n");
  save(f);
  ut_put(ROOT, "target 'b' { run = { 'true' } }\n");
  ut_set_mtime(ROOT, f->past);
  expect_stale("after an edit of the same size with the old mtime restored");
}

static void edited_included_recipe_invalidates(void **state) {
  fixture *f = *state;
  ut_put("svc/build.lua", "target 'svc' { run = { 'true' } }\n");
  load(f, "include 'svc/build.lua'\n");
  save(f);
  expect_fresh("before the edit");
  ut_put("svc/build.lua", "target 'svc' { run = { 'make', 'svc' } }\n");
  ut_set_mtime("svc/build.lua", f->past + 10 * SEC);
  expect_stale("after an included recipe was edited");
}

static void file_read_by_the_recipe_invalidates(void **state) {
  fixture *f = *state;
  ut_put("VERSION", "1.0.0");
  load(f, "target 'tag' { run = { 'echo', read('VERSION') } }\n");
  save(f);
  expect_fresh("before the edit");
  ut_put("VERSION", "1.0.1");
  ut_set_mtime("VERSION", f->past + 10 * SEC);
  expect_stale("after a file read with read() changed");

  save(f);
  expect_fresh("after saving again");
  assert_int_equal(unlink("VERSION"), 0);
  expect_stale("after a file read with read() was removed");
}

static void new_file_in_a_globbed_folder_invalidates(void **state) {
  fixture *f = *state;
  ut_put("src/a.c", "int a;\n");
  load(f, "target 'c' { inputs = glob('src/*.c'), run = { 'cc' } }\n");
  assert_int_equal(graph_find(f->g, "c")->inputs.n, 1);
  save(f);
  expect_fresh("before the new file");
  ut_put("src/b.c", "int b;\n");
  ut_set_mtime("src/b.c", f->past);
  ut_set_mtime("src", f->past + 10 * SEC); /* what adding a file does to its folder */
  expect_stale("after a file was added where a glob listed");
}

static void new_file_below_an_input_pattern_invalidates(void **state) {
  fixture *f = *state;
  ut_put("lib/a/x.py", "x\n");
  load(f, "target 'c' { inputs = { 'lib/**/*.py' }, run = { 'true' } }\n");
  save(f);
  expect_fresh("before the new file");
  ut_put("lib/a/y.py", "y\n");
  ut_set_mtime("lib/a/y.py", f->past);
  ut_set_mtime("lib/a", f->past + 10 * SEC);
  expect_stale("after a file was added in a folder an input pattern walked");
}

static void folder_a_glob_looked_for_appearing_invalidates(void **state) {
  fixture *f = *state;
  load(f, "target 'c' { inputs = { 'gen/*.c' }, run = { 'cc' } }\n");
  assert_int_equal(graph_find(f->g, "c")->inputs.n, 0);
  save(f);
  expect_fresh("before the folder appeared");
  ut_put("gen/x.c", "int x;\n");
  ut_set_mtime_tree("gen", f->past);
  expect_stale("after the folder a glob looked for appeared");
}

static void file_looked_for_and_not_found_appearing_invalidates(void **state) {
  fixture *f = *state;
  load(f, "local ok, text = pcall(read, 'local.lua')\n"
          "target 'a' { run = { 'echo', ok and text or 'none' } }\n");
  save(f);
  expect_fresh("before the file appeared");
  ut_put("local.lua", "custom");
  ut_set_mtime("local.lua", f->past);
  expect_stale("after a file the recipe looked for appeared");
}

static void dockerignore_appearing_invalidates(void **state) {
  fixture *f = *state;
  ut_put("app/main.py", "x\n");
  ut_put("app/notes.md", "x\n");
  load(f, "image 'app' { context = 'app', inputs = { 'app/**' }, dockerfile = 'FROM scratch' }\n");
  assert_int_equal(graph_find(f->g, "app")->inputs.n, 2);
  save(f);
  expect_fresh("before the .dockerignore appeared");
  ut_put("app/.dockerignore", "*.md\n");
  ut_set_mtime("app/.dockerignore", f->past);
  expect_stale("after a .dockerignore appeared in the image's context");
}

static void environment_read_by_the_recipe_invalidates(void **state) {
  fixture *f = *state;
  setenv("DBX_UT_FLAVOR", "mild", 1);
  load(f, "target 'a' { run = { 'echo', os.getenv('DBX_UT_FLAVOR') or 'none' } }\n");
  save(f);
  expect_fresh("with the same environment");
  setenv("DBX_UT_FLAVOR", "hot", 1);
  expect_stale("after the variable the recipe read changed");
  setenv("DBX_UT_FLAVOR", "", 1);
  expect_stale("after the variable the recipe read became empty");
  unsetenv("DBX_UT_FLAVOR");
  expect_stale("after the variable the recipe read was unset");
  setenv("DBX_UT_FLAVOR", "mild", 1);
  expect_fresh("with the variable back as it was");
}

static void unset_variable_becoming_set_invalidates(void **state) {
  fixture *f = *state;
  load(f, "target 'a' { run = { 'echo', os.getenv('DBX_UT_FLAVOR') or 'none' } }\n");
  save(f);
  expect_fresh("while the variable stays unset");
  setenv("DBX_UT_FLAVOR", "none", 1); /* even to what the recipe used in its place */
  expect_stale("after a variable the recipe found unset was set");
}

/* The racy rule: a file changed within the clock tick of the cache write
 * could have changed again after the stat that was saved, unnoticed. */
static void file_not_older_than_the_cache_is_not_trusted(void **state) {
  fixture *f = *state;
  load(f, "target 'a' { run = { 'true' } }\n");
  save(f); /* build.lua's mtime is f->past, exactly as saved */
  ut_set_mtime(CACHE, f->past + 1);
  expect_fresh("with build.lua one ns older than the cache");
  ut_set_mtime(CACHE, f->past);
  expect_stale("with build.lua as new as the cache");
  ut_set_mtime(CACHE, f->past - SEC);
  expect_stale("with build.lua newer than the cache");
}

static void globbed_folder_not_older_than_the_cache_is_not_trusted(void **state) {
  fixture *f = *state;
  ut_put("src/a.c", "int a;\n");
  load(f, "target 'c' { inputs = { 'src/*.c' }, run = { 'cc' } }\n");
  save(f);
  ut_set_mtime(ROOT, f->past - 10 * SEC); /* only the folder is at the edge */
  assert_int_equal(graphcache_save(f->g, CACHE, ROOT), 0);
  ut_set_mtime(CACHE, f->past + 1);
  expect_fresh("with the folder one ns older than the cache");
  ut_set_mtime(CACHE, f->past);
  expect_stale("with the folder as new as the cache");
}

static void lua_path_override_disables_caching(void **state) {
  fixture *f = *state;
  assert_int_equal(mkdir_p("lua-dev"), 0);
  load(f, "target 'a' { run = { 'true' } }\n");
  setenv("DBX_LUA_PATH", "lua-dev", 1);
  assert_int_equal(mkdir_p(".dbx"), 0);
  ut_set_mtime_tree(".", f->past);
  assert_int_equal(graphcache_save(f->g, CACHE, ROOT), 0);
  assert_false(ut_exists(CACHE)); /* nothing written */

  unsetenv("DBX_LUA_PATH");
  save(f);
  expect_fresh("without DBX_LUA_PATH");
  setenv("DBX_LUA_PATH", "lua-dev", 1);
  expect_stale("while DBX_LUA_PATH points at other Lua files");
}

static void cache_for_another_root_recipe_is_refused(void **state) {
  fixture *f = *state;
  load(f, "target 'a' { run = { 'true' } }\n");
  save(f);
  graph *g = graphcache_load(CACHE, "other.lua");
  if (g) {
    graph_free(g);
    fail_msg("a cache saved for build.lua was used for other.lua");
  }
  expect_fresh("for the recipe it was saved for");
}

static void missing_cache_is_refused(void **state) {
  (void)state;
  assert_null(graphcache_load(CACHE, ROOT));
  assert_null(graphcache_load("nowhere/graph", ROOT));
}

/* Cut the cache file at every length: none of the pieces may pass. */
static void truncated_cache_is_refused_at_every_length(void **state) {
  fixture *f = *state;
  ut_put("VERSION", "2");
  load(f, "local v = read('VERSION')\n"
          "target 'a' { inputs = { '*.txt' }, run = { 'echo', v }, env = { X = 'y' } }\n"
          "image 'i' { dockerfile = 'FROM scratch', tags = { 'i:1' } }\n");
  save(f);
  expect_fresh("whole");
  char *data;
  size_t len;
  assert_int_equal(read_file(CACHE, &data, &len), 0);
  for (size_t n = 0; n < len; n++) {
    FILE *out = fopen(CACHE, "w");
    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, n, out), n);
    assert_int_equal(fclose(out), 0);
    graph *g = graphcache_load(CACHE, ROOT);
    if (g) {
      graph_free(g);
      free(data);
      fail_msg("the cache cut to %zu of %zu bytes was used", n, len);
    }
  }
  free(data);
}

static void damaged_cache_is_refused(void **state) {
  fixture *f = *state;
  load(f, "target 'a' { run = { 'true' } }\n");
  save(f);
  char *data;
  size_t len;
  assert_int_equal(read_file(CACHE, &data, &len), 0);

  data[3] = 'X'; /* "11:dbx-graph-4" -> "11:dbX-graph-4" */
  assert_int_equal(write_file_atomic(CACHE, data, len), 0);
  expect_stale("with a damaged header");
  data[3] = 'x';

  char *junk = xasprintf("%s7:garbage", data); /* bytes after the end mark */
  junk[len - 1] = 'Z'; /* the end mark "1:." becomes an unknown section "1:Z" */
  assert_int_equal(write_file_atomic(CACHE, junk, strlen(junk)), 0);
  expect_stale("with an unknown section");
  free(junk);

  assert_int_equal(write_file_atomic(CACHE, "not a cache at all\n", 19), 0);
  expect_stale("holding text that is not a cache");
  free(data);
}

/* A damaged count must not take dbx down: the cache is only an optimisation.
 * Run in a child, so that a crash fails this test alone. */
static void damaged_count_is_refused_without_crashing(void **state) {
  (void)state;
  graph *g = graph_new();
  assert_non_null(graph_add(g, "a", KIND_CMD, NULL));
  assert_int_equal(mkdir_p(".dbx"), 0);
  assert_int_equal(graphcache_save(g, CACHE, ROOT), 0);
  graph_free(g);
  char *data;
  size_t len;
  assert_int_equal(read_file(CACHE, &data, &len), 0);
  /* the file ends with the target's parameter count (0) and the end mark */
  assert_true(len > 6);
  assert_memory_equal(data + len - 6, "1:01:.", 6);
  data[len - 6] = 0;
  char *bad = xasprintf("%s18:9999999999999999991:.", data);
  free(data);
  assert_int_equal(write_file_atomic(CACHE, bad, strlen(bad)), 0);
  free(bad);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    graph *back = graphcache_load(CACHE, ROOT);
    _exit(back ? 2 : 0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status))
    fail_msg("graphcache_load died of signal %d on a cache whose parameter count is damaged",
             WTERMSIG(status));
  if (WEXITSTATUS(status) == 2) fail_msg("a cache with a damaged count was used");
  if (WEXITSTATUS(status) != 0)
    fail_msg("graphcache_load exited (status %d) on a cache whose parameter count is damaged",
             WEXITSTATUS(status));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(every_target_field_survives_a_round_trip),
      T(unchanged_sources_do_not_invalidate),
      T(edited_recipe_invalidates),
      T(edit_hidden_behind_the_old_mtime_is_noticed),
      T(edited_included_recipe_invalidates),
      T(file_read_by_the_recipe_invalidates),
      T(new_file_in_a_globbed_folder_invalidates),
      T(new_file_below_an_input_pattern_invalidates),
      T(folder_a_glob_looked_for_appearing_invalidates),
      T(file_looked_for_and_not_found_appearing_invalidates),
      T(dockerignore_appearing_invalidates),
      T(environment_read_by_the_recipe_invalidates),
      T(unset_variable_becoming_set_invalidates),
      T(file_not_older_than_the_cache_is_not_trusted),
      T(globbed_folder_not_older_than_the_cache_is_not_trusted),
      T(lua_path_override_disables_caching),
      T(cache_for_another_root_recipe_is_refused),
      T(missing_cache_is_refused),
      T(truncated_cache_is_refused_at_every_length),
      T(damaged_cache_is_refused),
      T(damaged_count_is_refused_without_crashing),
  };
  return cmocka_run_group_tests_name("graphcache", tests, NULL, NULL);
}
