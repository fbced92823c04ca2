/* execstream: an exec's stdin and stdout over the connection the engine
 * hands over, against a fake engine (a thread on a unix socket or a tcp
 * port): it answers the exec create, then the upgraded start with 101 and
 * plays the process — each line written to it comes back as a stdout frame
 * "got: LINE"; "bye" ends it with a stderr frame; "quiet" is not answered. */
#include "unit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "execstream.h"

typedef struct {
  ut_tmpdir dir;
  char sock[100], addr[200];
  int lfd;
  pthread_t thread;
  int refuse;       /* answer the start with 404 instead of 101 */
  char start[4096]; /* the start request as received */
  uv_loop_t loop;
  engine *e;
} fixture;

/* Read an HTTP request's head and body (by Content-Length) into buf. */
static size_t read_request(int c, char *buf, size_t cap) {
  size_t got = 0;
  char *end = NULL;
  while (got < cap - 1 && !(end = memmem(buf, got, "\r\n\r\n", 4))) {
    ssize_t r = read(c, buf + got, cap - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  buf[got] = '\0';
  const char *cl = strcasestr(buf, "Content-Length: ");
  size_t want = end ? (size_t)(end - buf) + 4 + (cl ? strtoul(cl + 16, NULL, 10) : 0) : got;
  while (got < want && got < cap - 1) {
    ssize_t r = read(c, buf + got, cap - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  buf[got] = '\0';
  return got;
}

static void put_frame(int c, int stream, const char *text) {
  size_t n = strlen(text);
  char h[8] = {(char)stream, 0, 0, 0, (char)(n >> 24), (char)(n >> 16), (char)(n >> 8), (char)n};
  if (write(c, h, 8) != 8 || write(c, text, n) != (ssize_t)n) return;
}

static void write_all(int c, const char *s) {
  if (write(c, s, strlen(s)) < 0) return;
}

static void *serve(void *arg) {
  fixture *f = arg;
  char buf[4096];
  int c = accept(f->lfd, NULL, NULL); /* the exec create, through libcurl */
  read_request(c, buf, sizeof buf);
  write_all(c, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
               "Connection: close\r\n\r\n{\"Id\":\"e1\"}");
  close(c);
  c = accept(f->lfd, NULL, NULL); /* the start, on a connection of execstream's own */
  read_request(c, f->start, sizeof f->start);
  if (f->refuse) {
    write_all(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 25\r\n\r\n{\"message\":\"no such exec\"}");
    close(c);
    return NULL;
  }
  write_all(c, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
               "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
  strbuf in = {0};
  for (;;) {
    ssize_t r = read(c, buf, sizeof buf);
    if (r <= 0) break;
    sb_addn(&in, buf, (size_t)r);
    char *nl;
    while (in.len && (nl = memchr(in.buf, '\n', in.len))) {
      char *line = xstrndup(in.buf, (size_t)(nl - in.buf));
      size_t used = (size_t)(nl - in.buf) + 1;
      memmove(in.buf, in.buf + used, in.len - used);
      in.len -= used;
      if (strcmp(line, "bye") == 0) {
        put_frame(c, 2, "bye now\n");
        free(line);
        goto out;
      }
      if (strcmp(line, "quiet") != 0) {
        char *ans = xasprintf("got: %s\n", line);
        put_frame(c, 1, ans);
        free(ans);
      }
      free(line);
    }
  }
out:
  sb_free(&in);
  close(c);
  return NULL;
}

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 0) < 0) return -1;
  snprintf(f->sock, sizeof f->sock, "%s/engine.sock", f->dir.path);
  if (uv_loop_init(&f->loop) < 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  engine_close(f->e);
  for (int i = 0; i < 1000 && uv_loop_alive(&f->loop); i++) uv_run(&f->loop, UV_RUN_NOWAIT);
  pthread_join(f->thread, NULL);
  close(f->lfd);
  int rc = uv_loop_close(&f->loop);
  ut_tmpdir_close(&f->dir);
  free(f);
  return rc == 0 ? 0 : -1;
}

static void serve_on(fixture *f, int tcp) {
  if (tcp) {
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
    snprintf(f->addr, sizeof f->addr, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
  } else {
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->sock);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    snprintf(f->addr, sizeof f->addr, "unix://%s", f->sock);
  }
  assert_int_equal(listen(f->lfd, 4), 0);
  assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
  char *err = NULL;
  if (engine_open(&f->loop, f->addr, &f->e, &err) < 0) fail_msg("engine_open: %s", err);
}

static execstream *open_stream(fixture *f) {
  strvec argv = {0};
  sv_push(&argv, "/.dbx/dbx-init");
  sv_push(&argv, "--receive");
  execstream *x = NULL;
  char *err = NULL;
  if (execstream_open(f->e, "c1", &argv, "root", NULL, &x, &err) < 0) fail_msg("execstream_open: %s", err);
  sv_free(&argv);
  return x;
}

static void expect_line(execstream *x, const char *want) {
  char *line = NULL, *err = NULL;
  if (execstream_line(x, 5000, &line, &err) < 0) fail_msg("no line '%s': %s", want, err);
  assert_string_equal(line, want);
  free(line);
}

static void lines_go_in_and_come_back(fixture *f) {
  execstream *x = open_stream(f);
  assert_non_null(strstr(f->start, "POST /exec/e1/start HTTP/1.1\r\n"));
  assert_non_null(strstr(f->start, "Connection: Upgrade\r\nUpgrade: tcp\r\n"));
  assert_non_null(strstr(f->start, "{\"Detach\":false,\"Tty\":false}"));
  char *err = NULL;
  assert_int_equal(execstream_write(x, "one\ntwo\n", 8, 5000, &err), 0);
  expect_line(x, "got: one");
  expect_line(x, "got: two");
  assert_int_equal(execstream_write(x, "th", 2, 5000, &err), 0); /* a line in two writes */
  assert_int_equal(execstream_write(x, "ree\n", 4, 5000, &err), 0);
  expect_line(x, "got: three");
  assert_false(execstream_ended(x));
  execstream_close(x);
}

static void over_a_unix_socket(void **state) {
  fixture *f = *state;
  serve_on(f, 0);
  lines_go_in_and_come_back(f);
}

static void over_tcp(void **state) {
  fixture *f = *state;
  serve_on(f, 1);
  lines_go_in_and_come_back(f);
  assert_non_null(strstr(f->start, "Host: 127.0.0.1:"));
}

static void an_end_and_a_silence_are_errors(void **state) {
  fixture *f = *state;
  serve_on(f, 0);
  execstream *x = open_stream(f);
  char *err = NULL, *line = NULL;
  assert_int_equal(execstream_write(x, "quiet\n", 6, 5000, &err), 0);
  assert_int_equal(execstream_line(x, 100, &line, &err), -1);
  assert_string_equal(err, "the command in the container did not answer within 100 ms");
  free(err);
  err = NULL;
  assert_int_equal(execstream_write(x, "bye\n", 4, 5000, &err), 0);
  assert_int_equal(execstream_line(x, 5000, &line, &err), -1);
  assert_string_equal(err, "the command in the container ended: bye now");
  free(err);
  err = NULL;
  assert_true(execstream_ended(x));
  assert_int_equal(execstream_write(x, "more\n", 5, 5000, &err), -1);
  free(err);
  execstream_close(x);
}

static void set_stop(uv_timer_t *t) { *(int *)t->data = 1; }

static void a_stop_ends_a_wait_for_an_answer(void **state) {
  fixture *f = *state;
  serve_on(f, 0);
  strvec argv = {0};
  sv_push(&argv, "true");
  execstream *x = NULL;
  char *err = NULL, *line = NULL;
  int stop = 0;
  if (execstream_open(f->e, "c1", &argv, NULL, &stop, &x, &err) < 0) fail_msg("execstream_open: %s", err);
  assert_int_equal(execstream_write(x, "quiet\n", 6, 5000, &err), 0);
  static uv_timer_t t; /* sets stop during the wait, as a signal handler on the loop would (static: it closes after we return) */
  uv_timer_init(&f->loop, &t);
  t.data = &stop;
  uv_timer_start(&t, set_stop, 100, 0);
  assert_int_equal(execstream_line(x, 60000, &line, &err), -1);
  assert_string_equal(err, "interrupted"); /* not the 60 s time limit, which says so otherwise */
  assert_int_equal(stop, 1);
  free(err);
  uv_close((uv_handle_t *)&t, NULL);
  execstream_close(x);
  sv_free(&argv);
}

static void a_refused_start_is_an_error_with_the_engines_message(void **state) {
  fixture *f = *state;
  f->refuse = 1;
  serve_on(f, 0);
  strvec argv = {0};
  sv_push(&argv, "true");
  execstream *x = NULL;
  char *err = NULL;
  assert_int_equal(execstream_open(f->e, "c1", &argv, NULL, NULL, &x, &err), -1);
  assert_null(x);
  assert_string_equal(err, "starting a command in the container: the engine answered 404: {\"message\":\"no such exec\"}");
  free(err);
  sv_free(&argv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(over_a_unix_socket, setup, teardown),
      cmocka_unit_test_setup_teardown(over_tcp, setup, teardown),
      cmocka_unit_test_setup_teardown(an_end_and_a_silence_are_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(a_stop_ends_a_wait_for_an_answer, setup, teardown),
      cmocka_unit_test_setup_teardown(a_refused_start_is_an_error_with_the_engines_message, setup, teardown),
  };
  return cmocka_run_group_tests_name("execstream", tests, NULL, NULL);
}
