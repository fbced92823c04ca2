/* dbx-init, the dev images' PID 1, run on the host (as a child subreaper). */
#include "unit.h"

#include <signal.h>
#include <sys/wait.h>

/* dbx-init beside the test programs' folder (build/dbx-init), found at start */
static char INIT[4096];

static int setup(void **state) { return ut_setup_tmpdir(state); }

static int teardown(void **state) { return ut_teardown_tmpdir(state); }

/* Start dbx-init with argv (NULL-terminated); its pid. */
static pid_t spawn_init(char *const argv[], const char *grace) {
  pid_t pid = fork();
  if (pid == 0) {
    if (grace) setenv("DBX_INIT_GRACE_MS", grace, 1);
    execv(INIT, argv);
    _exit(126);
  }
  return pid;
}

/* Wait up to ms for pid to end; its wait status, or -1 on a timeout. */
static int wait_for(pid_t pid, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return st;
    usleep(10000);
  }
  return -1;
}

/* Wait up to ms for the file to hold at least n lines. */
static int wait_lines(const char *path, size_t n, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    char *s = ut_exists(path) ? ut_slurp(path) : NULL;
    size_t got = s ? ut_lines(s) : 0;
    free(s);
    if (got >= n) return 1;
    usleep(10000);
  }
  return 0;
}

/* Kill dbx-init and every app process group it started (their pids, which
 * are also their group ids, are in "pids" when the app wrote it): on the host,
 * unlike in a container, killing dbx-init alone would leave the app running. */
static void stop(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  char *s = ut_exists("pids") ? ut_slurp("pids") : NULL;
  for (char *p = s; p && *p;) {
    long g = strtol(p, &p, 10);
    if (g > 1) kill((pid_t)-g, SIGKILL);
    while (*p == '\n' || *p == ' ') p++;
    if (g <= 0) break;
  }
  free(s);
}

static void exit_status_is_the_apps(void **state) {
  (void)state;
  char *argv[] = {INIT, "sh", "-c", "exit 3", NULL};
  int st = wait_for(spawn_init(argv, NULL), 5000);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 3);
}

static void usage_without_a_program(void **state) {
  (void)state;
  char *argv[] = {INIT, NULL};
  int st = wait_for(spawn_init(argv, NULL), 5000);
  assert_int_equal(WEXITSTATUS(st), 2);
}

static void hup_restarts_the_app(void **state) {
  (void)state;
  char *argv[] = {INIT, "sh", "-c", "echo $$ >> pids; exec sleep 100", NULL};
  pid_t init = spawn_init(argv, NULL);
  assert_true(wait_lines("pids", 1, 5000));
  kill(init, SIGHUP);
  int restarted = wait_lines("pids", 2, 5000);
  char *pids = ut_slurp("pids");
  kill(init, SIGTERM);
  int st = wait_for(init, 5000);
  if (st < 0) stop(init);
  assert_true(restarted);
  char a[32], b[32];
  assert_int_equal(sscanf(pids, "%31s %31s", a, b), 2);
  assert_string_not_equal(a, b); /* a new process */
  free(pids);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 128 + SIGTERM); /* sleep ended by the forwarded TERM */
}

static void term_reaches_the_whole_group(void **state) {
  (void)state;
  char *argv[] = {INIT, "sh", "-c", "sleep 100 & echo $! > grandchild; wait", NULL};
  pid_t init = spawn_init(argv, NULL);
  assert_true(wait_lines("grandchild", 1, 5000));
  char *s = ut_slurp("grandchild");
  pid_t gc = (pid_t)atoi(s);
  free(s);
  kill(init, SIGTERM);
  int st = wait_for(init, 5000);
  if (st < 0) stop(init);
  assert_true(st >= 0);
  int gone = 0;
  for (int i = 0; i < 200 && !gone; i++) { /* the grandchild is gone (and reaped) */
    gone = kill(gc, 0) < 0 && errno == ESRCH;
    if (!gone) usleep(10000);
  }
  assert_true(gone);
}

static void orphans_are_reaped(void **state) {
  (void)state;
  /* the app leaves a short-lived orphan behind; dbx-init (a subreaper) reaps it */
  char *argv[] = {INIT, "sh", "-c", "(sleep 0.2 & echo $! > orphan); sleep 2", NULL};
  pid_t init = spawn_init(argv, NULL);
  assert_true(wait_lines("orphan", 1, 5000));
  char *s = ut_slurp("orphan");
  pid_t orphan = (pid_t)atoi(s);
  free(s);
  int reaped = 0;
  for (int i = 0; i < 150 && !reaped; i++) { /* no zombie left: the pid is gone entirely */
    reaped = kill(orphan, 0) < 0 && errno == ESRCH;
    if (!reaped) usleep(10000);
  }
  stop(init);
  assert_true(reaped);
}

static void restart_kills_an_app_that_ignores_term(void **state) {
  (void)state;
  char *argv[] = {INIT, "sh", "-c", "trap '' TERM; echo $$ >> pids; while :; do sleep 0.05; done", NULL};
  pid_t init = spawn_init(argv, "300");
  assert_true(wait_lines("pids", 1, 5000));
  kill(init, SIGHUP);
  int restarted = wait_lines("pids", 2, 5000); /* after the 300 ms grace, KILL, then a new start */
  stop(init);
  assert_true(restarted);
}

int main(void) {
  if (!realpath("../dbx-init", INIT)) {
    fprintf(stderr, "test_dbx_init: no ../dbx-init beside the tests (make builds it)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(exit_status_is_the_apps, setup, teardown),
      cmocka_unit_test_setup_teardown(usage_without_a_program, setup, teardown),
      cmocka_unit_test_setup_teardown(hup_restarts_the_app, setup, teardown),
      cmocka_unit_test_setup_teardown(term_reaches_the_whole_group, setup, teardown),
      cmocka_unit_test_setup_teardown(orphans_are_reaped, setup, teardown),
      cmocka_unit_test_setup_teardown(restart_kills_an_app_that_ignores_term, setup, teardown),
  };
  return cmocka_run_group_tests_name("dbx-init", tests, NULL, NULL);
}
