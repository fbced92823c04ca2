/* sshbridge: which ssh:// addresses it takes, the private socket it listens
 * on, and what a connection through it says when ssh cannot log in. The
 * bridge carrying an engine's API is exercised by tests/e2e/test_ssh_engine.py. */
#include "unit.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <uv.h>

#include "sshbridge.h"

static void malformed_addresses_are_refused(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *bad[] = {"ssh://", "ssh://-oProxyCommand=x", "ssh://host:port", "ssh://us er@host",
                       "ssh://@host", "ssh://host:", "ssh://a;b", "ssh://-l@host"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sshbridge *b = NULL;
    char *err = NULL;
    assert_int_equal(sshbridge_open(&loop, bad[i], &b, &err), -1);
    assert_non_null(strstr(err, "an ssh engine is named ssh://[USER@]HOST[:PORT]"));
    free(err);
  }
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void a_bridge_listens_privately_and_cleans_up(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  sshbridge *b = NULL;
  char *err = NULL;
  assert_int_equal(sshbridge_open(&loop, "ssh://someone@127.0.0.1:22", &b, &err), 0);
  char *sock = xstrdup(sshbridge_socket(b));
  struct stat st;
  assert_int_equal(stat(sock, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  char *dir = xstrdup(sock);
  *strrchr(dir, '/') = 0;
  assert_int_equal(stat(dir, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700); /* mkdtemp: only this user reaches the engine through it */
  assert_null(sshbridge_last_error(b));
  sshbridge_close(b);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(stat(sock, &st), -1);
  assert_int_equal(stat(dir, &st), -1);
  assert_int_equal(uv_loop_close(&loop), 0);
  free(sock);
  free(dir);
}

static int connected, ended;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h, (void)hint;
  static char slab[4096];
  *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n < 0) {
    ended = 1;
    uv_read_stop(s);
  }
}

/* Connected: read (which keeps the loop running, as a request would) until the bridge ends it. */
static void on_connect(uv_connect_t *req, int status) {
  connected = status == 0 ? 1 : -1;
  if (status == 0) uv_read_start(req->handle, on_alloc, on_read);
}

static void a_failed_login_leaves_ssh_s_reason(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  sshbridge *b = NULL;
  char *err = NULL;
  /* port 1 on loopback: nothing listens, ssh says so and exits */
  assert_int_equal(sshbridge_open(&loop, "ssh://root@127.0.0.1:1", &b, &err), 0);
  uv_pipe_t client;
  uv_pipe_init(&loop, &client, 0);
  uv_connect_t req;
  uv_pipe_connect(&req, &client, sshbridge_socket(b), on_connect);
  connected = ended = 0;
  uv_run(&loop, UV_RUN_DEFAULT); /* until the connection ends: ssh could not log in */
  assert_int_equal(connected, 1);
  assert_int_equal(ended, 1);
  assert_non_null(sshbridge_last_error(b));
  assert_non_null(strstr(sshbridge_last_error(b), "port 1"));
  uv_close((uv_handle_t *)&client, NULL);
  sshbridge_close(b);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(malformed_addresses_are_refused),
      cmocka_unit_test(a_bridge_listens_privately_and_cleans_up),
      cmocka_unit_test(a_failed_login_leaves_ssh_s_reason),
  };
  return cmocka_run_group_tests_name("sshbridge", tests, NULL, NULL);
}
