/* engine: the Docker Engine API client, against a small fake engine — a
 * thread serving HTTP/1.1 on a unix socket (or a tcp port) in the test's
 * folder, recording what it was sent and answering what the test set. */
#include "unit.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "engine.h"

#define MAXREQ 16

/* One request as the fake engine received it. */
typedef struct {
  char method[16];
  char path[256];
  char head[4096];
  char body[4096];
  size_t body_len;
} seen_req;

typedef struct {
  ut_tmpdir dir;
  uv_loop_t loop;
  engine *e;
  char *err;
  char *docker_host; /* DOCKER_HOST as the test program found it */
  /* the fake engine */
  char sock[100]; /* fits sockaddr_un */
  char addr[160]; /* how a client names it: unix://... or tcp://... */
  int lfd;
  pthread_t thread;
  int serving;
  atomic_int stop;
  pthread_mutex_t mu;
  int status;        /* what to answer (200 when not set) */
  const char *reply; /* the body; NULL echoes {"path":"..."} */
  size_t batch;      /* answer only once this many requests are in (0: at once) */
  seen_req seen[MAXREQ];
  size_t nseen;
} fixture;

/* ---- the fake engine ---- */

/* Read one request head and its body (by Content-Length) from c into r; 0 or -1. */
static int read_request(int c, seen_req *r) {
  char buf[8192];
  size_t n = 0;
  char *end = NULL;
  while (!end) {
    if (n == sizeof buf - 1) return -1;
    ssize_t k = read(c, buf + n, sizeof buf - 1 - n);
    if (k <= 0) return -1;
    n += (size_t)k;
    buf[n] = 0;
    end = strstr(buf, "\r\n\r\n");
  }
  size_t head_len = (size_t)(end - buf) + 4;
  if (head_len >= sizeof r->head) return -1;
  memcpy(r->head, buf, head_len);
  r->head[head_len] = 0;
  sscanf(r->head, "%15s %255s", r->method, r->path);
  size_t want = 0;
  const char *cl = strcasestr(r->head, "\r\nContent-Length:");
  if (cl) want = strtoul(cl + 17, NULL, 10);
  if (want >= sizeof r->body) return -1;
  size_t have = n - head_len;
  memcpy(r->body, buf + head_len, have < want ? have : want);
  while (have < want) {
    ssize_t k = read(c, r->body + have, want - have);
    if (k <= 0) return -1;
    have += (size_t)k;
  }
  r->body_len = want;
  r->body[want] = 0;
  return 0;
}

static void write_all(int c, const char *s, size_t n) {
  while (n) {
    ssize_t k = send(c, s, n, MSG_NOSIGNAL);
    if (k <= 0) return;
    s += k;
    n -= (size_t)k;
  }
}

static void answer(fixture *f, int c, const seen_req *r) {
  pthread_mutex_lock(&f->mu);
  int status = f->status ? f->status : 200;
  char *body = f->reply ? xstrdup(f->reply) : xasprintf("{\"path\":\"%s\"}", r->path);
  pthread_mutex_unlock(&f->mu);
  char *head = xasprintf("HTTP/1.1 %d Fake\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                         status, strlen(body));
  write_all(c, head, strlen(head));
  write_all(c, body, strlen(body));
  free(head);
  free(body);
}

static void *serve(void *arg) {
  fixture *f = arg;
  int held[MAXREQ];
  size_t nheld = 0;
  while (!atomic_load(&f->stop)) {
    struct pollfd p = {.fd = f->lfd, .events = POLLIN};
    if (poll(&p, 1, 10) <= 0) continue;
    int c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    seen_req r = {0};
    if (read_request(c, &r) < 0 || nheld == MAXREQ) {
      close(c);
      continue;
    }
    pthread_mutex_lock(&f->mu);
    size_t slot = f->nseen < MAXREQ ? f->nseen++ : MAXREQ - 1;
    f->seen[slot] = r;
    size_t batch = f->batch;
    pthread_mutex_unlock(&f->mu);
    held[nheld++] = c;
    if (nheld < batch) continue;
    for (size_t i = 0; i < nheld; i++) {
      pthread_mutex_lock(&f->mu);
      seen_req q = f->seen[slot + 1 - nheld + i];
      pthread_mutex_unlock(&f->mu);
      answer(f, held[i], &q);
      close(held[i]);
    }
    nheld = 0;
  }
  for (size_t i = 0; i < nheld; i++) close(held[i]);
  return NULL;
}

static void start_server(fixture *f) {
  atomic_store(&f->stop, 0);
  assert_int_equal(listen(f->lfd, MAXREQ), 0);
  assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
  f->serving = 1;
}

/* A fake engine on a unix socket in the test's folder. */
static void serve_unix(fixture *f) {
  f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(f->lfd >= 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->sock);
  assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  snprintf(f->addr, sizeof f->addr, "unix://%s", f->sock);
  start_server(f);
}

/* A fake engine on a free tcp port of 127.0.0.1. */
static void serve_tcp(fixture *f) {
  f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(f->lfd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t len = sizeof sa;
  assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
  snprintf(f->addr, sizeof f->addr, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
  start_server(f);
}

static void stop_server(fixture *f) {
  if (!f->serving) return;
  atomic_store(&f->stop, 1);
  pthread_join(f->thread, NULL);
  close(f->lfd);
  f->serving = 0;
}

/* Change the answer while the fake engine runs. */
static void set_reply(fixture *f, int status, const char *reply) {
  pthread_mutex_lock(&f->mu);
  f->status = status;
  f->reply = reply;
  pthread_mutex_unlock(&f->mu);
}

static size_t nseen(fixture *f) {
  pthread_mutex_lock(&f->mu);
  size_t n = f->nseen;
  pthread_mutex_unlock(&f->mu);
  return n;
}

/* ---- fixture ---- */

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 0) < 0) return -1;
  snprintf(f->sock, sizeof f->sock, "%s/engine.sock", f->dir.path);
  const char *dh = getenv("DOCKER_HOST");
  f->docker_host = dh ? xstrdup(dh) : NULL;
  pthread_mutex_init(&f->mu, NULL);
  if (uv_loop_init(&f->loop) < 0) return -1;
  *state = f;
  return 0;
}

/* Run the loop until nothing is left on it; whether that happened. */
static int drain(uv_loop_t *loop) {
  for (int i = 0; i < 1000 && uv_loop_alive(loop); i++) uv_run(loop, UV_RUN_NOWAIT);
  return !uv_loop_alive(loop);
}

static int teardown(void **state) {
  fixture *f = *state;
  engine_close(f->e);
  drain(&f->loop);
  stop_server(f);
  int rc = uv_loop_close(&f->loop);
  if (f->docker_host) setenv("DOCKER_HOST", f->docker_host, 1);
  else unsetenv("DOCKER_HOST");
  free(f->docker_host);
  free(f->err);
  pthread_mutex_destroy(&f->mu);
  ut_tmpdir_close(&f->dir);
  free(f);
  return rc == 0 ? 0 : -1;
}

static void open_engine(fixture *f, const char *host) {
  if (engine_open(&f->loop, host, &f->e, &f->err) < 0) fail_msg("engine_open: %s", f->err);
}

/* Run the loop until cond holds or ms pass; whether it holds. */
struct waiter {
  fixture *f;
  int (*cond)(fixture *);
  uint64_t deadline;
};

static void on_check(uv_timer_t *t) {
  struct waiter *w = t->data;
  if (w->cond(w->f) || uv_now(t->loop) >= w->deadline) uv_stop(t->loop);
}

static int run_until(fixture *f, int (*cond)(fixture *), unsigned ms) {
  uv_timer_t t;
  struct waiter w = {f, cond, uv_now(&f->loop) + ms};
  uv_timer_init(&f->loop, &t);
  t.data = &w;
  uv_timer_start(&t, on_check, 1, 1);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  return cond(f);
}

/* ---- tests ---- */

static void get_returns_status_and_body(void **state) {
  fixture *f = *state;
  f->reply = "{\"ApiVersion\":\"1.43\",\"Os\":\"linux\"}";
  serve_unix(f);
  open_engine(f, f->addr);
  assert_string_equal(engine_address(f->e), f->addr);
  char *body = NULL;
  long st = engine_call(f->e, "GET", "/version", NULL, &body);
  assert_int_equal(st, 200);
  assert_string_equal(body, "{\"ApiVersion\":\"1.43\",\"Os\":\"linux\"}");
  free(body);
  assert_int_equal(nseen(f), 1);
  assert_string_equal(f->seen[0].method, "GET");
  assert_string_equal(f->seen[0].path, "/version");
  assert_int_equal(f->seen[0].body_len, 0);
}

static void post_sends_the_json_body(void **state) {
  fixture *f = *state;
  f->status = 201;
  f->reply = "{\"Id\":\"abc123\",\"Warnings\":[]}";
  serve_unix(f);
  open_engine(f, f->addr);
  const char *json = "{\"Image\":\"alpine:3.19\",\"Cmd\":[\"echo\",\"hi there\"]}";
  char *body = NULL;
  long st = engine_call(f->e, "POST", "/containers/create?name=web", json, &body);
  assert_int_equal(st, 201);
  assert_string_equal(body, "{\"Id\":\"abc123\",\"Warnings\":[]}");
  free(body);
  assert_int_equal(nseen(f), 1);
  seen_req *r = &f->seen[0];
  assert_string_equal(r->method, "POST");
  assert_string_equal(r->path, "/containers/create?name=web");
  assert_int_equal(r->body_len, strlen(json));
  assert_string_equal(r->body, json);
  if (!strcasestr(r->head, "\r\nContent-Type: application/json\r\n"))
    fail_msg("no JSON content type in:\n%s", r->head);
}

static void post_without_a_body_sends_an_empty_one(void **state) {
  fixture *f = *state;
  f->status = 204;
  f->reply = "";
  serve_unix(f);
  open_engine(f, f->addr);
  char *body = NULL;
  assert_int_equal(engine_call(f->e, "POST", "/containers/web/start", NULL, &body), 204);
  assert_string_equal(body, "");
  free(body);
  assert_string_equal(f->seen[0].method, "POST");
  if (!strcasestr(f->seen[0].head, "\r\nContent-Length: 0\r\n"))
    fail_msg("a POST without a body should say Content-Length: 0:\n%s", f->seen[0].head);
}

static void long_answer_arrives_whole(void **state) {
  fixture *f = *state;
  size_t n = 300000;
  char *big = xmalloc(n + 1);
  for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
  big[n] = 0;
  f->reply = big;
  serve_unix(f);
  open_engine(f, f->addr);
  char *body = NULL;
  assert_int_equal(engine_call(f->e, "GET", "/images/json", NULL, &body), 200);
  assert_int_equal(strlen(body), n);
  assert_memory_equal(body, big, n);
  free(body);
  stop_server(f); /* before big goes */
  free(big);
}

struct answer {
  int calls;
  long status;
  char *body;
};

static void on_answer(void *ud, long status, const char *body, size_t len) {
  struct answer *a = ud;
  a->calls++;
  a->status = status;
  free(a->body);
  a->body = xstrndup(body, len);
}

static struct answer answers[3];

static int all_answered(fixture *f) {
  (void)f;
  for (size_t i = 0; i < 3; i++)
    if (!answers[i].calls) return 0;
  return 1;
}

/* The fake engine answers none until all three are in: they must be sent
 * together, not one after another. */
static void requests_in_flight_together_all_get_answers(void **state) {
  fixture *f = *state;
  f->batch = 3;
  serve_unix(f);
  open_engine(f, f->addr);
  memset(answers, 0, sizeof answers);
  const char *paths[] = {"/images/a/json", "/images/b/json", "/images/c/json"};
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(engine_request(f->e, "GET", paths[i], NULL, on_answer, &answers[i]), 0);
  int done = run_until(f, all_answered, 5000);
  size_t got = nseen(f);
  for (size_t i = 0; done && i < 3; i++) {
    char *want = xasprintf("{\"path\":\"%s\"}", paths[i]);
    assert_int_equal(answers[i].calls, 1);
    assert_int_equal(answers[i].status, 200);
    assert_string_equal(answers[i].body, want);
    free(want);
  }
  for (size_t i = 0; i < 3; i++) free(answers[i].body);
  if (!done) fail_msg("only %zu of 3 requests reached the engine together", got);
  assert_int_equal(got, 3);
}

static void error_status_is_passed_through(void **state) {
  fixture *f = *state;
  f->status = 404;
  f->reply = "{\"message\":\"No such image: nope:latest\"}";
  serve_unix(f);
  open_engine(f, f->addr);
  char *body = NULL;
  assert_int_equal(engine_call(f->e, "GET", "/images/nope:latest/json", NULL, &body), 404);
  assert_string_equal(body, "{\"message\":\"No such image: nope:latest\"}");
  free(body);

  set_reply(f, 500, "{\"message\":\"server error\"}");
  assert_int_equal(engine_call(f->e, "GET", "/info", NULL, &body), 500);
  assert_string_equal(body, "{\"message\":\"server error\"}");
  free(body);
}

/* The bridge network is asked about by name; a 404 means the engine has none,
 * anything but 200 or 404 is no answer either way. */
static void bridge_network_is_asked_for_by_name(void **state) {
  fixture *f = *state;
  serve_unix(f);
  open_engine(f, f->addr);
  assert_int_equal(engine_has_bridge(f->e), 1);
  assert_string_equal(f->seen[0].method, "GET");
  assert_string_equal(f->seen[0].path, "/networks/bridge");

  set_reply(f, 404, "{\"message\":\"network bridge not found\"}");
  assert_int_equal(engine_has_bridge(f->e), 0);
  set_reply(f, 500, "{\"message\":\"server error\"}");
  assert_int_equal(engine_has_bridge(f->e), -1);
}

/* A negative status, and a message naming the address, a reason and what to do. */
static void expect_unreachable(fixture *f, const char *addr) {
  open_engine(f, addr);
  char *body = NULL;
  long st = engine_call(f->e, "GET", "/_ping", NULL, &body);
  if (st >= 0) fail_msg("status %ld from %s, where nobody listens", st, addr);
  assert_non_null(body);
  assert_true(strlen(body) > 0); /* curl's reason */
  char *msg = engine_unreachable_msg(f->e, body);
  char *lead = xasprintf("%s: ", addr);
  const char *why = strstr(msg, lead);
  if (!why || why[strlen(lead)] == '\n' || !why[strlen(lead)] || !strstr(msg, "DOCKER_HOST") ||
      !strstr(msg, "start"))
    fail_msg("the message should name %s, a reason, and how to start an engine:\n%s", addr, msg);
  free(lead);
  free(msg);
  free(body);
  engine_close(f->e);
  f->e = NULL;
}

static void nothing_listening_gives_a_negative_status_and_advice(void **state) {
  fixture *f = *state;
  char *addr = xasprintf("unix://%s/nobody.sock", f->dir.path);
  expect_unreachable(f, addr); /* no socket file at all */
  free(addr);

  /* a socket file left behind by an engine that is gone */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->sock);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  close(fd);
  addr = xasprintf("unix://%s", f->sock);
  expect_unreachable(f, addr);
  free(addr);
}

static void docker_host_from_the_environment_is_used(void **state) {
  fixture *f = *state;
  serve_unix(f);
  setenv("DOCKER_HOST", f->addr, 1);
  open_engine(f, NULL);
  assert_string_equal(engine_address(f->e), f->addr);
  char *body = NULL;
  assert_int_equal(engine_call(f->e, "GET", "/_ping", NULL, &body), 200);
  free(body);
  assert_int_equal(nseen(f), 1);
  assert_string_equal(f->seen[0].path, "/_ping");
}

static void without_docker_host_the_default_socket_is_named(void **state) {
  fixture *f = *state;
  unsetenv("DOCKER_HOST");
  open_engine(f, NULL);
  assert_string_equal(engine_address(f->e), "unix:///var/run/docker.sock");
  engine_close(f->e);
  f->e = NULL;
  setenv("DOCKER_HOST", "", 1);
  open_engine(f, NULL);
  assert_string_equal(engine_address(f->e), "unix:///var/run/docker.sock");
}

static void tcp_engine_is_reached(void **state) {
  fixture *f = *state;
  serve_tcp(f);
  open_engine(f, f->addr);
  char *body = NULL;
  assert_int_equal(engine_call(f->e, "GET", "/_ping", NULL, &body), 200);
  assert_string_equal(body, "{\"path\":\"/_ping\"}");
  free(body);
}

static void ssh_host_gets_a_bridge_that_closes_cleanly(void **state) {
  fixture *f = *state;
  engine *e = NULL;
  assert_int_equal(engine_open(&f->loop, "ssh://deploy@127.0.0.1:1", &e, &f->err), 0);
  assert_non_null(e);
  assert_string_equal(engine_address(e), "ssh://deploy@127.0.0.1:1");
  assert_false(uv_loop_alive(&f->loop)); /* a bridge waiting for connections keeps nothing running */
  engine_close(e);
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void other_schemes_are_refused_naming_the_ones_it_speaks(void **state) {
  fixture *f = *state;
  engine *e = NULL;
  assert_int_equal(engine_open(&f->loop, "npipe:////./pipe/docker_engine", &e, &f->err), -1);
  assert_null(e);
  if (!strstr(f->err, "npipe://") || !strstr(f->err, "unix://") || !strstr(f->err, "tcp://") ||
      !strstr(f->err, "ssh://"))
    fail_msg("the message should name the address and the schemes dbx speaks:\n%s", f->err);
  assert_false(uv_loop_alive(&f->loop)); /* nothing left behind */
}

static void local_addresses_are_told_from_other_machines(void **state) {
  (void)state;
  const char *local[] = {"unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "tcp://127.1.2.3:2375",
                         "tcp://localhost:2375", "tcp://LOCALHOST", "tcp://[::1]:2375", "tcp://127.0.0.1"};
  const char *other[] = {"tcp://10.0.0.5:2375", "tcp://127.example.com:2375", "tcp://localhost.example:2375",
                         "tcp://build-box:2376", "tcp://[fe80::1]:2375", "ssh://127.0.0.1",
                         "ssh://root@localhost:22", "npipe:////./pipe/docker_engine"};
  for (size_t i = 0; i < sizeof local / sizeof *local; i++)
    if (!engine_address_is_local(local[i])) fail_msg("%s is on this machine", local[i]);
  for (size_t i = 0; i < sizeof other / sizeof *other; i++)
    if (engine_address_is_local(other[i])) fail_msg("%s is not taken to be on this machine", other[i]);
}

static int one_seen(fixture *f) { return nseen(f) >= 1; }

static void close_with_a_request_pending_calls_nothing(void **state) {
  fixture *f = *state;
  f->batch = MAXREQ + 1; /* receives, never answers */
  serve_unix(f);
  open_engine(f, f->addr);
  struct answer a = {0};
  assert_int_equal(engine_request(f->e, "GET", "/events", NULL, on_answer, &a), 0);
  if (!run_until(f, one_seen, 5000)) fail_msg("the request never reached the engine");
  assert_int_equal(a.calls, 0);
  engine_close(f->e);
  f->e = NULL;
  if (!drain(&f->loop)) fail_msg("handles still open on the loop after engine_close");
  assert_int_equal(a.calls, 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  assert_int_equal(uv_loop_init(&f->loop), 0); /* for teardown */
}

static void close_before_the_loop_ran_calls_nothing(void **state) {
  fixture *f = *state;
  serve_unix(f);
  open_engine(f, f->addr);
  struct answer a = {0};
  for (int i = 0; i < 3; i++)
    assert_int_equal(engine_request(f->e, "POST", "/build", "{}", on_answer, &a), 0);
  engine_close(f->e);
  f->e = NULL;
  if (!drain(&f->loop)) fail_msg("handles still open on the loop after engine_close");
  assert_int_equal(a.calls, 0);
}

int main(void) {
  alarm(60); /* a hang is a failure, not a stuck run */
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(get_returns_status_and_body),
      T(post_sends_the_json_body),
      T(post_without_a_body_sends_an_empty_one),
      T(long_answer_arrives_whole),
      T(requests_in_flight_together_all_get_answers),
      T(error_status_is_passed_through),
      T(bridge_network_is_asked_for_by_name),
      T(nothing_listening_gives_a_negative_status_and_advice),
      T(docker_host_from_the_environment_is_used),
      T(without_docker_host_the_default_socket_is_named),
      T(tcp_engine_is_reached),
      T(ssh_host_gets_a_bridge_that_closes_cleanly),
      T(other_schemes_are_refused_naming_the_ones_it_speaks),
      T(local_addresses_are_told_from_other_machines),
      T(close_with_a_request_pending_calls_nothing),
      T(close_before_the_loop_ran_calls_nothing),
  };
  return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
