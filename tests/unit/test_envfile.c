/* envfile: .env files as dbx dev reads them. */
#include "unit.h"

#include "envfile.h"

static char *parse_ok(const char *text) {
  strvec out = {0};
  char *err = NULL;
  assert_int_equal(envfile_parse(text, &out, &err), 0);
  assert_null(err);
  strbuf sb = {0};
  sb_adds(&sb, "");
  for (size_t i = 0; i < out.n; i++) sb_addf(&sb, "%s|", out.v[i]);
  sv_free(&out);
  return sb.buf;
}

static char *parse_err(const char *text) {
  strvec out = {0};
  sv_push(&out, "KEPT=1");
  char *err = NULL;
  assert_int_equal(envfile_parse(text, &out, &err), -1);
  assert_non_null(err);
  assert_int_equal(out.n, 1); /* nothing of a bad file is taken */
  assert_string_equal(out.v[0], "KEPT=1");
  sv_free(&out);
  return err;
}

static void plain_lines_comments_and_export(void **state) {
  (void)state;
  char *s = parse_ok("# settings\n\nA=1\nexport B = two words \nC=\n  D=x#not-a-comment\nE=y # a comment\n");
  assert_string_equal(s, "A=1|B=two words|C=|D=x#not-a-comment|E=y|");
  free(s);
}

static void quoted_values_are_taken_as_written(void **state) {
  (void)state;
  char *s = parse_ok("P=\"pa$$ \\\"w\\\" # not a comment\"\nQ='${HOME} stays'\nN=\"line1\\nline2\"\n");
  assert_string_equal(s, "P=pa$$ \"w\" # not a comment|Q=${HOME} stays|N=line1\nline2|");
  free(s);
}

static void later_names_override_earlier_and_crlf_is_read(void **state) {
  (void)state;
  char *s = parse_ok("A=1\r\nB=2\r\nA=3\r\n");
  assert_string_equal(s, "A=3|B=2|");
  free(s);
}

static void a_bad_line_is_named(void **state) {
  (void)state;
  char *e = parse_err("A=1\nnot a setting\n");
  assert_string_equal(e, "line 2: expected '=' after the name");
  free(e);
  e = parse_err("A=1\n\nB=\"open\n");
  assert_string_equal(e, "line 3: a quoted value does not close");
  free(e);
  e = parse_err("1A=x\n");
  assert_string_equal(e, "line 1: expected NAME=value");
  free(e);
  e = parse_err("A='x' y\n");
  assert_string_equal(e, "line 1: text after a quoted value");
  free(e);
}

static void reading_a_file(void **state) {
  (void)state;
  char dir[] = "/tmp/dbx-envfile-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *path = xasprintf("%s/.env", dir);
  strvec out = {0};
  char *err = NULL;
  assert_int_equal(envfile_read(path, &out, &err), -ENOENT);
  assert_null(err);
  FILE *f = fopen(path, "w");
  fputs("GREETING=hi\nbad\n", f);
  fclose(f);
  assert_true(envfile_read(path, &out, &err) < 0);
  char *want = xasprintf("%s:2: expected '=' after the name", path);
  assert_string_equal(err, want);
  free(want), free(err), err = NULL;
  f = fopen(path, "w");
  fputs("GREETING=hi\n", f);
  fclose(f);
  assert_int_equal(envfile_read(path, &out, &err), 0);
  assert_int_equal(out.n, 1);
  assert_string_equal(out.v[0], "GREETING=hi");
  sv_free(&out);
  unlink(path);
  rmdir(dir);
  free(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_lines_comments_and_export),
      cmocka_unit_test(quoted_values_are_taken_as_written),
      cmocka_unit_test(later_names_override_earlier_and_crlf_is_read),
      cmocka_unit_test(a_bad_line_is_named),
      cmocka_unit_test(reading_a_file),
  };
  return cmocka_run_group_tests_name("envfile", tests, NULL, NULL);
}
