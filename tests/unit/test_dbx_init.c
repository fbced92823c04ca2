/* dbx-init, the dev images' PID 1, run on the host (as a child subreaper). */
#include "unit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* dbx-init beside the test programs' folder (build/dbx-init), found at start */
static char INIT[4096];

static int setup(void **state) { return ut_setup_tmpdir(state); }

static int teardown(void **state) { return ut_teardown_tmpdir(state); }

/* Start dbx-init with argv (NULL-terminated), its stderr into the file log
 * (when not NULL); its pid. */
static pid_t spawn_init_log(char *const argv[], const char *grace, const char *log) {
  pid_t pid = fork();
  if (pid == 0) {
    if (grace) setenv("DBX_INIT_GRACE_MS", grace, 1);
    if (log && !freopen(log, "w", stderr)) _exit(125);
    execv(INIT, argv);
    _exit(126);
  }
  return pid;
}

static pid_t spawn_init(char *const argv[], const char *grace) { return spawn_init_log(argv, grace, NULL); }

/* Wait up to ms for pid to end; its wait status, or -1 on a timeout. The CPU
 * time it (and the children it reaped) used goes to *cpu_ms when not NULL. */
static int wait_for_cpu(pid_t pid, int ms, long *cpu_ms) {
  for (int i = 0; i < ms / 10; i++) {
    int st;
    struct rusage ru;
    if (wait4(pid, &st, WNOHANG, &ru) == pid) {
      if (cpu_ms)
        *cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
      return st;
    }
    usleep(10000);
  }
  return -1;
}

static int wait_for(pid_t pid, int ms) { return wait_for_cpu(pid, ms, NULL); }

/* Wait up to ms for the file to contain text. */
static int wait_text(const char *path, const char *text, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    char *s = ut_exists(path) ? ut_slurp(path) : NULL;
    int found = s && strstr(s, text);
    free(s);
    if (found) return 1;
    usleep(10000);
  }
  return 0;
}

/* How many times text occurs in the file (0 when it cannot be read). */
static int count_text(const char *path, const char *text) {
  char *s = ut_exists(path) ? ut_slurp(path) : NULL;
  int n = 0;
  for (char *p = s; p && (p = strstr(p, text)); p += strlen(text)) n++;
  free(s);
  return n;
}

/* The nth (from 0) pid in the file "pids", as a string ("" when there is none). */
static const char *nth_pid(int n, char buf[32]) {
  char *s = ut_slurp("pids");
  char *p = s;
  buf[0] = 0;
  for (int i = 0; p && i <= n; i++) {
    long v = strtol(p, &p, 10);
    if (v > 0 && i == n) snprintf(buf, 32, "%ld", v);
  }
  free(s);
  return buf;
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

/* --stay: an app that ends on its own is started again, after a backoff that
 * doubles, and dbx-init says how it ended each time. */
static void stay_restarts_a_crashed_app(void **state) {
  (void)state;
  char *argv[] = {INIT, "--stay", "--", "sh", "-c", "echo $$ >> pids; exit 3", NULL};
  pid_t init = spawn_init_log(argv, NULL, "log");
  int again = wait_lines("pids", 3, 5000); /* 0.25 s, then 0.5 s later */
  kill(init, SIGTERM);
  int st = wait_for(init, 5000);
  if (st < 0) stop(init);
  assert_true(again);
  assert_true(wait_text("log", "dbx-init: sh exited with status 3; starting it again in 0.25s\n", 1000));
  assert_true(wait_text("log", "dbx-init: sh exited with status 3; starting it again in 0.5s\n", 1000));
  assert_true(WIFEXITED(st)); /* TERM stops it, in a backoff or not */
}

static void stay_names_the_signal_that_killed_the_app(void **state) {
  (void)state;
  char *argv[] = {INIT, "--stay", "sh", "-c", "echo $$ >> pids; kill -KILL $$", NULL};
  pid_t init = spawn_init_log(argv, NULL, "log");
  int again = wait_lines("pids", 2, 5000);
  stop(init);
  assert_true(again);
  assert_true(wait_text("log", "dbx-init: sh killed by signal 9; starting it again in 0.25s\n", 1000));
}

/* A HUP in the backoff starts the app at once; TERM in the backoff ends
 * dbx-init at once; the wait in between costs no CPU (no busy loop). */
static void hup_in_the_backoff_starts_at_once(const char *mode) {
  char *argv[] = {INIT, "--stay", (char *)mode, "--", "sh", "-c", "echo $$ >> pids; exit 1", NULL};
  pid_t init = spawn_init_log(argv, NULL, "log");
  /* starts after 0.25, 0.5 and 1 s: now it waits 2 s */
  int waiting = wait_text("log", "starting it again in 2s\n", 5000);
  usleep(100000);
  char *s = ut_slurp("pids");
  size_t n = s ? ut_lines(s) : 0;
  free(s);
  kill(init, SIGHUP);
  int at_once = wait_lines("pids", n + 1, 1000);
  int next = wait_text("log", "starting it again in 4s\n", 1000); /* it failed again: 4 s */
  usleep(100000);
  kill(init, SIGTERM);
  long cpu_ms = -1;
  int st = wait_for_cpu(init, 1000, &cpu_ms);
  if (st < 0) stop(init);
  assert_true(waiting);
  assert_int_equal(n, 4);
  assert_true(at_once);
  assert_true(next);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 128 + SIGTERM);
  assert_in_range(cpu_ms, 0, 300); /* some 2.5 s of waiting, for a handful of sh runs */
}

static void hup_in_the_backoff_restart_mode(void **state) {
  (void)state;
  hup_in_the_backoff_starts_at_once("--hup=restart");
}

static void hup_in_the_backoff_forward_mode(void **state) {
  (void)state;
  hup_in_the_backoff_starts_at_once("--hup=forward");
}

/* --hup=restart (the default) marks every start, the first one included. */
static void started_lines_mark_each_start(void **state) {
  (void)state;
  char *argv[] = {INIT, "sh", "-c", "echo $$ >> pids; exec sleep 100", NULL};
  pid_t init = spawn_init_log(argv, NULL, "log");
  assert_true(wait_lines("pids", 1, 5000));
  kill(init, SIGHUP);
  int restarted = wait_lines("pids", 2, 5000);
  char a[32], b[32], line_a[64], line_b[64];
  nth_pid(0, a);
  nth_pid(1, b);
  snprintf(line_a, sizeof line_a, "dbx-init: started sh (pid %s)\n", a);
  snprintf(line_b, sizeof line_b, "dbx-init: started sh (pid %s)\n", b);
  int first = wait_text("log", line_a, 1000), second = wait_text("log", line_b, 1000);
  kill(init, SIGTERM);
  if (wait_for(init, 5000) < 0) stop(init);
  assert_true(restarted);
  assert_true(first);
  assert_true(second);
  assert_int_equal(count_text("log", "dbx-init: started "), 2);
}

/* --hup=forward: the app gets the HUP itself and goes on running; dbx-init
 * neither restarts it nor prints "started" lines. */
static void forward_hands_hup_to_the_app(void **state) {
  (void)state;
  char *argv[] = {INIT, "--stay", "--hup=forward", "--", "sh", "-c",
                  "trap 'echo hup >> hups' HUP; echo $$ >> pids; while :; do sleep 0.05; done", NULL};
  pid_t init = spawn_init_log(argv, NULL, "log");
  assert_true(wait_lines("pids", 1, 5000));
  kill(init, SIGHUP);
  int one = wait_lines("hups", 1, 5000);
  kill(init, SIGHUP);
  int two = wait_lines("hups", 2, 5000);
  usleep(200000);
  char *pids = ut_slurp("pids");
  size_t starts = ut_lines(pids);
  free(pids);
  kill(init, SIGTERM);
  int st = wait_for(init, 5000);
  if (st < 0) stop(init);
  assert_true(one);
  assert_true(two);
  assert_int_equal(starts, 1); /* the same process all along */
  assert_int_equal(count_text("log", "dbx-init: started "), 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 128 + SIGTERM); /* TERM still stops it, --stay or not */
}

static void an_unknown_option_is_a_usage_error(void **state) {
  (void)state;
  char *argv[] = {INIT, "--hup=sometimes", "sh", "-c", "exit 0", NULL};
  int st = wait_for(spawn_init_log(argv, NULL, "log"), 5000);
  assert_int_equal(WEXITSTATUS(st), 2);
  assert_true(wait_text("log", "dbx-init: unknown option --hup=sometimes\nusage: dbx-init [--stay]", 1000));
}

/* A one-request HTTP server on 127.0.0.1 in a child: it writes the request it
 * read into the file "request" and answers with status line `answer`. Its
 * pid; *port receives where it listens. */
static pid_t serve_once(const char *answer, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 1), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(fd, NULL, NULL);
    char req[2048];
    size_t got = 0;
    while (got < sizeof req && !memmem(req, got, "\r\n\r\n", 4)) {
      ssize_t r = read(c, req + got, sizeof req - got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    FILE *f = fopen("request", "w");
    if (f) fwrite(req, 1, got, f), fclose(f);
    char out[256];
    int n = snprintf(out, sizeof out, "%s\r\nContent-Length: 2\r\n\r\nok", answer);
    if (write(c, out, (size_t)n) != n) _exit(1);
    close(c);
    _exit(0);
  }
  close(fd);
  return pid;
}

/* Run dbx-init --probe PORT PATH with stdout into the file "out"; its exit code. */
static int run_probe(const char *port, const char *path) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("out", "w", stdout)) _exit(125);
    execl(INIT, INIT, "--probe", port, path, (char *)NULL);
    _exit(126);
  }
  int st = wait_for(pid, 10000);
  if (st < 0) stop(pid);
  assert_true(st >= 0 && WIFEXITED(st));
  return WEXITSTATUS(st);
}

/* dbx-init --probe PORT /health exits 1 printing want (a format taking the port). */
static void probe_fails_saying(int port, const char *want) {
  char p[16], text[128];
  snprintf(p, sizeof p, "%d", port);
  assert_int_equal(run_probe(p, "/health"), 1);
  snprintf(text, sizeof text, want, port, port); /* the port once or twice */
  char *out = ut_slurp("out");
  assert_string_equal(out, text);
  free(out);
}

static void probe_passes_on_a_2xx_answer(void **state) {
  (void)state;
  int port;
  pid_t srv = serve_once("HTTP/1.1 200 OK", &port);
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  assert_int_equal(run_probe(p, "/health?deep=1"), 0);
  assert_true(wait_for(srv, 5000) >= 0);
  char *req = ut_slurp("request");
  assert_non_null(strstr(req, "GET /health?deep=1 HTTP/1.0\r\n"));
  char host[64];
  snprintf(host, sizeof host, "Host: 127.0.0.1:%d\r\n", port);
  assert_non_null(strstr(req, host));
  free(req);
}

static void probe_reaches_an_app_on_ipv6_loopback_alone(void **state) {
  (void)state;
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    skip(); /* no IPv6 here */
  }
  assert_int_equal(listen(fd, 1), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(fd, NULL, NULL);
    char buf[512];
    if (read(c, buf, sizeof buf) < 0) _exit(1);
    static const char ok[] = "HTTP/1.1 204 No Content\r\n\r\n";
    if (write(c, ok, sizeof ok - 1) < 0) _exit(1);
    _exit(0);
  }
  close(fd);
  char p[16];
  snprintf(p, sizeof p, "%d", ntohs(sa.sin6_port));
  assert_int_equal(run_probe(p, "/health"), 0);
  assert_true(wait_for(pid, 5000) >= 0);
}

static void probe_fails_on_an_error_answer_and_says_it(void **state) {
  (void)state;
  int port;
  pid_t srv = serve_once("HTTP/1.1 503 Service Unavailable", &port);
  probe_fails_saying(port, "127.0.0.1:%d/health answered 503\n");
  assert_true(wait_for(srv, 5000) >= 0);
}

static void probe_fails_when_nothing_listens(void **state) {
  (void)state;
  int port;
  pid_t srv = serve_once("HTTP/1.1 200 OK", &port);
  kill(srv, SIGKILL); /* the port was ours; now nothing listens there */
  assert_true(wait_for(srv, 5000) >= 0);
  probe_fails_saying(port, "nothing answered on 127.0.0.1:%d or [::1]:%d: Connection refused\n");
}

static void probe_refuses_a_bad_port_or_path(void **state) {
  (void)state;
  assert_int_equal(run_probe("0", "/health"), 2);
  assert_int_equal(run_probe("http", "/health"), 2);
  assert_int_equal(run_probe("5000", "health"), 2);
  assert_int_equal(run_probe("5000", "/a b"), 2);
}

/* Run dbx-init --receive with the file "records" on stdin and stdout into
 * "answers"; its exit code. */
static int run_receive(const char *records) {
  ut_put("records", records);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("records", "r", stdin) || !freopen("answers", "w", stdout)) _exit(125);
    execl(INIT, INIT, "--receive", (char *)NULL);
    _exit(126);
  }
  int st = wait_for(pid, 10000);
  if (st < 0) stop(pid);
  assert_true(st >= 0 && WIFEXITED(st));
  return WEXITSTATUS(st);
}

static void receive_writes_files_and_removes_paths(void **state) {
  ut_tmpdir *t = *state;
  mkdir_p("gone/deep");
  ut_put("gone/deep/f", "x");
  char *records = xasprintf("F 640 1000 1001 6 %s/new/sub/a.txt\nhello\n"
                            "F 755 1000 1001 0 %s/empty\n"
                            "D %s/gone\nD %s/never-there\nS\n"
                            "F 644 0 0 3 relative/path\nabcS\n",
                            t->path, t->path, t->path, t->path);
  assert_int_equal(run_receive(records), 0);
  free(records);
  char *answers = ut_slurp("answers"), *a = ut_slurp("new/sub/a.txt");
  assert_string_equal(answers, "ok 4\nerror relative/path: Invalid argument\n");
  assert_string_equal(a, "hello\n");
  struct stat st;
  assert_int_equal(stat("new/sub/a.txt", &st), 0);
  assert_int_equal(st.st_mode & 07777, 0640);
  assert_int_equal(stat("empty", &st), 0);
  assert_int_equal(st.st_size, 0);
  assert_int_equal(st.st_mode & 07777, 0755);
  if (geteuid() == 0) {
    assert_int_equal(stat("new/sub/a.txt", &st), 0);
    assert_int_equal((int)st.st_uid, 1000);
    assert_int_equal((int)st.st_gid, 1001);
    assert_int_equal(stat("new/sub", &st), 0); /* made for the file: the app's too */
    assert_int_equal((int)st.st_uid, 1000);
  }
  assert_false(ut_exists("gone"));
  DIR *dir = opendir("new/sub");
  size_t entries = 0;
  for (struct dirent *de; dir && (de = readdir(dir));) entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
  if (dir) closedir(dir);
  assert_int_equal(entries, 1); /* a.txt alone: no temp file left beside it */
  free(answers);
  free(a);
}

static void receive_stops_at_a_malformed_or_cut_record(void **state) {
  ut_tmpdir *t = *state;
  assert_int_equal(run_receive("X what\n"), 1);
  char *answers = ut_slurp("answers");
  assert_string_equal(answers, "error not a record: X what\n");
  free(answers);
  char *records = xasprintf("F 644 0 0 100 %s/cut.txt\nonly ten b", t->path);
  assert_int_equal(run_receive(records), 1);
  free(records);
  answers = ut_slurp("answers");
  if (!strstr(answers, "error the input ended inside ")) fail_msg("%s", answers);
  free(answers);
  assert_false(ut_exists("cut.txt")); /* nothing half-written is left in its place */
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
      cmocka_unit_test_setup_teardown(stay_restarts_a_crashed_app, setup, teardown),
      cmocka_unit_test_setup_teardown(stay_names_the_signal_that_killed_the_app, setup, teardown),
      cmocka_unit_test_setup_teardown(hup_in_the_backoff_restart_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(hup_in_the_backoff_forward_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(started_lines_mark_each_start, setup, teardown),
      cmocka_unit_test_setup_teardown(forward_hands_hup_to_the_app, setup, teardown),
      cmocka_unit_test_setup_teardown(an_unknown_option_is_a_usage_error, setup, teardown),
      cmocka_unit_test_setup_teardown(probe_passes_on_a_2xx_answer, setup, teardown),
      cmocka_unit_test_setup_teardown(probe_reaches_an_app_on_ipv6_loopback_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(probe_fails_on_an_error_answer_and_says_it, setup, teardown),
      cmocka_unit_test_setup_teardown(probe_fails_when_nothing_listens, setup, teardown),
      cmocka_unit_test_setup_teardown(probe_refuses_a_bad_port_or_path, setup, teardown),
      cmocka_unit_test_setup_teardown(receive_writes_files_and_removes_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(receive_stops_at_a_malformed_or_cut_record, setup, teardown),
  };
  return cmocka_run_group_tests_name("dbx-init", tests, NULL, NULL);
}
