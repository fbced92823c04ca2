/* graph: targets, dependency resolution with hints, cycles named, closures
 * in dependency order. */
#include "unit.h"

#include "graph.h"

static int setup(void **state) {
  *state = graph_new();
  return 0;
}

static int teardown(void **state) {
  graph_free(*state);
  return 0;
}

/* Add a cmd target declared at build.lua:line depending on deps (NULL-terminated). */
static target *add(graph *g, const char *name, int line, const char *const *deps) {
  target *t = graph_add(g, name, KIND_CMD, NULL);
  assert_non_null(t);
  t->where = xasprintf("build.lua:%d", line);
  for (size_t i = 0; deps && deps[i]; i++) sv_push(&t->deps, deps[i]);
  return t;
}

#define DEPS(...) ((const char *const[]){__VA_ARGS__, NULL})

static size_t idx(graph *g, const char *name) { return graph_index(g, graph_find(g, name)); }

static void names_are_unique(void **state) {
  graph *g = *state;
  target *a = add(g, "app", 1, NULL);
  assert_null(graph_add(g, "app", KIND_IMAGE, NULL));
  assert_int_equal(g->n, 1);
  assert_ptr_equal(graph_find(g, "app"), a);
  assert_null(graph_find(g, "ap"));
  assert_int_equal(graph_index(g, a), 0);
  assert_string_equal(a->dir, "");
}

/* graph.h: "NULL (and *clash set to the existing one) when the name is taken",
 * so a caller can name where the first one was declared. */
static void duplicate_name_hands_back_the_existing_target(void **state) {
  graph *g = *state;
  add(g, "first", 1, NULL);
  target *a = add(g, "app", 3, NULL);
  target *clash = NULL;
  assert_null(graph_add(g, "app", KIND_CMD, &clash));
  assert_ptr_equal(clash, a);
  assert_string_equal(clash->where, "build.lua:3");
}

static void params_stay_sorted_by_name(void **state) {
  graph *g = *state;
  target *t = add(g, "t", 1, NULL);
  target_param(t, "run", "[\"cc\"]");
  target_param(t, "cwd", ".");
  target_param(t, "env.PATH", "/bin");
  target_param(t, "outputs", "[]");
  assert_int_equal(t->nparams, 4);
  assert_string_equal(t->params[0].name, "cwd");
  assert_string_equal(t->params[1].name, "env.PATH");
  assert_string_equal(t->params[2].name, "outputs");
  assert_string_equal(t->params[3].name, "run");
  assert_string_equal(t->params[3].value, "[\"cc\"]");
}

static void unknown_dependency_names_place_and_suggests(void **state) {
  graph *g = *state;
  add(g, "compile", 1, NULL);
  add(g, "link", 4, DEPS("compil"));
  char *err = NULL;
  assert_int_equal(graph_resolve(g, &err), -1);
  assert_non_null(err);
  assert_non_null(strstr(err, "build.lua:4"));
  assert_non_null(strstr(err, "'link'"));
  assert_non_null(strstr(err, "unknown target 'compil'"));
  assert_non_null(strstr(err, "did you mean 'compile'"));
  free(err);
}

static void unknown_dependency_without_a_close_name_has_no_hint(void **state) {
  graph *g = *state;
  add(g, "compile", 1, NULL);
  add(g, "link", 2, DEPS("zzzzzz"));
  char *err = NULL;
  assert_int_equal(graph_resolve(g, &err), -1);
  assert_non_null(strstr(err, "unknown target 'zzzzzz'"));
  assert_null(strstr(err, "did you mean"));
  free(err);
}

static void two_target_cycle_is_named(void **state) {
  graph *g = *state;
  add(g, "a", 1, DEPS("b"));
  add(g, "b", 2, DEPS("a"));
  char *err = NULL;
  assert_int_equal(graph_resolve(g, &err), -1);
  assert_non_null(strstr(err, "a -> b -> a"));
  free(err);
}

static void longer_cycle_is_named_without_the_path_into_it(void **state) {
  graph *g = *state;
  add(g, "entry", 1, DEPS("x"));
  add(g, "x", 2, DEPS("y"));
  add(g, "y", 3, DEPS("z"));
  add(g, "z", 4, DEPS("x"));
  char *err = NULL;
  assert_int_equal(graph_resolve(g, &err), -1);
  assert_non_null(strstr(err, "x -> y -> z -> x"));
  assert_null(strstr(err, "entry"));
  free(err);
}

static void self_dependency_is_a_cycle(void **state) {
  graph *g = *state;
  add(g, "loop", 7, DEPS("loop"));
  char *err = NULL;
  assert_int_equal(graph_resolve(g, &err), -1);
  assert_non_null(strstr(err, "loop -> loop"));
  assert_non_null(strstr(err, "build.lua:7"));
  free(err);
}

static void acyclic_graph_resolves(void **state) {
  graph *g = *state;
  add(g, "top", 1, DEPS("left", "right"));
  add(g, "left", 2, DEPS("base"));
  add(g, "right", 3, DEPS("base"));
  add(g, "base", 4, NULL);
  char *err = NULL;
  assert_int_equal(graph_resolve(g, &err), 0);
  assert_null(err);
  target *top = graph_find(g, "top");
  assert_int_equal(top->dep_idx[0], idx(g, "left"));
  assert_int_equal(top->dep_idx[1], idx(g, "right"));
}

/* Position of name in a closure, or fail. */
static size_t pos(graph *g, const size_t *order, size_t n, const char *name) {
  size_t want = idx(g, name);
  for (size_t i = 0; i < n; i++)
    if (order[i] == want) return i;
  fail_msg("%s is not in the closure", name);
  return 0;
}

static void closure_lists_dependencies_first_and_only_what_is_needed(void **state) {
  graph *g = *state;
  /* declared top-down, so declaration order is the wrong order */
  add(g, "top", 1, DEPS("left", "right"));
  add(g, "left", 2, DEPS("base"));
  add(g, "right", 3, DEPS("base"));
  add(g, "base", 4, NULL);
  add(g, "unrelated", 5, NULL);
  char *err = NULL;
  assert_int_equal(graph_resolve(g, &err), 0);

  size_t root = idx(g, "top"), n = 0;
  size_t *order = graph_closure(g, &root, 1, &n);
  assert_int_equal(n, 4);
  assert_true(pos(g, order, n, "base") < pos(g, order, n, "left"));
  assert_true(pos(g, order, n, "base") < pos(g, order, n, "right"));
  assert_true(pos(g, order, n, "left") < pos(g, order, n, "top"));
  assert_true(pos(g, order, n, "right") < pos(g, order, n, "top"));
  free(order);

  size_t roots[] = {idx(g, "left"), idx(g, "unrelated"), idx(g, "left")};
  order = graph_closure(g, roots, 3, &n);
  assert_int_equal(n, 3); /* base, left, unrelated: each once */
  assert_true(pos(g, order, n, "base") < pos(g, order, n, "left"));
  pos(g, order, n, "unrelated");
  free(order);
}

static void suggestions_and_kind_names(void **state) {
  graph *g = *state;
  add(g, "allocator/prod", 1, NULL);
  add(g, "allocator/dev", 2, NULL);
  assert_string_equal(graph_suggest(g, "allocator/prd"), "allocator/prod");
  assert_null(graph_suggest(g, "frontend"));
  assert_string_equal(kind_name(KIND_CMD), "cmd");
  assert_string_equal(kind_name(KIND_IMAGE), "image");
  assert_string_equal(kind_name(KIND_GROUP), "group");
}

static void build_arguments_get_values_or_defaults(void **state) {
  graph *g = *state;
  target *rel = graph_add(g, "rel", KIND_IMAGE, NULL), *other = graph_add(g, "other", KIND_IMAGE, NULL);
  sv_push(&rel->args, "VERSION");
  sv_push(&rel->args, "INDEX=https://pypi.org/simple");
  sv_push(&other->args, "INDEX=https://mirror");
  strvec given = {0};
  char *err = NULL;
  assert_int_equal(graph_apply_args(g, &given, &err), 0);
  assert_string_equal(target_missing_arg(rel), "VERSION");
  assert_null(target_missing_arg(other));
  assert_string_equal(target_get_param(rel, "build-arg.INDEX"), "https://pypi.org/simple");
  assert_null(target_get_param(rel, "build-arg.VERSION"));
  assert_string_equal(target_get_param(other, "build-arg.INDEX"), "https://mirror");
  sv_free(&given);
}

static void given_build_arguments_win_and_the_last_one_counts(void **state) {
  graph *g = *state;
  target *rel = graph_add(g, "rel", KIND_IMAGE, NULL);
  sv_push(&rel->args, "VERSION");
  sv_push(&rel->args, "INDEX=https://pypi.org/simple");
  strvec given = {0};
  sv_push(&given, "VERSION=1.0");
  sv_push(&given, "INDEX=http://127.0.0.1:8080/simple");
  sv_push(&given, "VERSION=1.2=rc"); /* the value keeps its own '=' */
  char *err = NULL;
  assert_int_equal(graph_apply_args(g, &given, &err), 0);
  assert_null(target_missing_arg(rel));
  assert_string_equal(target_get_param(rel, "build-arg.VERSION"), "1.2=rc");
  assert_string_equal(target_get_param(rel, "build-arg.INDEX"), "http://127.0.0.1:8080/simple");
  sv_free(&given);
}

static void a_build_argument_nobody_declares_is_refused_with_the_list(void **state) {
  graph *g = *state;
  target *rel = graph_add(g, "rel", KIND_IMAGE, NULL);
  sv_push(&rel->args, "PACKAGE_VERSION");
  strvec given = {0};
  sv_push(&given, "PACKAGE_VERSON=1");
  char *err = NULL;
  assert_int_equal(graph_apply_args(g, &given, &err), -1);
  assert_non_null(strstr(err, "--build-arg PACKAGE_VERSON: no target declares that build argument"));
  assert_non_null(strstr(err, "declared: PACKAGE_VERSION (rel)"));
  assert_null(target_get_param(rel, "build-arg.PACKAGE_VERSION"));
  free(err);
  err = NULL;
  sv_free(&given);
  sv_push(&given, "PACKAGE=1"); /* a prefix of a declared name is not that name */
  assert_int_equal(graph_apply_args(g, &given, &err), -1);
  free(err);
  sv_free(&given);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(names_are_unique),
      T(duplicate_name_hands_back_the_existing_target),
      T(params_stay_sorted_by_name),
      T(unknown_dependency_names_place_and_suggests),
      T(unknown_dependency_without_a_close_name_has_no_hint),
      T(two_target_cycle_is_named),
      T(longer_cycle_is_named_without_the_path_into_it),
      T(self_dependency_is_a_cycle),
      T(acyclic_graph_resolves),
      T(closure_lists_dependencies_first_and_only_what_is_needed),
      T(suggestions_and_kind_names),
      T(build_arguments_get_values_or_defaults),
      T(given_build_arguments_win_and_the_last_one_counts),
      T(a_build_argument_nobody_declares_is_refused_with_the_list),
  };
  return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
