/* util: strings, string vectors, paths, whole-file IO and name hints. */
#include "unit.h"

#include <dirent.h>

static int setup(void **state) { return ut_setup_tmpdir(state); }

static int teardown(void **state) { return ut_teardown_tmpdir(state); }

static void asprintf_handles_long_output(void **state) {
  (void)state;
  char big[1000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  char *s = xasprintf("<%s>%d", big, 42);
  assert_int_equal(strlen(s), 999 + 4);
  assert_int_equal(s[0], '<');
  assert_string_equal(s + 1000, ">42");
  free(s);
}

static void strbuf_grows_and_hands_over(void **state) {
  (void)state;
  strbuf sb = {0};
  for (int i = 0; i < 500; i++) sb_addf(&sb, "%d,", i);
  sb_addc(&sb, '!');
  char *s = sb_take(&sb);
  assert_null(sb.buf);
  assert_int_equal(sb.len, 0);
  assert_memory_equal(s, "0,1,2,", 6);
  assert_string_equal(s + strlen(s) - 5, "499,!");
  free(s);

  char *empty = sb_take(&sb);
  assert_string_equal(empty, "");
  free(empty);
}

static void json_strings_are_escaped(void **state) {
  (void)state;
  strbuf sb = {0};
  sb_add_json_str(&sb, "a\"b\\c\nd\te\x01");
  assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  sb_free(&sb);
}

static void strvec_sorts_and_drops_duplicates(void **state) {
  (void)state;
  strvec sv = {0};
  const char *in[] = {"b", "a", "c", "a", "b", "B"};
  for (size_t i = 0; i < 6; i++) sv_push(&sv, in[i]);
  sv_sort_uniq(&sv);
  assert_int_equal(sv.n, 4);
  assert_string_equal(sv.v[0], "B");
  assert_string_equal(sv.v[1], "a");
  assert_string_equal(sv.v[2], "b");
  assert_string_equal(sv.v[3], "c");
  sv_free(&sv);
  assert_int_equal(sv.n, 0);
}

static void path_join_treats_dot_and_empty_as_here(void **state) {
  (void)state;
  struct { const char *a, *b, *want; } cases[] = {
      {"", "x", "x"},       {".", "x", "x"},     {"a", "x", "a/x"},
      {"a/", "x", "a/x"},   {"a", "", "a"},      {"a", ".", "a"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *j = path_join(cases[i].a, cases[i].b);
    assert_string_equal(j, cases[i].want);
    free(j);
  }
}

static void path_norm_rel_folds_and_refuses_escapes(void **state) {
  (void)state;
  struct { const char *in, *want; } ok[] = {
      {"a/b", "a/b"}, {"./a//b/", "a/b"}, {"a/../b", "b"}, {"a/b/../../c", "c"}, {".", ""},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    char *n = path_norm_rel(ok[i].in);
    assert_non_null(n);
    assert_string_equal(n, ok[i].want);
    free(n);
  }
  assert_null(path_norm_rel("/etc/passwd"));
  assert_null(path_norm_rel("../x"));
  assert_null(path_norm_rel("a/../../x"));
}

static void files_roundtrip_and_missing_is_enoent(void **state) {
  (void)state;
  assert_int_equal(mkdir_p("deep/er/still"), 0);
  assert_int_equal(mkdir_p("deep/er/still"), 0); /* existing is fine */

  const char data[] = "hello\0world"; /* bytes, not a C string */
  assert_int_equal(write_file_atomic("deep/er/still/f", data, sizeof data), 0);
  char *back;
  size_t len;
  assert_int_equal(read_file("deep/er/still/f", &back, &len), 0);
  assert_int_equal(len, sizeof data);
  assert_memory_equal(back, data, sizeof data);
  free(back);

  assert_int_equal(read_file("nope", &back, &len), -ENOENT);
}

static void write_file_atomic_replaces_and_leaves_no_temp(void **state) {
  (void)state;
  ut_put("f", "old contents that are longer");
  assert_int_equal(write_file_atomic("f", "new", 3), 0);
  char *s = ut_slurp("f");
  assert_string_equal(s, "new");
  free(s);

  /* only f remains in the folder */
  int others = 0;
  DIR *d = opendir(".");
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.' && strcmp(e->d_name, "f") != 0) others++;
  closedir(d);
  assert_int_equal(others, 0);

  assert_true(write_file_atomic("no/such/dir/f", "x", 1) < 0);
}

static void edit_distance_counts_edits(void **state) {
  (void)state;
  assert_int_equal(edit_distance("kitten", "sitting"), 3);
  assert_int_equal(edit_distance("", "abc"), 3);
  assert_int_equal(edit_distance("same", "same"), 0);
}

static void closest_name_suggests_only_plausible_names(void **state) {
  (void)state;
  const char *names[] = {"build", "test", "deploy"};
  assert_string_equal(closest_name("biuld", names, 3), "build");
  assert_string_equal(closest_name("deplyo", names, 3), "deploy");
  assert_null(closest_name("zebra", names, 3));
  assert_null(closest_name("x", names, 0));
}

static void now_ms_moves_forward(void **state) {
  (void)state;
  uint64_t a = now_ms();
  usleep(20000);
  uint64_t b = now_ms();
  assert_true(b >= a + 15);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(asprintf_handles_long_output),
      cmocka_unit_test(strbuf_grows_and_hands_over),
      cmocka_unit_test(json_strings_are_escaped),
      cmocka_unit_test(strvec_sorts_and_drops_duplicates),
      cmocka_unit_test(path_join_treats_dot_and_empty_as_here),
      cmocka_unit_test(path_norm_rel_folds_and_refuses_escapes),
      cmocka_unit_test_setup_teardown(files_roundtrip_and_missing_is_enoent, setup, teardown),
      cmocka_unit_test_setup_teardown(write_file_atomic_replaces_and_leaves_no_temp, setup,
                                      teardown),
      cmocka_unit_test(edit_distance_counts_edits),
      cmocka_unit_test(closest_name_suggests_only_plausible_names),
      cmocka_unit_test(now_ms_moves_forward),
  };
  return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
