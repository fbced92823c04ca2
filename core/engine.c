#include "engine.h"

#include "sshbridge.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stddef.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"

#define DEFAULT_SOCKET "/var/run/docker.sock"

/* libcurl is opened when the first client is, not linked: it and the
 * libraries it pulls in cost ~3 ms at every start of dbx, and most runs (a
 * build of commands, `dbx targets`) never talk to an engine. */
static struct {
  CURLcode (*global_init)(long);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
  CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_cleanup)(CURLM *);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  void (*easy_cleanup)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
  int loaded;
} api;

/* Open libcurl and find its functions; 0, or -1 with *err set (caller frees). */
static int load_curl(char **err) {
  if (api.loaded) return 0;
  static const dl_sym syms[] = {
#define SYM(f) {"curl_" #f, offsetof(__typeof__(api), f)}
      SYM(global_init),     SYM(multi_init),       SYM(multi_setopt),     SYM(multi_socket_action),
      SYM(multi_info_read), SYM(multi_assign),     SYM(multi_add_handle), SYM(multi_remove_handle),
      SYM(multi_cleanup),   SYM(easy_init),        SYM(easy_setopt),      SYM(easy_getinfo),
      SYM(easy_cleanup),    SYM(easy_strerror),    SYM(slist_append),     SYM(slist_free_all),
#undef SYM
  };
  if (dl_open_table("libcurl.so.4", "libcurl4", syms, sizeof syms / sizeof *syms, &api, err) < 0) return -1;
  api.loaded = 1;
  return 0;
}

struct engine {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  char *address;   /* as the user wrote it */
  char *socket;    /* unix socket path, or NULL for tcp */
  sshbridge *ssh;  /* for ssh://: the local socket that reaches it */
  char *base;      /* URL prefix */
  struct req *pending;
};

struct req;
static void unlink_req(engine *e, struct req *r);

/* One socket curl asked us to watch. */
struct watch {
  uv_poll_t poll;
  curl_socket_t fd;
  engine *e;
};

struct req {
  engine *e;
  struct req *prev, *next; /* pending requests, for engine_close */
  CURL *easy;
  struct curl_slist *headers;
  char *body;
  strbuf out;
  void (*on_chunk)(void *ud, const char *data, size_t len);
  void *chunk_ud;
  int streaming; /* 1 once a 2xx status has been seen with on_chunk set */
  char errbuf[CURL_ERROR_SIZE];
  engine_cb cb;
  void *ud;
};

static void unlink_req(engine *e, struct req *r) {
  if (r->prev) r->prev->next = r->next;
  else e->pending = r->next;
  if (r->next) r->next->prev = r->prev;
}

static void check_done(engine *e) {
  CURLMsg *m;
  int left;
  while ((m = api.multi_info_read(e->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    struct req *r;
    api.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    long status = -1;
    if (m->data.result == CURLE_OK) {
      api.easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    } else {
      r->out.len = 0;
      sb_adds(&r->out, r->errbuf[0] ? r->errbuf : api.easy_strerror(m->data.result));
      status = -(long)m->data.result;
    }
    unlink_req(e, r);
    api.multi_remove_handle(e->multi, r->easy);
    api.easy_cleanup(r->easy);
    api.slist_free_all(r->headers);
    if (!r->out.buf) sb_adds(&r->out, "");
    if (r->cb) r->cb(r->ud, status, r->out.buf, r->out.len);
    sb_free(&r->out);
    free(r->body);
    free(r);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct watch *w = h->data;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  api.multi_socket_action(w->e->multi, w->fd, flags, &running);
  check_done(w->e);
}

static void on_timer(uv_timer_t *t) {
  engine *e = t->data;
  int running;
  api.multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(e);
}

static void free_watch(uv_handle_t *h) { free(h->data); }

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  engine *e = userp;
  struct watch *w = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (w) {
      uv_poll_stop(&w->poll);
      uv_close((uv_handle_t *)&w->poll, free_watch);
      api.multi_assign(e->multi, fd, NULL);
    }
    return 0;
  }
  if (!w) {
    w = xcalloc(1, sizeof *w);
    w->fd = fd;
    w->e = e;
    w->poll.data = w;
    uv_poll_init_socket(e->loop, &w->poll, fd);
    api.multi_assign(e->multi, fd, w);
  }
  int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
  uv_poll_start(&w->poll, ev, on_poll);
  return 0;
}

static int timer_cb(CURLM *multi, long ms, void *userp) {
  (void)multi;
  engine *e = userp;
  if (ms < 0) uv_timer_stop(&e->timer);
  else uv_timer_start(&e->timer, on_timer, (uint64_t)ms, 0);
  return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  struct req *r = ud;
  if (r->on_chunk && !r->streaming && !r->out.len) {
    long status = 0;
    api.easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->streaming = status >= 200 && status < 300;
  }
  if (r->streaming) {
    r->on_chunk(r->chunk_ud ? r->chunk_ud : r->ud, p, size * n);
    return size * n;
  }
  sb_addn(&r->out, p, size * n);
  return size * n;
}

int engine_address_is_local(const char *a) {
  if (strncmp(a, "unix://", 7) == 0) return 1;
  if (strncmp(a, "tcp://", 6) != 0) return 0;
  a += 6;
  size_t n = a[0] == '[' ? strcspn(a, "]") + 1 : strcspn(a, ":/");
  if (n == 9 && strncasecmp(a, "localhost", 9) == 0) return 1;
  if (n == 5 && strncmp(a, "[::1]", 5) == 0) return 1;
  if (strncmp(a, "127.", 4) != 0) return 0;
  for (size_t i = 4; i < n; i++) /* a dotted address, not a name such as 127.example.com */
    if (!isdigit((unsigned char)a[i]) && a[i] != '.') return 0;
  return 1;
}

int engine_open(uv_loop_t *loop, const char *host, engine **out, char **err) {
  if (!host) host = getenv("DOCKER_HOST");
  if (!host || !*host) host = "unix://" DEFAULT_SOCKET;
  engine *e = xcalloc(1, sizeof *e);
  e->address = xstrdup(host);
  if (strncmp(host, "unix://", 7) == 0) {
    e->socket = xstrdup(host + 7);
    e->base = xstrdup("http://docker");
  } else if (strncmp(host, "tcp://", 6) == 0) {
    e->base = xasprintf("http://%s", host + 6);
  } else if (strncmp(host, "ssh://", 6) == 0) {
    if (sshbridge_open(loop, host, &e->ssh, err) < 0) {
      free(e->address);
      free(e);
      return -1;
    }
    e->socket = xstrdup(sshbridge_socket(e->ssh));
    e->base = xstrdup("http://docker");
  } else {
    *err = xasprintf("DOCKER_HOST=%s: dbx speaks to unix://, tcp:// and ssh:// engines", host);
    free(e->address);
    free(e);
    return -1;
  }
  if (load_curl(err) < 0) {
    sshbridge_close(e->ssh);
    free(e->address);
    free(e->socket);
    free(e->base);
    free(e);
    return -1;
  }
  static int global_init;
  /* Plain HTTP over a socket needs no TLS, but libcurl starts OpenSSL anyway:
   * start it first without reading openssl.cnf, which costs a millisecond a run. */
  if (!global_init++) {
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    api.global_init(CURL_GLOBAL_NOTHING);
  }
  e->loop = loop;
  e->multi = api.multi_init();
  api.multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  api.multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
  api.multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  api.multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
  uv_timer_init(loop, &e->timer);
  e->timer.data = e;
  *out = e;
  return 0;
}

const char *engine_address(const engine *e) { return e->address; }

uv_loop_t *engine_loop(const engine *e) { return e->loop; }

const char *engine_socket(const engine *e) { return e->socket; }

static void free_req(struct req *r) {
  api.easy_cleanup(r->easy);
  api.slist_free_all(r->headers);
  sb_free(&r->out);
  free(r->body);
  free(r);
}

void *engine_send(engine *e, const engine_req *q, engine_cb cb, void *ud) {
  struct req *r = xcalloc(1, sizeof *r);
  r->e = e;
  r->cb = cb;
  r->ud = ud;
  r->on_chunk = q->on_chunk;
  r->chunk_ud = q->chunk_ud;
  r->easy = api.easy_init();
  if (!r->easy) {
    free(r);
    return NULL;
  }
  char *url = xasprintf("%s%s", e->base, q->path);
  api.easy_setopt(r->easy, CURLOPT_URL, url);
  free(url);
  if (e->socket) api.easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, e->socket);
  api.easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, q->method);
  api.easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
  api.easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
  api.easy_setopt(r->easy, CURLOPT_PRIVATE, r);
  api.easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
  api.easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  if (q->timeout_ms > 0) api.easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, q->timeout_ms);
  char *ct = xasprintf("Content-Type: %s", q->content_type ? q->content_type : "application/json");
  r->headers = api.slist_append(NULL, ct);
  free(ct);
  if (q->header) r->headers = api.slist_append(r->headers, q->header);
  /* no "Expect: 100-continue" round trip before a body (an archive PUT) */
  if (q->body) r->headers = api.slist_append(r->headers, "Expect:");
  api.easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  if (q->body) {
    r->body = xmalloc(q->body_len + 1);
    memcpy(r->body, q->body, q->body_len);
    r->body[q->body_len] = 0;
    api.easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    api.easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
  } else if (strcmp(q->method, "POST") == 0) {
    api.easy_setopt(r->easy, CURLOPT_POSTFIELDS, "");
  }
  if (api.multi_add_handle(e->multi, r->easy) != CURLM_OK) {
    free_req(r);
    return NULL;
  }
  r->next = e->pending;
  if (r->next) r->next->prev = r;
  e->pending = r;
  return r;
}

void engine_cancel(engine *e, void *handle) {
  struct req *r = handle;
  if (!r) return;
  unlink_req(e, r);
  api.multi_remove_handle(e->multi, r->easy);
  free_req(r);
}

int engine_request(engine *e, const char *method, const char *path, const char *json_body,
                   engine_cb cb, void *ud) {
  engine_req q = {.method = method, .path = path, .body = json_body,
                  .body_len = json_body ? strlen(json_body) : 0};
  return engine_send(e, &q, cb, ud) ? 0 : -1;
}

struct sync_call {
  uv_loop_t *loop;
  int done;
  long status;
  char *body;
  size_t len;
};

static void on_sync(void *ud, long status, const char *body, size_t len) {
  struct sync_call *c = ud;
  c->done = 1;
  /* the answer may come in a timer callback: without this, uv_run would go on
   * to wait for I/O, for ever when other handles (signals) keep the loop alive */
  uv_stop(c->loop);
  c->status = status;
  c->body = xstrndup(body, len);
  c->len = len;
}

long engine_send_wait(engine *e, const engine_req *q, char **body, size_t *len) {
  struct sync_call c = {.loop = e->loop};
  if (!engine_send(e, q, on_sync, &c)) {
    if (body) *body = xstrdup("cannot queue the request");
    return -1;
  }
  while (!c.done) uv_run(e->loop, UV_RUN_ONCE);
  if (body) *body = c.body;
  else free(c.body);
  if (len) *len = c.len;
  return c.status;
}

long engine_call(engine *e, const char *method, const char *path, const char *json_body,
                 char **body) {
  engine_req q = {.method = method, .path = path, .body = json_body,
                  .body_len = json_body ? strlen(json_body) : 0};
  return engine_send_wait(e, &q, body, NULL);
}

int engine_has_bridge(engine *e) {
  char *body = NULL;
  long st = engine_call(e, "GET", "/networks/bridge", NULL, &body);
  free(body);
  return st == 200 ? 1 : st == 404 ? 0 : -1;
}

void engine_wait(engine *e, size_t *pending) {
  while (*pending) uv_run(e->loop, UV_RUN_ONCE);
}

char *engine_unreachable_msg(const engine *e, const char *why) {
  struct stat st;
  if (e->ssh) { /* what ssh said is the reason, when it said anything */
    const char *said = sshbridge_last_error(e->ssh);
    return xasprintf("cannot reach the container engine at %s over ssh: %s\n"
                     "  (dbx runs: ssh -o BatchMode=yes HOST docker system dial-stdio, with your ssh setup)",
                     e->address, said ? said : why);
  }
  if (e->socket && stat(e->socket, &st) < 0) why = "there is no such socket";
  else if (e->socket && strstr(why, "Couldn't connect")) why = "nothing answers on that socket";
  return xasprintf("cannot reach the container engine at %s: %s\n"
                   "  start one (scripts/engine.sh start starts a private dockerd and prints its DOCKER_HOST),\n"
                   "  or point DOCKER_HOST at a running engine",
                   e->address, why);
}

static void on_timer_close(uv_handle_t *h) {
  engine *e = h->data;
  free(e->address);
  free(e->socket);
  free(e->base);
  free(e);
}

void engine_close(engine *e) {
  if (!e) return;
  while (e->pending) engine_cancel(e, e->pending);
  api.multi_cleanup(e->multi);
  sshbridge_close(e->ssh);
  e->ssh = NULL;
  uv_close((uv_handle_t *)&e->timer, on_timer_close);
}
