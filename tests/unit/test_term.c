/* term: what a build prints — JSON events exactly as CI scripts read them,
 * plain lines for pipes and CI, colour only on a terminal without NO_COLOR. */
#include "unit.h"

#include "term.h"

typedef struct {
  ut_tmpdir dir;
  int saved_out, saved_err;
} fixture;

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 1) < 0) return -1;
  f->saved_out = f->saved_err = -1;
  unsetenv("CI");
  unsetenv("NO_COLOR");
  *state = f;
  return 0;
}

static void restore(fixture *f) {
  fflush(stdout);
  fflush(stderr);
  if (f->saved_out >= 0) dup2(f->saved_out, STDOUT_FILENO), close(f->saved_out);
  if (f->saved_err >= 0) dup2(f->saved_err, STDERR_FILENO), close(f->saved_err);
  f->saved_out = f->saved_err = -1;
}

static int teardown(void **state) {
  fixture *f = *state;
  restore(f);
  unsetenv("CI");
  unsetenv("NO_COLOR");
  ut_tmpdir_close(&f->dir);
  free(f);
  return 0;
}

/* Send stdout (and stderr) to fd until restore(). */
static void redirect(fixture *f, int out_fd, int err_fd) {
  fflush(stdout);
  fflush(stderr);
  f->saved_out = dup(STDOUT_FILENO);
  dup2(out_fd, STDOUT_FILENO);
  if (err_fd >= 0) {
    f->saved_err = dup(STDERR_FILENO);
    dup2(err_fd, STDERR_FILENO);
  }
}

/* Send stdout to the file "out" and stderr to "err". */
static void capture(fixture *f) {
  int out = open("out", O_WRONLY | O_CREAT | O_TRUNC, 0666);
  int err = open("err", O_WRONLY | O_CREAT | O_TRUNC, 0666);
  redirect(f, out, err);
  close(out);
  close(err);
}

#define KEY "9f2c000000000000000000000000000000000000000000000000000000000000"

static void json_events_match_the_documented_format(void **state) {
  fixture *f = *state;
  capture(f);
  term_init(PROGRESS_JSON, 0);
  term_plan(12, 3);
  term_start("allocator/deps", "image", KEY);
  term_line("allocator/deps", "Step 1/4"); /* output never mixes into the events */
  term_finish("allocator/deps", "built", 8123, KEY, NULL);
  term_finish("allocator/base", "cached", 0, KEY, NULL);
  term_done("ok", 3, 9, 0, 0, 9034);
  term_msg("a message for %s", "people");
  restore(f);
  assert_int_equal(term_mode(), PROGRESS_JSON);

  char *out = ut_slurp("out");
  assert_string_equal(
      out, "{\"event\":\"plan\",\"targets\":12,\"dirty\":3}\n"
           "{\"event\":\"start\",\"target\":\"allocator/deps\",\"kind\":\"image\",\"key\":\"" KEY "\"}\n"
           "{\"event\":\"finish\",\"target\":\"allocator/deps\",\"status\":\"built\",\"ms\":8123,"
           "\"key\":\"" KEY "\"}\n"
           "{\"event\":\"finish\",\"target\":\"allocator/base\",\"status\":\"cached\",\"ms\":0,"
           "\"key\":\"" KEY "\"}\n"
           "{\"event\":\"done\",\"status\":\"ok\",\"built\":3,\"cached\":9,\"failed\":0,"
           "\"skipped\":0,\"ms\":9034}\n");
  free(out);
  char *err = ut_slurp("err");
  assert_string_equal(err, "a message for people\n");
  free(err);
}

static void json_failure_carries_an_escaped_error(void **state) {
  fixture *f = *state;
  capture(f);
  term_init(PROGRESS_JSON, 0);
  term_finish("say \"hi\"", "failed", 5, NULL, "exit status 1\nsee log");
  restore(f);
  char *out = ut_slurp("out");
  assert_string_equal(out, "{\"event\":\"finish\",\"target\":\"say \\\"hi\\\"\",\"status\":\"failed\","
                           "\"ms\":5,\"key\":\"\",\"error\":\"exit status 1\\nsee log\"}\n");
  free(out);
}

static void plain_mode_prints_one_line_per_event(void **state) {
  fixture *f = *state;
  capture(f);
  term_init(PROGRESS_PLAIN, 0);
  term_plan(2, 1);
  term_start("gen", "cmd", KEY);
  term_line("gen", "hello");
  term_finish("gen", "failed", 1500, KEY, "exit status 2");
  term_finish("report", "skipped", 0, NULL, NULL);
  term_done("failed", 0, 0, 1, 1, 1600);
  restore(f);
  char *out = ut_slurp("out");
  assert_null(strchr(out, '\033'));
  assert_string_equal(out, "plan: 2 targets, 1 to build\n"
                           "start gen\n"
                           "gen | hello\n"
                           "failed gen (1.5 s): exit status 2\n"
                           "skipped report\n"
                           "failed: 0 built, 0 cached, 1 failed, 1 skipped in 1.60 s\n");
  free(out);
}

static void mode_names_parse(void **state) {
  (void)state;
  progress_mode m;
  assert_int_equal(term_parse_mode("json", &m), 0);
  assert_int_equal(m, PROGRESS_JSON);
  assert_int_equal(term_parse_mode("tty", &m), 0);
  assert_int_equal(m, PROGRESS_TTY);
  assert_int_equal(term_parse_mode("plain", &m), 0);
  assert_int_equal(m, PROGRESS_PLAIN);
  assert_int_equal(term_parse_mode("auto", &m), 0);
  assert_int_equal(m, PROGRESS_AUTO);
  assert_int_equal(term_parse_mode("fancy", &m), -1);
}

/* A pseudo-terminal for stdout; returns the master side. */
static int open_terminal(fixture *f) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  assert_true(master >= 0);
  assert_int_equal(grantpt(master), 0);
  assert_int_equal(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  assert_true(slave >= 0);
  redirect(f, slave, -1);
  close(slave);
  return master;
}

/* What has been written to the terminal so far. */
static char *drain(int master) {
  strbuf sb = {0};
  char buf[4096];
  int fl = fcntl(master, F_GETFL);
  fcntl(master, F_SETFL, fl | O_NONBLOCK);
  ssize_t n;
  while ((n = read(master, buf, sizeof buf)) > 0) sb_addn(&sb, buf, (size_t)n);
  return sb_take(&sb);
}

static void auto_mode_uses_the_terminal_unless_ci_is_set(void **state) {
  fixture *f = *state;
  int master = open_terminal(f);
  term_init(PROGRESS_AUTO, 0);
  assert_int_equal(term_mode(), PROGRESS_TTY);
  setenv("CI", "true", 1);
  term_init(PROGRESS_AUTO, 0);
  assert_int_equal(term_mode(), PROGRESS_PLAIN);
  restore(f);
  close(master);

  unsetenv("CI");
  capture(f); /* a file is no terminal */
  term_init(PROGRESS_AUTO, 0);
  restore(f);
  assert_int_equal(term_mode(), PROGRESS_PLAIN);
}

static void colour_only_without_no_color(void **state) {
  fixture *f = *state;
  int master = open_terminal(f);
  term_init(PROGRESS_TTY, 0);
  term_finish("gen", "built", 10, KEY, NULL);
  fflush(stdout);
  char *coloured = drain(master);
  assert_non_null(strstr(coloured, "\033[32m"));
  assert_non_null(strstr(coloured, "built"));

  setenv("NO_COLOR", "1", 1);
  term_init(PROGRESS_TTY, 0);
  term_finish("gen", "built", 10, KEY, NULL);
  term_clear();
  fflush(stdout);
  char *plain = drain(master);
  restore(f);
  close(master);
  assert_non_null(strstr(plain, "built gen"));
  assert_null(strstr(plain, "\033[32m"));
  assert_null(strstr(plain, "\033[1m"));
  free(coloured);
  free(plain);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(json_events_match_the_documented_format),
      T(json_failure_carries_an_escaped_error),
      T(plain_mode_prints_one_line_per_event),
      cmocka_unit_test(mode_names_parse),
      T(auto_mode_uses_the_terminal_unless_ci_is_set),
      T(colour_only_without_no_color),
  };
  return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}
