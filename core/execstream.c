#include "execstream.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "container.h"

#define CONNECT_MS 5000 /* the connection, the request and the engine's answer to it */

struct execstream {
  uv_loop_t *loop;
  union {
    uv_stream_t s;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } h;
  uv_timer_t timer;
  uv_connect_t creq;
  uv_write_t wreq;
  int connected, connect_status; /* connect_status: 0, or the uv error */
  int wrote, write_status;
  int timed_out;
  int answered; /* the engine's HTTP answer has been read */
  int ended;    /* the process's output ended (or the connection) */
  int handles;     /* handles not closed yet (the timer, the stream); x is freed when the last one closes */
  int stream_open; /* the stream is initialised and not closed */
  const int *stop;   /* the caller's stop flag, or NULL */
  strbuf head;  /* the engine's answer, until its blank line */
  long status;  /* its HTTP status */
  container_logs *demux;
  strvec lines; /* stdout lines not taken yet, from lines.v[next] */
  size_t next;
  char *last_err; /* the process's last stderr line */
  char buf[65536];
};

static void on_timer(uv_timer_t *t) {
  execstream *x = t->data;
  x->timed_out = 1;
}

static int stopped(const execstream *x) { return x->stop && *x->stop; }

/* Run the loop until *flag is set, the output ends, ms pass or the caller
 * stops; 0 when *flag is set. */
static int wait_for(execstream *x, const int *flag, unsigned ms) {
  x->timed_out = 0;
  uv_timer_start(&x->timer, on_timer, ms, 0);
  while (!*flag && !x->ended && !x->timed_out && !stopped(x)) uv_run(x->loop, UV_RUN_ONCE);
  uv_timer_stop(&x->timer);
  return *flag ? 0 : -1;
}

static void on_line(void *ud, int stream, const char *line, size_t len) {
  execstream *x = ud;
  if (stream == 1) {
    sv_push_own(&x->lines, xstrndup(line, len));
  } else {
    free(x->last_err);
    x->last_err = xstrndup(line, len);
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  execstream *x = h->data;
  *b = uv_buf_init(x->buf, sizeof x->buf);
}

/* The engine's answer comes first; the process's framed output follows. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  execstream *x = s->data;
  if (n < 0) {
    x->ended = 1;
    uv_read_stop(s);
    return;
  }
  const char *p = b->base;
  size_t len = (size_t)n;
  if (!x->answered) {
    size_t had = x->head.len;
    sb_addn(&x->head, p, len);
    const char *end = memmem(x->head.buf, x->head.len, "\r\n\r\n", 4);
    if (!end) return;
    size_t head_len = (size_t)(end - x->head.buf) + 4;
    if (sscanf(x->head.buf, "HTTP/%*d.%*d %ld", &x->status) != 1) x->status = -1;
    x->answered = 1;
    p += head_len - had; /* what came after the blank line is the stream's */
    len -= head_len - had;
  }
  if (len) container_logs_feed(x->demux, p, len);
}

static void on_connect(uv_connect_t *r, int status) {
  execstream *x = r->data;
  x->connected = 1;
  x->connect_status = status;
}

static void on_write(uv_write_t *r, int status) {
  execstream *x = r->data;
  x->wrote = 1;
  x->write_status = status;
}

static void on_close(uv_handle_t *h) {
  execstream *x = h->data;
  if (--x->handles > 0) return;
  container_logs_close(x->demux);
  sb_free(&x->head);
  sv_free(&x->lines);
  free(x->last_err);
  free(x);
}

/* Close the stream (pending writes call back, cancelled); the output has ended. */
static void close_stream(execstream *x) {
  if (!x->stream_open) return;
  x->stream_open = 0;
  x->ended = 1;
  uv_read_stop(&x->h.s);
  uv_close((uv_handle_t *)&x->h.s, on_close);
}

/* Connect x to the engine's socket; 0, or -1 with *err set. */
static int connect_to(execstream *x, engine *e, char **host, char **err) {
  const char *sock = engine_socket(e);
  int rc;
  x->creq.data = x;
  if (sock) {
    uv_pipe_init(x->loop, &x->h.pipe, 0);
    x->h.s.data = x;
    x->handles++;
    x->stream_open = 1;
    uv_pipe_connect(&x->creq, &x->h.pipe, sock, on_connect);
    *host = xstrdup("docker");
  } else { /* tcp://HOST:PORT */
    const char *a = engine_address(e) + 6;
    size_t hn = a[0] == '[' ? strcspn(a, "]") + 1 : strcspn(a, ":/");
    if (a[0] == '[' && a[hn - 1] != ']') {
      *err = xasprintf("the engine's address %s has a '[' without its ']'", engine_address(e));
      return -1;
    }
    char *name = a[0] == '[' ? xstrndup(a + 1, hn - 2) : xstrndup(a, hn);
    const char *port = a[hn] == ':' ? a + hn + 1 : "2375";
    char *port_s = xstrndup(port, strcspn(port, "/"));
    uv_getaddrinfo_t gai;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    rc = uv_getaddrinfo(x->loop, &gai, NULL, name, port_s, &hints); /* no callback: answered at once */
    *host = xstrndup(a, strcspn(a, "/"));
    free(name);
    free(port_s);
    if (rc < 0) {
      *err = xasprintf("cannot find the engine's address %s: %s", *host, uv_strerror(rc));
      return -1;
    }
    /* each address the name has, in turn (localhost: ::1, then 127.0.0.1) */
    rc = UV_EADDRNOTAVAIL;
    for (struct addrinfo *ai = gai.addrinfo; ai && rc < 0; ai = ai->ai_next) {
      if (x->stream_open) { /* the last try's socket */
        close_stream(x);
        while (x->handles > 1) uv_run(x->loop, UV_RUN_ONCE);
        x->ended = 0;
      }
      uv_tcp_init(x->loop, &x->h.tcp);
      x->h.s.data = x;
      x->handles++;
      x->stream_open = 1;
      x->connected = 0;
      rc = uv_tcp_connect(&x->creq, &x->h.tcp, ai->ai_addr, on_connect);
      if (rc == 0 && wait_for(x, &x->connected, CONNECT_MS) < 0) rc = UV_ETIMEDOUT;
      else if (rc == 0) rc = x->connect_status;
    }
    uv_freeaddrinfo(gai.addrinfo);
    if (rc < 0) {
      *err = xasprintf("cannot connect to the engine at %s: %s", *host, uv_strerror(rc));
      return -1;
    }
    return 0;
  }
  if (wait_for(x, &x->connected, CONNECT_MS) < 0 || x->connect_status < 0) {
    *err = xasprintf("cannot connect to the engine at %s: %s", engine_address(e),
                     x->connected ? uv_strerror(x->connect_status) : "timed out");
    return -1;
  }
  return 0;
}

int execstream_open(engine *e, const char *id, const strvec *argv, const char *user, const int *stop,
                    execstream **out, char **err) {
  *out = NULL;
  signal(SIGPIPE, SIG_IGN); /* libuv writes with writev: a closed peer would end dbx */
  char *exec_id = NULL;
  if (container_exec_create(e, id, argv, user, 2, &exec_id, err) < 0) return -1;
  execstream *x = xcalloc(1, sizeof *x);
  x->loop = engine_loop(e);
  x->stop = stop;
  uv_timer_init(x->loop, &x->timer);
  x->timer.data = x;
  x->handles = 1;
  x->demux = container_logs_new(on_line, NULL, x);
  char *host = NULL;
  int rc = connect_to(x, e, &host, err);
  if (rc == 0) {
    static const char body[] = "{\"Detach\":false,\"Tty\":false}";
    char *req = xasprintf("POST /exec/%s/start HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                          "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: %zu\r\n\r\n%s",
                          exec_id, host, sizeof body - 1, body);
    uv_read_start(&x->h.s, on_alloc, on_read);
    rc = execstream_write(x, req, strlen(req), CONNECT_MS, err);
    free(req);
  }
  if (rc == 0 && wait_for(x, &x->answered, CONNECT_MS) < 0) {
    *err = xasprintf("starting a command in the container: %s",
                     x->ended ? "the engine closed the connection" : "the engine did not answer");
    rc = -1;
  }
  if (rc == 0 && x->status != 101 && x->status != 200) {
    const char *body = memmem(x->head.buf, x->head.len, "\r\n\r\n", 4);
    *err = xasprintf("starting a command in the container: the engine answered %ld%s%s", x->status,
                     body && body[4] ? ": " : "", body ? body + 4 : "");
    rc = -1;
  }
  free(host);
  free(exec_id);
  if (rc < 0) {
    execstream_close(x);
    return -1;
  }
  *out = x;
  return 0;
}

int execstream_write(execstream *x, const char *buf, size_t len, unsigned timeout_ms, char **err) {
  if (x->ended) {
    *err = xstrdup("the command in the container has ended");
    return -1;
  }
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  x->wrote = 0;
  x->wreq.data = x;
  int rc = uv_write(&x->wreq, &x->h.s, &b, 1, on_write);
  if (rc == 0) {
    wait_for(x, &x->wrote, timeout_ms);
    if (!x->wrote) { /* stalled, or stopped: give the connection up; the write calls back, cancelled */
      close_stream(x);
      while (!x->wrote) uv_run(x->loop, UV_RUN_ONCE);
      rc = stopped(x) ? UV_ECANCELED : UV_ETIMEDOUT;
    } else {
      rc = x->write_status;
    }
  }
  if (rc < 0) {
    *err = xasprintf("writing to the command in the container: %s", uv_strerror(rc));
    return -1;
  }
  return 0;
}

int execstream_line(execstream *x, unsigned timeout_ms, char **line, char **err) {
  int have = x->next < x->lines.n;
  if (!have) {
    x->timed_out = 0;
    uv_timer_start(&x->timer, on_timer, timeout_ms, 0);
    while (x->next >= x->lines.n && !x->ended && !x->timed_out && !stopped(x)) uv_run(x->loop, UV_RUN_ONCE);
    uv_timer_stop(&x->timer);
    if (x->ended) container_logs_finish(x->demux); /* a last line without its newline */
    have = x->next < x->lines.n;
  }
  if (!have) {
    *err = x->ended    ? xasprintf("the command in the container ended%s%s", x->last_err ? ": " : "",
                                   x->last_err ? x->last_err : "")
           : stopped(x) ? xstrdup("interrupted")
                        : xasprintf("the command in the container did not answer within %u ms", timeout_ms);
    return -1;
  }
  *line = x->lines.v[x->next];
  x->lines.v[x->next++] = NULL;
  if (x->next == x->lines.n) { /* all taken: start over */
    sv_free(&x->lines);
    x->next = 0;
  }
  return 0;
}

int execstream_ended(const execstream *x) { return x->ended; }

void execstream_close(execstream *x) {
  if (!x) return;
  close_stream(x);
  uv_close((uv_handle_t *)&x->timer, on_close);
}
