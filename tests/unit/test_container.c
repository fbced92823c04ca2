/* container: the log stream's frames split into lines per stream, whatever
 * the pieces it arrives in. The API calls themselves are exercised on the
 * engine by tests/e2e/test_dev.py. */
#include "unit.h"

#include "container.h"

typedef struct {
  strvec lines; /* "STREAM:text" */
  int ended;
} seen;

static void on_line(void *ud, int stream, const char *line, size_t len) {
  seen *s = ud;
  sv_push_own(&s->lines, xasprintf("%d:%.*s", stream, (int)len, line));
}

static void on_end(void *ud) { ((seen *)ud)->ended++; }

static size_t frame(char *out, int stream, const char *text) {
  size_t n = strlen(text);
  out[0] = (char)stream, out[1] = out[2] = out[3] = 0;
  out[4] = (char)(n >> 24), out[5] = (char)(n >> 16), out[6] = (char)(n >> 8), out[7] = (char)n;
  memcpy(out + 8, text, n);
  return 8 + n;
}

static size_t sample(char *buf) {
  size_t n = 0;
  n += frame(buf + n, 1, "hello\nwor");
  n += frame(buf + n, 2, "err line\n");
  n += frame(buf + n, 1, "ld\n");
  n += frame(buf + n, 1, "");
  n += frame(buf + n, 2, "last, no newline");
  return n;
}

static void check(seen *s) {
  assert_int_equal(s->lines.n, 4);
  assert_string_equal(s->lines.v[0], "1:hello");
  assert_string_equal(s->lines.v[1], "2:err line");
  assert_string_equal(s->lines.v[2], "1:world");
  assert_string_equal(s->lines.v[3], "2:last, no newline");
  assert_int_equal(s->ended, 1);
}

static void frames_become_lines_per_stream(void **state) {
  (void)state;
  char buf[256];
  size_t n = sample(buf);
  seen s = {0};
  container_logs *l = container_logs_new(on_line, on_end, &s);
  container_logs_feed(l, buf, n);
  assert_int_equal(s.lines.n, 3); /* the partial last line waits for the end */
  container_logs_finish(l);
  check(&s);
  container_logs_close(l);
  sv_free(&s.lines);
}

static void any_split_of_the_bytes_gives_the_same_lines(void **state) {
  (void)state;
  char buf[256];
  size_t n = sample(buf);
  for (size_t step = 1; step <= 13; step++) {
    seen s = {0};
    container_logs *l = container_logs_new(on_line, on_end, &s);
    for (size_t off = 0; off < n; off += step) container_logs_feed(l, buf + off, off + step > n ? n - off : step);
    container_logs_feed(l, buf, 0); /* an empty piece is nothing */
    container_logs_finish(l);
    check(&s);
    container_logs_close(l);
    sv_free(&s.lines);
  }
}

static void a_frame_cut_short_gives_no_line(void **state) {
  (void)state;
  char buf[64];
  size_t n = frame(buf, 1, "never complete\n");
  seen s = {0};
  container_logs *l = container_logs_new(on_line, NULL, &s);
  container_logs_feed(l, buf, n - 3);
  container_logs_finish(l);
  assert_int_equal(s.lines.n, 0);
  container_logs_close(l);
  sv_free(&s.lines);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(frames_become_lines_per_stream),
      cmocka_unit_test(any_split_of_the_bytes_gives_the_same_lines),
      cmocka_unit_test(a_frame_cut_short_gives_no_line),
  };
  return cmocka_run_group_tests_name("container", tests, NULL, NULL);
}
