/* glob: which files an input pattern names, over a small project tree. */
#include "unit.h"

#include "glob.h"

static int setup(void **state) {
  ut_tmpdir *t = xcalloc(1, sizeof *t);
  if (ut_tmpdir_open(t, 1) < 0) return -1;
  const char *files[] = {
      "a.py", "b.py", "ab.py", "notes.txt", "src/x.py", "src/sub/y.py", "src/sub/deep/z.py",
      "src/sub/readme.md", ".git/hooks/h.py", ".git/config", ".dbx/store", "src/.dbx/cache.py",
  };
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) ut_put(files[i], "x\n");
  *state = t;
  return 0;
}

static int teardown(void **state) {
  ut_tmpdir_close(*state);
  free(*state);
  return 0;
}

/* Expand pattern and compare the sorted result with want (NULL-terminated). */
static void expect_expansion(const char *pattern, const char *const *want) {
  strvec out = {0};
  size_t n = glob_expand(pattern, &out);
  assert_int_equal(n, out.n);
  sv_sort_uniq(&out);
  assert_int_equal(out.n, n); /* no path twice */
  size_t i = 0;
  for (; want[i]; i++) {
    if (i >= out.n) fail_msg("%s: missing %s", pattern, want[i]);
    if (strcmp(out.v[i], want[i]) != 0)
      fail_msg("%s: item %zu is %s, expected %s", pattern, i, out.v[i], want[i]);
  }
  if (out.n != i) fail_msg("%s: %zu extra paths, first %s", pattern, out.n - i, out.v[i]);
  sv_free(&out);
}

static void star_stays_within_one_folder(void **state) {
  (void)state;
  expect_expansion("*.py", (const char *[]){"a.py", "ab.py", "b.py", NULL});
  expect_expansion("src/*.py", (const char *[]){"src/x.py", NULL});
  expect_expansion("src/*/y.py", (const char *[]){"src/sub/y.py", NULL});
}

static void question_mark_is_one_character(void **state) {
  (void)state;
  expect_expansion("?.py", (const char *[]){"a.py", "b.py", NULL});
  expect_expansion("a?.py", (const char *[]){"ab.py", NULL});
}

static void brackets_pick_characters(void **state) {
  (void)state;
  expect_expansion("[b].py", (const char *[]){"b.py", NULL});
}

static void double_star_spans_zero_or_more_folders(void **state) {
  (void)state;
  expect_expansion("src/**/*.py",
                   (const char *[]){"src/sub/deep/z.py", "src/sub/y.py", "src/x.py", NULL});
  expect_expansion("**/y.py", (const char *[]){"src/sub/y.py", NULL});
  expect_expansion("src/**", (const char *[]){"src/sub/deep/z.py", "src/sub/readme.md",
                                              "src/sub/y.py", "src/x.py", NULL});
}

static void walks_skip_git_and_dbx(void **state) {
  (void)state;
  expect_expansion("**/*.py", (const char *[]){"a.py", "ab.py", "b.py", "src/sub/deep/z.py",
                                               "src/sub/y.py", "src/x.py", NULL});
  expect_expansion("**", (const char *[]){"a.py", "ab.py", "b.py", "notes.txt",
                                          "src/sub/deep/z.py", "src/sub/readme.md",
                                          "src/sub/y.py", "src/x.py", NULL});
  expect_expansion("*/config", (const char *[]){NULL});
}

static void no_match_appends_nothing(void **state) {
  (void)state;
  expect_expansion("*.rs", (const char *[]){NULL});
  expect_expansion("nowhere/**/*.py", (const char *[]){NULL});
}

static void literal_paths_are_kept_even_when_missing(void **state) {
  (void)state;
  /* kept unchecked, so the build can say a missing file is missing */
  expect_expansion("missing.txt", (const char *[]){"missing.txt", NULL});
  expect_expansion("notes.txt", (const char *[]){"notes.txt", NULL});
  expect_expansion("src/gone/x.py", (const char *[]){"src/gone/x.py", NULL});
}

static void links_to_folders_are_not_followed(void **state) {
  (void)state;
  assert_int_equal(symlink("..", "src/up"), 0); /* would loop forever if followed */
  expect_expansion("src/**/*.py",
                   (const char *[]){"src/sub/deep/z.py", "src/sub/y.py", "src/x.py", NULL});
}

/* A committed link whose target is missing matches no glob (nothing could be
 * read from it) and is handed back to be warned about; a link to a file is
 * a file; a literal path is kept unchecked, link or not. */
static void links_that_lead_nowhere_are_left_out_and_noted(void **state) {
  (void)state;
  assert_int_equal(symlink("missing-file", "src/sub/gone"), 0);
  assert_int_equal(symlink("x.py", "src/alias.py"), 0);
  assert_int_equal(symlink("loop", "src/loop"), 0);
  const char *all[] = {"**", "src/**", "src/*/*", "src/*/gone", "src/**/gone", NULL};
  for (size_t i = 0; all[i]; i++) {
    strvec out = {0}, dangling = {0};
    char *err = NULL;
    glob_expand_logged(all[i], &out, NULL, &dangling, &err);
    assert_null(err);
    for (size_t k = 0; k < out.n; k++)
      if (strstr(out.v[k], "gone") || strstr(out.v[k], "loop")) fail_msg("%s: matched %s", all[i], out.v[k]);
    int noted = 0;
    for (size_t k = 0; k < dangling.n; k++) noted |= strcmp(dangling.v[k], "src/sub/gone") == 0;
    if (!noted) fail_msg("%s: src/sub/gone not noted", all[i]);
    sv_free(&out);
    sv_free(&dangling);
  }
  strvec dangling = {0};
  char *err = NULL;
  strvec out = {0};
  glob_expand_logged("**", &out, NULL, &dangling, &err);
  sv_sort_uniq(&dangling);
  assert_int_equal(dangling.n, 2); /* a link to itself leads nowhere too */
  assert_string_equal(dangling.v[0], "src/loop");
  sv_free(&out);
  sv_free(&dangling);
  expect_expansion("src/*.py", (const char *[]){"src/alias.py", "src/x.py", NULL});
  expect_expansion("src/sub/gone", (const char *[]){"src/sub/gone", NULL});
  expect_expansion("src/sub/*", (const char *[]){"src/sub/readme.md", "src/sub/y.py", NULL});
}

static void match_agrees_with_expansion(void **state) {
  (void)state;
  assert_true(glob_match("*.py", "a.py"));
  assert_false(glob_match("*.py", "src/x.py"));
  assert_true(glob_match("src/**/*.py", "src/x.py"));
  assert_true(glob_match("src/**/*.py", "src/a/b/c.py"));
  assert_false(glob_match("src/**/*.py", "lib/x.py"));
  assert_true(glob_match("src/**", "src/a/b"));
  assert_true(glob_match("**", "anything/at/all"));
  assert_true(glob_match("a?.py", "ab.py"));
  assert_false(glob_match("a?.py", "a.py"));
  assert_true(glob_has_magic("src/*.c"));
  assert_true(glob_has_magic("[ab].c"));
  assert_false(glob_has_magic("src/main.c"));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(star_stays_within_one_folder),
      T(question_mark_is_one_character),
      T(brackets_pick_characters),
      T(double_star_spans_zero_or_more_folders),
      T(walks_skip_git_and_dbx),
      T(no_match_appends_nothing),
      T(literal_paths_are_kept_even_when_missing),
      T(links_to_folders_are_not_followed),
      T(links_that_lead_nowhere_are_left_out_and_noted),
      cmocka_unit_test(match_agrees_with_expansion),
  };
  return cmocka_run_group_tests_name("glob", tests, NULL, NULL);
}
