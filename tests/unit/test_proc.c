/* proc: real children on a real loop — exit status, output to the log and
 * the callback, a missing program, and stopping a whole process tree. */
#include "unit.h"

#include <dirent.h>
#include <signal.h>

#include "proc.h"

#define GUARD_MS 5000 /* a test that hangs fails instead */

typedef struct {
  uv_loop_t loop;
  uv_timer_t guard;
  ut_tmpdir dir;
  char *log;
  proc *p;
  int pid;
  strbuf out;
  int exits, timed_out;
  int64_t status;
  int signal;
  /* stop the child once it has printed this many lines (the pids it started) */
  size_t kill_after_lines;
  unsigned grace_ms;
  int killed;
  uint64_t killed_at, exited_at;
  pid_t pgid_seen, sid_seen; /* the child's group and session while it ran */
} fixture;

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 0) < 0) return -1;
  f->log = xasprintf("%s/out.log", f->dir.path);
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = f;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&f->loop); /* UV_EBUSY: a proc left a handle open */
  ut_tmpdir_close(&f->dir);
  sb_free(&f->out);
  free(f->log);
  free(f);
  if (rc != 0) fprintf(stderr, "loop still had handles: %s\n", uv_strerror(rc));
  return rc == 0 ? 0 : -1;
}

static void on_output(void *ud, const char *buf, size_t n) {
  fixture *f = ud;
  sb_addn(&f->out, buf, n);
  if (!f->pgid_seen) {
    f->pgid_seen = getpgid(f->pid);
    f->sid_seen = getsid(f->pid);
  }
  if (f->kill_after_lines && !f->killed && ut_lines(f->out.buf) >= f->kill_after_lines) {
    f->killed = 1;
    f->killed_at = now_ms();
    proc_kill(f->p, f->grace_ms);
    proc_kill(f->p, f->grace_ms); /* asking twice is harmless */
  }
}

static void on_child_exit(void *ud, int64_t status, int sig) {
  fixture *f = ud;
  f->exits++;
  f->status = status;
  f->signal = sig;
  f->exited_at = now_ms();
  f->p = NULL; /* freed after this returns */
}

static size_t read_pids(const char *text, pid_t *pids, size_t max);

/* Give up: kill the child and every pid it printed, whatever group they are in. */
static void on_guard(uv_timer_t *t) {
  fixture *f = t->data;
  f->timed_out = 1;
  pid_t pids[8];
  size_t n = f->out.buf ? read_pids(f->out.buf, pids, 8) : 0;
  for (size_t i = 0; i < n; i++)
    if (pids[i] > 1) kill(pids[i], SIGKILL);
  if (f->pid > 1) kill(f->pid, SIGKILL);
  if (f->p) proc_kill(f->p, 0);
}

/* Spawn argv with the fixture's callbacks; returns proc_spawn's result. */
static int spawn(fixture *f, char **argv, char **env, const char *cwd) {
  proc_opts o = {.argv = argv, .env = env, .cwd = cwd, .log_path = f->log,
                 .on_output = on_output, .on_exit = on_child_exit, .ud = f};
  int rc = proc_spawn(&f->loop, &o, &f->p);
  if (rc == 0) f->pid = proc_pid(f->p);
  return rc;
}

/* Run the loop until the child is reported (or the guard gives up). */
static void run(fixture *f) {
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  uv_unref((uv_handle_t *)&f->guard);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&f->guard);
  assert_false(f->timed_out);
  assert_int_equal(f->exits, 1);
}

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})

/* Whether pid is a live process (a zombie waiting for its reaper is dead). */
static int alive(pid_t pid) {
  if (kill(pid, 0) < 0) return 0;
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *fp = fopen(path, "r");
  if (!fp) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = 0;
  const char *close_paren = strrchr(buf, ')');
  return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z';
}

/* Whether any live process is still in process group pgid. */
static int group_alive(pid_t pgid) {
  if (kill(-pgid, 0) < 0 && errno == ESRCH) return 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(d))) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid > 0 && getpgid(pid) == pgid && alive(pid)) found = 1;
  }
  closedir(d);
  return found;
}

/* Wait up to ms for the group to empty (reparented children are reaped async). */
static int group_gone_within(pid_t pgid, unsigned ms) {
  for (unsigned waited = 0; group_alive(pgid); waited += 10) {
    if (waited >= ms) return 0;
    usleep(10000);
  }
  return 1;
}

/* The pids a child printed, one a line. */
static size_t read_pids(const char *text, pid_t *pids, size_t max) {
  size_t n = 0;
  for (const char *s = text; *s && n < max; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : "")
    pids[n++] = (pid_t)atoi(s);
  return n;
}

static void exit_status_is_reported(void **state) {
  fixture *f = *state;
  assert_int_equal(spawn(f, ARGV("sh", "-c", "exit 3"), NULL, NULL), 0);
  run(f);
  assert_int_equal(f->status, 3);
  assert_int_equal(f->signal, 0);
}

static void death_by_signal_is_reported(void **state) {
  fixture *f = *state;
  assert_int_equal(spawn(f, ARGV("sh", "-c", "kill -KILL $$"), NULL, NULL), 0);
  run(f);
  assert_int_equal(f->signal, SIGKILL);
}

static void output_reaches_the_callback_and_the_log_in_order(void **state) {
  fixture *f = *state;
  ut_put(f->log, "stale contents from an earlier run\n");
  assert_int_equal(spawn(f, ARGV("sh", "-c", "echo one; echo two >&2; echo three"), NULL, NULL), 0);
  run(f);
  assert_int_equal(f->status, 0);
  assert_string_equal(f->out.buf, "one\ntwo\nthree\n");
  char *log = ut_slurp(f->log);
  assert_string_equal(log, "one\ntwo\nthree\n");
  free(log);
}

static void large_output_arrives_whole(void **state) {
  fixture *f = *state;
  assert_int_equal(spawn(f, ARGV("sh", "-c", "yes 0123456789 | head -n 30000"), NULL, NULL), 0);
  run(f);
  assert_int_equal(f->out.len, 30000 * 11);
  assert_int_equal(ut_lines(f->out.buf), 30000);
  char *log = ut_slurp(f->log);
  assert_int_equal(strlen(log), 30000 * 11);
  free(log);
}

static void environment_folder_and_empty_stdin_are_as_asked(void **state) {
  fixture *f = *state;
  /* cat would wait for input forever if stdin were not /dev/null */
  assert_int_equal(spawn(f, ARGV("/bin/sh", "-c", "echo $GREETING; pwd; cat; echo end"),
                         ARGV("GREETING=hello"), f->dir.path),
                   0);
  run(f);
  char *want = xasprintf("hello\n%s\nend\n", f->dir.path);
  assert_string_equal(f->out.buf, want);
  free(want);
}

static void missing_program_is_enoent_and_leaves_nothing(void **state) {
  fixture *f = *state;
  assert_int_equal(spawn(f, ARGV("dbx-no-such-program-here"), NULL, NULL), UV_ENOENT);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(f->exits, 0); /* teardown checks that every handle closed */
}

static void unwritable_log_is_an_error(void **state) {
  fixture *f = *state;
  free(f->log);
  f->log = xasprintf("%s/no/such/folder/out.log", f->dir.path);
  assert_int_equal(spawn(f, ARGV("true"), NULL, NULL), -ENOENT);
}

static void stopping_kills_every_grandchild(void **state) {
  fixture *f = *state;
  f->kill_after_lines = 2;
  f->grace_ms = 5000;
  assert_int_equal(spawn(f, ARGV("sh", "-c", "sleep 100 & echo $!; sleep 100 & echo $!; wait"),
                         NULL, NULL),
                   0);
  run(f);
  assert_int_equal(f->signal, SIGTERM);
  pid_t kids[2] = {0, 0};
  assert_int_equal(read_pids(f->out.buf, kids, 2), 2);
  assert_true(group_gone_within(f->pid, 3000));
  for (int i = 0; i < 2; i++) assert_false(alive(kids[i]));
}

static void grandchild_ignoring_term_is_killed_after_the_grace(void **state) {
  fixture *f = *state;
  f->kill_after_lines = 1;
  f->grace_ms = 300;
  assert_int_equal(
      spawn(f, ARGV("sh", "-c", "sh -c 'trap \"\" TERM; echo $$; exec sleep 100' & wait"), NULL,
            NULL),
      0);
  run(f);
  pid_t kid = 0;
  assert_int_equal(read_pids(f->out.buf, &kid, 1), 1);
  assert_true(f->exited_at - f->killed_at >= 250); /* TERM alone did not end it */
  assert_true(group_gone_within(f->pid, 3000));
  assert_false(alive(kid));
}

static void child_that_exits_leaving_a_grandchild_is_cleaned_up(void **state) {
  fixture *f = *state;
  /* the background sleep keeps the output pipe open after sh is gone */
  assert_int_equal(spawn(f, ARGV("sh", "-c", "sleep 100 & echo $!"), NULL, NULL), 0);
  run(f);
  assert_int_equal(f->status, 0);
  assert_int_equal(f->signal, 0);
  pid_t kid = 0;
  assert_int_equal(read_pids(f->out.buf, &kid, 1), 1);
  assert_true(group_gone_within(f->pid, 3000));
  assert_false(alive(kid));
}

static void each_child_leads_its_own_process_group(void **state) {
  fixture *f = *state;
  f->kill_after_lines = 1;
  f->grace_ms = 1000;
  assert_int_equal(spawn(f, ARGV("sh", "-c", "echo ready; exec sleep 100"), NULL, NULL), 0);
  run(f);
  assert_int_equal(f->pgid_seen, f->pid);
  assert_int_equal(f->sid_seen, f->pid);
  assert_int_not_equal(f->pgid_seen, getpgrp());
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(exit_status_is_reported),
      T(death_by_signal_is_reported),
      T(output_reaches_the_callback_and_the_log_in_order),
      T(large_output_arrives_whole),
      T(environment_folder_and_empty_stdin_are_as_asked),
      T(missing_program_is_enoent_and_leaves_nothing),
      T(unwritable_log_is_an_error),
      T(stopping_kills_every_grandchild),
      T(grandchild_ignoring_term_is_killed_after_the_grace),
      T(child_that_exits_leaving_a_grandchild_is_cleaned_up),
      T(each_child_leads_its_own_process_group),
  };
  return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
