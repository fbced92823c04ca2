/* key: every field that shapes a result changes the key, nothing else does
 * (not the order of a glob's matches, not where the project lives), and the
 * manifest lets `explain` say what changed. */
#include "unit.h"

#include "graph.h"
#include "key.h"
#include "recipe.h"

#define KEY_LIB "1111111111111111111111111111111111111111111111111111111111111111"
#define KEY_LIB2 "2222222222222222222222222222222222222222222222222222222222222222"
#define KEY_OLD "3333333333333333333333333333333333333333333333333333333333333333"
#define KEY_TOOL "4444444444444444444444444444444444444444444444444444444444444444"

/* One cmd target "app" as a recipe would give it, with room to change it. */
typedef struct {
  graph *g;
  target *t;
  unsigned char digests[8][HASH_LEN];
  const char *dep_keys[8];
  ut_tmpdir dirs[3]; /* temp projects, removed in teardown even when a test fails */
} fixture;

static void set_digest(fixture *f, size_t i, const char *content) {
  hash_buf(content, strlen(content), f->digests[i]);
}

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  f->g = graph_new();
  f->t = graph_add(f->g, "app", KIND_CMD, NULL);
  f->t->where = xstrdup("build.lua:1");
  target_param(f->t, "run", "[\"cc\",\"-c\"]");
  target_param(f->t, "cwd", ".");
  sv_push(&f->t->inputs, "a.c");
  sv_push(&f->t->inputs, "b.c");
  set_digest(f, 0, "int a;");
  set_digest(f, 1, "int b;");
  sv_push(&f->t->deps, "lib");
  f->dep_keys[0] = KEY_LIB;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  for (int i = 2; i >= 0; i--) ut_tmpdir_close(&f->dirs[i]);
  graph_free(f->g);
  free(f);
  return 0;
}

static key_src src_of(fixture *f) {
  return (key_src){f->t, (const unsigned char(*)[HASH_LEN])f->digests, f->dep_keys};
}

static void key_of(fixture *f, char out[HASH_HEX]) {
  key_src src = src_of(f);
  key_compute(&src, out);
}

static void key_is_deterministic(void **state) {
  char a[HASH_HEX], b[HASH_HEX], c[HASH_HEX];
  key_of(*state, a);
  key_of(*state, b);
  assert_string_equal(a, b);
  assert_int_equal(strlen(a), 64);

  /* the same description built again from scratch */
  void *other;
  setup(&other);
  key_of(other, c);
  teardown(&other);
  assert_string_equal(a, c);
}

/* Each change to one field of a fresh fixture. */
static void ch_kind(fixture *f) { f->t->kind = KIND_IMAGE; }
static void ch_param_value(fixture *f) {
  free(f->t->params[1].value); /* params sorted: cwd, run */
  f->t->params[1].value = xstrdup("[\"cc\",\"-O2\"]");
}
static void ch_param_name(fixture *f) {
  free(f->t->params[0].name);
  f->t->params[0].name = xstrdup("dir"); /* still sorted before "run" */
}
static void ch_param_added(fixture *f) { target_param(f->t, "env.CC", "gcc"); }
static void ch_input_path(fixture *f) {
  free(f->t->inputs.v[0]);
  f->t->inputs.v[0] = xstrdup("a2.c"); /* same bytes under another name */
}
static void ch_input_digest(fixture *f) { set_digest(f, 0, "int a = 1;"); }
static void ch_input_added(fixture *f) {
  sv_push(&f->t->inputs, "c.c");
  set_digest(f, 2, "int c;");
}
static void ch_dep_key(fixture *f) { f->dep_keys[0] = KEY_LIB2; }
static void ch_dep_added(fixture *f) {
  sv_push(&f->t->deps, "tool");
  f->dep_keys[1] = KEY_TOOL;
}

static void every_field_changes_the_key(void **state) {
  (void)state;
  struct {
    const char *what;
    void (*change)(fixture *);
  } cases[] = {
      {"unchanged", NULL},
      {"kind", ch_kind},
      {"param value", ch_param_value},
      {"param name", ch_param_name},
      {"param added", ch_param_added},
      {"input path", ch_input_path},
      {"input digest", ch_input_digest},
      {"input added", ch_input_added},
      {"dependency key", ch_dep_key},
      {"dependency added", ch_dep_added},
  };
  enum { N = sizeof cases / sizeof *cases };
  char keys[N][HASH_HEX];
  for (size_t i = 0; i < N; i++) {
    void *f;
    setup(&f);
    if (cases[i].change) cases[i].change(f);
    key_of(f, keys[i]);
    teardown(&f);
  }
  for (size_t i = 0; i < N; i++)
    for (size_t j = i + 1; j < N; j++)
      if (strcmp(keys[i], keys[j]) == 0)
        fail_msg("changing %s and %s give the same key", cases[i].what, cases[j].what);
}

static void field_boundaries_are_part_of_the_encoding(void **state) {
  fixture *f = *state;
  char a[HASH_HEX], b[HASH_HEX];
  target_param(f->t, "ab", "c");
  key_of(f, a);
  free(f->t->params[0].name);
  free(f->t->params[0].value);
  f->t->params[0].name = xstrdup("a");
  f->t->params[0].value = xstrdup("bc");
  key_of(f, b);
  assert_string_not_equal(a, b);
}

static void order_deps_are_listed_in_does_not_matter(void **state) {
  fixture *f = *state;
  char a[HASH_HEX], b[HASH_HEX];
  sv_push(&f->t->deps, "tool");
  f->dep_keys[1] = KEY_TOOL;
  key_of(f, a);
  /* the same two dependencies, listed the other way round */
  char *first = f->t->deps.v[0];
  f->t->deps.v[0] = f->t->deps.v[1];
  f->t->deps.v[1] = first;
  f->dep_keys[0] = KEY_TOOL;
  f->dep_keys[1] = KEY_LIB;
  key_of(f, b);
  assert_string_equal(a, b);
}

/* ---- keys of real recipes, loaded in temp projects ---- */

/* Load ./build.lua and compute every target's key into keys (by graph index). */
static graph *load_and_key(char (*keys)[HASH_HEX], size_t max) {
  graph *g = graph_new();
  char *err = NULL;
  if (recipe_load("build.lua", g, NULL, &err) < 0) fail_msg("recipe: %s", err);
  if (graph_resolve(g, &err) < 0) fail_msg("graph: %s", err);
  assert_true(g->n <= max);
  size_t *all = xmalloc(g->n * sizeof *all), n;
  for (size_t i = 0; i < g->n; i++) all[i] = i;
  size_t *order = graph_closure(g, all, g->n, &n);
  for (size_t k = 0; k < n; k++) {
    target *t = g->t[order[k]];
    hash_item *items = xcalloc(t->inputs.n + 1, sizeof *items);
    unsigned char(*digests)[HASH_LEN] = xcalloc(t->inputs.n + 1, HASH_LEN);
    const char **dk = xcalloc(t->deps.n + 1, sizeof *dk);
    for (size_t i = 0; i < t->inputs.n; i++) items[i].path = t->inputs.v[i];
    hash_items_sync(NULL, items, t->inputs.n);
    for (size_t i = 0; i < t->inputs.n; i++) {
      assert_int_equal(items[i].err, 0);
      memcpy(digests[i], items[i].digest, HASH_LEN);
    }
    for (size_t d = 0; d < t->deps.n; d++) dk[d] = keys[t->dep_idx[d]];
    key_src src = {t, (const unsigned char(*)[HASH_LEN])digests, dk};
    key_compute(&src, keys[order[k]]);
    free(items);
    free(digests);
    free(dk);
  }
  free(order);
  free(all);
  return g;
}

static const char *key_named(graph *g, char (*keys)[HASH_HEX], const char *name) {
  target *t = graph_find(g, name);
  assert_non_null(t);
  return keys[graph_index(g, t)];
}

static void glob_match_order_does_not_matter(void **state) {
  fixture *f = *state;
  assert_int_equal(ut_tmpdir_open(&f->dirs[0], 1), 0);
  ut_put("src/c.c", "int c;\n");
  ut_put("src/a.c", "int a;\n");
  ut_put("src/b.c", "int b;\n");
  ut_put("build.lua",
         "target 'globbed' { inputs = { 'src/*.c' }, run = { 'cc' } }\n"
         "target 'listed' { inputs = { 'src/c.c', 'src/a.c', 'src/b.c' }, run = { 'cc' } }\n"
         "target 'overlap' { inputs = { 'src/b.c', 'src/*.c', 'src/a.c' }, run = { 'cc' } }\n"
         "target 'fewer' { inputs = { 'src/a.c', 'src/b.c' }, run = { 'cc' } }\n");
  char keys[8][HASH_HEX];
  graph *g = load_and_key(keys, 8);
  assert_string_equal(key_named(g, keys, "globbed"), key_named(g, keys, "listed"));
  assert_string_equal(key_named(g, keys, "globbed"), key_named(g, keys, "overlap"));
  assert_string_not_equal(key_named(g, keys, "globbed"), key_named(g, keys, "fewer"));
  graph_free(g);
}

static const char *ROOT_RECIPE =
    "include 'svc/build.lua'\n"
    "target 'gen' {\n"
    "  inputs = { 'data/*.txt' },\n"
    "  run = { 'sh', '-c', 'cat data/*.txt > out.txt' },\n"
    "  outputs = { 'out.txt' },\n"
    "}\n";
static const char *SVC_RECIPE =
    "target 'svc' { deps = { 'gen' }, inputs = { '**/*.py' }, run = { 'python3', 'main.py' } }\n";

/* Write the same small project into a new temp folder (entered); files are
 * created in a different order each time, and data/1.txt holds one. */
static void write_project(ut_tmpdir *dir, int reversed, const char *one) {
  assert_int_equal(ut_tmpdir_open(dir, 1), 0);
  const char *files[][2] = {
      {"build.lua", ROOT_RECIPE}, {"svc/build.lua", SVC_RECIPE}, {"data/1.txt", one},
      {"data/2.txt", "two\n"},     {"svc/main.py", "print(1)\n"}, {"svc/lib/util.py", "x = 1\n"},
  };
  size_t n = sizeof files / sizeof *files;
  for (size_t i = 0; i < n; i++) {
    size_t k = reversed ? n - 1 - i : i;
    ut_put(files[k][0], files[k][1]);
  }
}

static void project_location_does_not_enter_the_key(void **state) {
  fixture *f = *state;
  char k1[8][HASH_HEX], k2[8][HASH_HEX], k3[8][HASH_HEX];

  write_project(&f->dirs[0], 0, "one\n");
  graph *g1 = load_and_key(k1, 8);
  write_project(&f->dirs[1], 1, "one\n"); /* entered from the first: a different path */
  graph *g2 = load_and_key(k2, 8);
  assert_string_not_equal(f->dirs[0].path, f->dirs[1].path);

  assert_string_equal(key_named(g1, k1, "gen"), key_named(g2, k2, "gen"));
  assert_string_equal(key_named(g1, k1, "svc"), key_named(g2, k2, "svc"));

  /* control: one changed byte in gen's input changes gen and, through it, svc */
  write_project(&f->dirs[2], 0, "One\n");
  graph *g3 = load_and_key(k3, 8);
  assert_string_not_equal(key_named(g1, k1, "gen"), key_named(g3, k3, "gen"));
  assert_string_not_equal(key_named(g1, k1, "svc"), key_named(g3, k3, "svc"));

  graph_free(g1);
  graph_free(g2);
  graph_free(g3);
}

/* ---- manifests and explain ---- */

static int has(const strvec *sv, const char *s) {
  for (size_t i = 0; i < sv->n; i++)
    if (strcmp(sv->v[i], s) == 0) return 1;
  return 0;
}

static void expect_reason(const strvec *sv, const char *s) {
  if (has(sv, s)) return;
  for (size_t i = 0; i < sv->n; i++) print_message("  reason: %s\n", sv->v[i]);
  fail_msg("no reason \"%s\"", s);
}

static void manifest_is_one_line_of_json(void **state) {
  fixture *f = *state;
  target_param(f->t, "script", "line one\nline \"two\"");
  key_src src = src_of(f);
  char *m = key_manifest(&src);
  assert_null(strchr(m, '\n'));
  assert_int_equal(m[0], '{');
  assert_non_null(strstr(m, "\"a.c\""));
  assert_non_null(strstr(m, KEY_LIB));
  free(m);
}

static void nothing_changed_gives_no_reasons(void **state) {
  fixture *f = *state;
  key_src src = src_of(f);
  char *m = key_manifest(&src);
  strvec reasons = {0};
  assert_int_equal(key_diff(m, &src, &reasons), 0);
  assert_int_equal(reasons.n, 0);
  free(m);
}

static void diff_names_every_added_removed_and_changed_field(void **state) {
  fixture *f = *state;
  sv_push(&f->t->deps, "old");
  f->dep_keys[1] = KEY_OLD;
  key_src src = src_of(f);
  char *m = key_manifest(&src);

  /* now: a.c edited, b.c gone, c.c new; run changed, env.X new, cwd gone;
   * lib rebuilt, old dropped, tool new */
  set_digest(f, 0, "int a = 2;");
  free(f->t->inputs.v[1]);
  f->t->inputs.v[1] = xstrdup("c.c");
  set_digest(f, 1, "int c;");
  free(f->t->params[0].name); /* cwd -> env.X */
  free(f->t->params[0].value);
  f->t->params[0] = (param){xstrdup("env.X"), xstrdup("1")};
  free(f->t->params[1].value);
  f->t->params[1].value = xstrdup("[\"cc\",\"-O2\"]");
  f->dep_keys[0] = KEY_LIB2;
  free(f->t->deps.v[1]);
  f->t->deps.v[1] = xstrdup("tool");
  f->dep_keys[1] = KEY_TOOL;

  strvec reasons = {0};
  src = src_of(f);
  int n = key_diff(m, &src, &reasons);
  expect_reason(&reasons, "input a.c changed");
  expect_reason(&reasons, "input b.c removed");
  expect_reason(&reasons, "input c.c added");
  expect_reason(&reasons, "param run changed: '[\"cc\",\"-c\"]' -> '[\"cc\",\"-O2\"]'");
  expect_reason(&reasons, "param env.X added");
  expect_reason(&reasons, "param cwd removed");
  expect_reason(&reasons, "dependency lib changed (key 111111111111 -> 222222222222)");
  expect_reason(&reasons, "dependency tool added");
  expect_reason(&reasons, "dependency old removed");
  assert_int_equal(n, 9);
  assert_int_equal(reasons.n, 9);
  sv_free(&reasons);
  free(m);
}

static void diff_names_a_kind_change(void **state) {
  fixture *f = *state;
  key_src src = src_of(f);
  char *m = key_manifest(&src);
  f->t->kind = KIND_IMAGE;
  strvec reasons = {0};
  assert_int_equal(key_diff(m, &src, &reasons), 1);
  expect_reason(&reasons, "kind changed: cmd -> image");
  sv_free(&reasons);
  free(m);
}

static void unreadable_manifest_is_reported(void **state) {
  fixture *f = *state;
  key_src src = src_of(f);
  strvec reasons = {0};
  assert_int_equal(key_diff("{\"kind\": tor", &src, &reasons), -1);
  assert_int_equal(key_diff("[1,2]", &src, &reasons), -1);
  assert_int_equal(reasons.n, 0);
}

/* A long param (a Dockerfile, say) is recorded by digest; explain still says
 * it changed, and the sizes it quotes are those of the real values. */
static void long_param_change_is_explained_with_real_sizes(void **state) {
  fixture *f = *state;
  char *v300 = xmalloc(301), *v500 = xmalloc(501);
  memset(v300, 'x', 300);
  v300[300] = 0;
  memset(v500, 'y', 500);
  v500[500] = 0;
  target_param(f->t, "dockerfile", v300);
  key_src src = src_of(f);
  char *m = key_manifest(&src);
  assert_null(strstr(m, v300)); /* the value itself is not stored */

  free(f->t->params[1].value); /* cwd, dockerfile, run */
  f->t->params[1].value = v500;
  strvec reasons = {0};
  int n = key_diff(m, &src, &reasons);
  char reason[256] = "";
  if (reasons.n) snprintf(reason, sizeof reason, "%s", reasons.v[0]);
  sv_free(&reasons);
  free(m);
  free(v300);
  assert_int_equal(n, 1);
  assert_non_null(strstr(reason, "param dockerfile changed"));
  if (!strstr(reason, "300 bytes") || !strstr(reason, "500 bytes"))
    fail_msg("reason quotes wrong sizes: %s", reason);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(key_is_deterministic),
      cmocka_unit_test(every_field_changes_the_key),
      T(field_boundaries_are_part_of_the_encoding),
      T(order_deps_are_listed_in_does_not_matter),
      T(glob_match_order_does_not_matter),
      T(project_location_does_not_enter_the_key),
      T(manifest_is_one_line_of_json),
      T(nothing_changed_gives_no_reasons),
      T(diff_names_every_added_removed_and_changed_field),
      T(diff_names_a_kind_change),
      T(unreadable_manifest_is_reported),
      T(long_param_change_is_explained_with_real_sizes),
  };
  return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
