/* recipe: build.lua files written into a temp project and loaded as dbx
 * would; what they declare, and what a recipe author sees when it is wrong. */
#include "unit.h"

#include <signal.h>
#include <sys/wait.h>

#include "recipe.h"

typedef struct {
  ut_tmpdir dir;
  graph *g;
  char *err;
} fixture;

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 1) < 0) return -1;
  f->g = graph_new();
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  graph_free(f->g);
  free(f->err);
  ut_tmpdir_close(&f->dir);
  free(f);
  return 0;
}

/* Write text as ./build.lua and load it; returns recipe_load's result. */
static int load_with(fixture *f, const char *text, const recipe_limits *lim) {
  ut_put("build.lua", text);
  free(f->err);
  f->err = NULL;
  return recipe_load("build.lua", f->g, lim, &f->err);
}

static int load(fixture *f, const char *text) { return load_with(f, text, NULL); }

static void loaded(fixture *f, const char *text) {
  if (load(f, text) < 0) fail_msg("recipe failed: %s", f->err);
}

/* The error must hold each of the NULL-terminated fragments. */
static void expect_error(fixture *f, const char *text, const char *const *parts) {
  if (load(f, text) == 0) fail_msg("recipe was accepted");
  assert_non_null(f->err);
  for (size_t i = 0; parts[i]; i++)
    if (!strstr(f->err, parts[i])) fail_msg("error lacks \"%s\":\n%s", parts[i], f->err);
}

#define PARTS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *param_of(const target *t, const char *name) {
  for (size_t i = 0; i < t->nparams; i++)
    if (strcmp(t->params[i].name, name) == 0) return t->params[i].value;
  return NULL;
}

static int has(const strvec *sv, const char *s) {
  for (size_t i = 0; i < sv->n; i++)
    if (strcmp(sv->v[i], s) == 0) return 1;
  return 0;
}

static void targets_are_loaded_with_deps_inputs_and_params(void **state) {
  fixture *f = *state;
  ut_put("src/b.c", "int b;\n");
  ut_put("src/a.c", "int a;\n");
  ut_put("link.ld", "x\n");
  loaded(f, "target 'compile' {\n"
            "  inputs = { 'src/*.c' },\n"
            "  run = { 'cc', '-c', 'src/a.c' },\n"
            "  outputs = { 'out/a.o' },\n"
            "  env = { CC = 'gcc' },\n"
            "  desc = 'compile the sources',\n"
            "}\n"
            "target 'link' { deps = { 'compile' }, inputs = { 'link.ld' }, run = { 'ld' } }\n"
            "group 'all' { 'compile', 'link' }\n");
  assert_int_equal(f->g->n, 3);

  target *c = graph_find(f->g, "compile");
  assert_non_null(c);
  assert_int_equal(c->kind, KIND_CMD);
  assert_string_equal(c->where, "build.lua:1");
  assert_string_equal(c->desc, "compile the sources");
  assert_int_equal(c->inputs.n, 2);
  assert_string_equal(c->inputs.v[0], "src/a.c");
  assert_string_equal(c->inputs.v[1], "src/b.c");
  assert_int_equal(c->argv.n, 3);
  assert_string_equal(c->argv.v[2], "src/a.c");
  assert_int_equal(c->outputs.n, 1);
  assert_string_equal(c->outputs.v[0], "out/a.o");
  assert_int_equal(c->env.n, 1);
  assert_string_equal(c->env.v[0], "CC=gcc");
  assert_string_equal(param_of(c, "run"), "[\"cc\",\"-c\",\"src/a.c\"]");
  assert_string_equal(param_of(c, "outputs"), "[\"out/a.o\"]");
  assert_string_equal(param_of(c, "env.CC"), "gcc");
  assert_string_equal(param_of(c, "cwd"), ".");

  target *l = graph_find(f->g, "link");
  assert_int_equal(l->deps.n, 1);
  assert_string_equal(l->deps.v[0], "compile");
  assert_string_equal(l->where, "build.lua:8");

  target *all = graph_find(f->g, "all");
  assert_int_equal(all->kind, KIND_GROUP);
  assert_int_equal(all->deps.n, 2);
  assert_string_equal(all->deps.v[1], "link");

  char *err = NULL;
  assert_int_equal(graph_resolve(f->g, &err), 0);
}

static void missing_literal_input_is_kept_for_the_build_to_report(void **state) {
  fixture *f = *state;
  loaded(f, "target 't' { inputs = { 'config/missing.yaml' }, run = { 'true' } }\n");
  target *t = graph_find(f->g, "t");
  assert_int_equal(t->inputs.n, 1);
  assert_string_equal(t->inputs.v[0], "config/missing.yaml");
}

static void syntax_error_names_file_and_line(void **state) {
  fixture *f = *state;
  expect_error(f,
               "target 'a' { run = { 'true' } }\n"
               "local x = = 1\n",
               PARTS("build.lua:2:"));
  assert_memory_equal(f->err, "build.lua:2:", strlen("build.lua:2:"));
}

static void runtime_error_has_a_recipe_only_traceback(void **state) {
  fixture *f = *state;
  expect_error(f,
               "local function check(v)\n"
               "  error('version must be set')\n"
               "end\n"
               "check(nil)\n",
               PARTS("build.lua:2: version must be set", "build.lua:4"));
  assert_null(strstr(f->err, "recipe.lua")); /* no frames of dbx's own Lua */
  assert_null(strstr(f->err, "[C]"));
}

static void unknown_field_suggests_the_closest(void **state) {
  fixture *f = *state;
  expect_error(f, "target 'a' { run = { 'true' }, inptus = { 'x' } }\n",
               PARTS("build.lua:1:", "unknown field 'inptus'", "did you mean 'inputs'"));
}

static void wrong_field_type_names_field_and_target(void **state) {
  fixture *f = *state;
  expect_error(f, "\ntarget 'compile' { run = { 'cc' }, deps = 5 }\n",
               PARTS("build.lua:2:", "target 'compile'", "field 'deps'", "a number"));
}

static void duplicate_target_names_both_places(void **state) {
  fixture *f = *state;
  expect_error(f,
               "target 'app' { run = { 'true' } }\n"
               "\n"
               "target 'app' { run = { 'false' } }\n",
               PARTS("duplicate target 'app'", "build.lua:1", "build.lua:3"));
}

static void duplicate_across_files_names_both_files(void **state) {
  fixture *f = *state;
  ut_put("svc/build.lua", "target 'app' { run = { 'true' } }\n");
  expect_error(f,
               "target 'app' { run = { 'true' } }\n"
               "include 'svc/build.lua'\n",
               PARTS("duplicate target 'app'", "build.lua:1", "svc/build.lua:1"));
}

static void os_execute_is_unavailable(void **state) {
  fixture *f = *state;
  expect_error(f, "os.execute('touch pwned')\n", PARTS("build.lua:1:", "execute"));
  assert_false(ut_exists("pwned"));
}

static void io_popen_is_unavailable(void **state) {
  fixture *f = *state;
  expect_error(f, "io.popen('touch pwned')\n", PARTS("build.lua:1:", "popen"));
  assert_false(ut_exists("pwned"));
}

static void files_cannot_be_written_or_code_loaded(void **state) {
  fixture *f = *state;
  const char *attempts[] = {
      "io.open('pwned', 'w'):write('x')\n",
      "require('io').open('pwned', 'w')\n",
      "load('x = 1')\n",
      "dofile('other.lua')\n",
      "os.remove('victim')\n",
      "require('dbx.core').read('', 'victim')\n",
  };
  ut_put("victim", "keep me\n");
  ut_put("other.lua", "x = 1\n");
  for (size_t i = 0; i < sizeof attempts / sizeof *attempts; i++) {
    if (load(f, attempts[i]) == 0) fail_msg("accepted: %s", attempts[i]);
    assert_false(ut_exists("pwned"));
    assert_true(ut_exists("victim"));
  }
}

static void unknown_name_suggests_the_closest(void **state) {
  fixture *f = *state;
  expect_error(f, "tagret 'a' { run = { 'true' } }\n",
               PARTS("build.lua:1:", "unknown name 'tagret'", "did you mean 'target'"));
}

static void include_makes_paths_relative_to_its_folder(void **state) {
  fixture *f = *state;
  ut_put("svc/app.py", "print(1)\n");
  ut_put("svc/lib/util.py", "x = 1\n");
  ut_put("app.py", "not this one\n");
  ut_put("svc/build.lua",
         "target 'svc' {\n"
         "  deps = { 'setup' },\n"
         "  inputs = { '**/*.py' },\n"
         "  run = { 'python3', 'app.py' },\n"
         "  outputs = { 'dist/app.zip' },\n"
         "}\n");
  loaded(f, "target 'setup' { run = { 'true' } }\n"
            "include 'svc/build.lua'\n");
  target *t = graph_find(f->g, "svc");
  assert_non_null(t);
  assert_string_equal(t->dir, "svc");
  assert_string_equal(t->where, "svc/build.lua:1");
  assert_int_equal(t->inputs.n, 2);
  assert_string_equal(t->inputs.v[0], "svc/app.py");
  assert_string_equal(t->inputs.v[1], "svc/lib/util.py");
  assert_string_equal(t->outputs.v[0], "svc/dist/app.zip");
  assert_string_equal(param_of(t, "cwd"), "svc");
  assert_true(has(&f->g->recipe_files, "build.lua"));
  assert_true(has(&f->g->recipe_files, "svc/build.lua"));
  char *err = NULL;
  assert_int_equal(graph_resolve(f->g, &err), 0); /* deps by name across files */
}

static void read_records_the_file_as_a_recipe_input(void **state) {
  fixture *f = *state;
  ut_put("VERSION", "1.2.3");
  ut_put("svc/conf.txt", "svc-conf");
  ut_put("svc/build.lua", "target 'svc' { run = { 'echo', read('conf.txt') } }\n");
  loaded(f, "local v = read('VERSION')\n"
            "target 'tag' { run = { 'echo', v } }\n"
            "include 'svc/build.lua'\n");
  assert_string_equal(graph_find(f->g, "tag")->argv.v[1], "1.2.3");
  assert_string_equal(graph_find(f->g, "svc")->argv.v[1], "svc-conf");
  assert_true(has(&f->g->recipe_files, "VERSION"));
  assert_true(has(&f->g->recipe_files, "svc/conf.txt"));
}

/* python.service checks that gunicorn's app:app exists without reading
 * app.py: an edit of the app is no recipe change (dbx dev syncs it), its
 * folder's listing is (the recipe runs again when the file comes or goes). */
static void a_service_s_command_check_reads_no_module(void **state) {
  fixture *f = *state;
  ut_put("requirements.txt", "gunicorn==23.0.0\n");
  ut_put("app.py", "app = None\n");
  loaded(f, "local python = require 'dbx.python'\n"
            "python.service 'web' { cmd = { 'gunicorn', 'app:app' } }\n");
  assert_non_null(graph_find(f->g, "web/prod"));
  assert_false(has(&f->g->recipe_files, "app.py"));
  assert_true(has(&f->g->recipe_dirs, "."));
  unlink("app.py");
  expect_error(f, "local python = require 'dbx.python'\n"
                  "python.service 'web' { cmd = { 'gunicorn', 'app:app' } }\n",
               PARTS("build.lua:2:", "names app, which is neither in the project's tree nor one of its dependencies"));
}

static void read_of_a_missing_file_names_it(void **state) {
  fixture *f = *state;
  expect_error(f, "local v = read('NOPE')\n", PARTS("build.lua:1:", "NOPE"));
}

static void paths_outside_the_project_are_refused(void **state) {
  fixture *f = *state;
  expect_error(f, "target 't' { inputs = { '../secret' }, run = { 'true' } }\n",
               PARTS("'t'", "../secret", "outside the project"));
  expect_error(f, "local s = read('../../etc/passwd')\n", PARTS("outside the project"));
}

static const recipe_limits SMALL = {200000, (size_t)64 << 20};

static void endless_loop_is_stopped(void **state) {
  fixture *f = *state;
  if (load_with(f, "local n = 0\nwhile true do n = n + 1 end\n", &SMALL) == 0)
    fail_msg("the loop ended by itself?");
  if (!strstr(f->err, "build.lua:2:") || !strstr(f->err, "endless loop"))
    fail_msg("unexpected message: %s", f->err);
}

/* The same loop with pcall around it: the limit must still hold. Run in a
 * child with an alarm so that a recipe that is never stopped fails the
 * test instead of hanging it. */
static void endless_loop_inside_pcall_is_stopped(void **state) {
  fixture *f = *state;
  ut_put("build.lua",
         "while true do\n"
         "  pcall(function() while true do end end)\n"
         "end\n");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(2);
    char *err = NULL;
    int rc = recipe_load("build.lua", f->g, &SMALL, &err);
    _exit(rc < 0 && err && strstr(err, "endless loop") ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
    fail_msg("a recipe that catches the step-limit error with pcall runs forever");
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

static void memory_hog_is_stopped(void **state) {
  fixture *f = *state;
  recipe_limits lim = {recipe_default_limits.max_steps, (size_t)16 << 20};
  if (load_with(f,
                "local t = {}\n"
                "for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n",
                &lim) == 0)
    fail_msg("the recipe was not stopped");
  assert_non_null(strstr(f->err, "16 MiB"));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(targets_are_loaded_with_deps_inputs_and_params),
      T(missing_literal_input_is_kept_for_the_build_to_report),
      T(syntax_error_names_file_and_line),
      T(runtime_error_has_a_recipe_only_traceback),
      T(unknown_field_suggests_the_closest),
      T(wrong_field_type_names_field_and_target),
      T(duplicate_target_names_both_places),
      T(duplicate_across_files_names_both_files),
      T(os_execute_is_unavailable),
      T(io_popen_is_unavailable),
      T(files_cannot_be_written_or_code_loaded),
      T(unknown_name_suggests_the_closest),
      T(include_makes_paths_relative_to_its_folder),
      T(read_records_the_file_as_a_recipe_input),
      T(a_service_s_command_check_reads_no_module),
      T(read_of_a_missing_file_names_it),
      T(paths_outside_the_project_are_refused),
      T(endless_loop_is_stopped),
      T(endless_loop_inside_pcall_is_stopped),
      T(memory_hog_is_stopped),
  };
  return cmocka_run_group_tests_name("recipe", tests, NULL, NULL);
}
