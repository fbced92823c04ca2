#include "sshbridge.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct conn;

struct sshbridge {
  uv_loop_t *loop;
  uv_pipe_t server;
  char *dir, *sock;
  char *host, *user, *port;
  char *last_error;
  struct conn *conns;
  int closing, server_closed;
};

static void free_bridge(sshbridge *b);

/* Free b once its server and every connection have closed. */
static void maybe_free(sshbridge *b) {
  if (b->server_closed && !b->conns) free_bridge(b);
}

/* One connection: the client's socket and the ssh that carries it. */
struct conn {
  sshbridge *b;
  struct conn *prev, *next;
  uv_pipe_t client, to_ssh, from_ssh, ssh_err;
  uv_process_t proc;
  int open;      /* handles not yet closed */
  int closing;
  int running;   /* the ssh process has not exited */
  int out_eof, err_eof;
  int has_proc;  /* uv_spawn was called on proc (so it must be closed) */
  int64_t status;
  strbuf err;    /* ssh's stderr, for the message */
};

struct wr {
  uv_write_t req;
  uv_buf_t buf;
};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  buf->base = xmalloc(hint ? hint : 65536);
  buf->len = hint ? hint : 65536;
}

static void on_written(uv_write_t *req, int status) {
  (void)status;
  struct wr *w = (struct wr *)req;
  free(w->buf.base);
  free(w);
}

/* Write a copy of n bytes at data to stream (dropped if it is closing). */
static void write_copy(uv_stream_t *to, const char *data, size_t n) {
  if (uv_is_closing((uv_handle_t *)to)) return;
  struct wr *w = xmalloc(sizeof *w);
  w->buf = uv_buf_init(xmalloc(n), (unsigned)n);
  memcpy(w->buf.base, data, n);
  if (uv_write(&w->req, to, &w->buf, 1, on_written) < 0) {
    free(w->buf.base);
    free(w);
  }
}

static void on_conn_handle_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  if (--c->open > 0) return;
  sshbridge *b = c->b;
  if (c->prev) c->prev->next = c->next;
  else b->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  sb_free(&c->err);
  free(c);
  maybe_free(b);
}

static void conn_close(struct conn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->running) uv_process_kill(&c->proc, SIGTERM);
  uv_handle_t *hs[] = {(uv_handle_t *)&c->client, (uv_handle_t *)&c->to_ssh, (uv_handle_t *)&c->from_ssh,
                       (uv_handle_t *)&c->ssh_err};
  for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
    if (!uv_is_closing(hs[i])) uv_close(hs[i], on_conn_handle_closed);
  /* not waiting for a killed ssh to exit: its handle closes now, with the rest */
  if (c->has_proc && !uv_is_closing((uv_handle_t *)&c->proc))
    uv_close((uv_handle_t *)&c->proc, on_conn_handle_closed);
  c->running = 0;
}

/* Once ssh has exited and both its outputs ended: keep why it failed (before
 * the client sees the connection end and asks), then close the connection. */
static void maybe_finish(struct conn *c) {
  if (c->running || !c->out_eof || !c->err_eof || c->closing) return;
  if (c->status && c->err.len) { /* the last line ssh printed says why */
    char *s = c->err.buf;
    while (c->err.len && (s[c->err.len - 1] == '\n' || s[c->err.len - 1] == '\r')) s[--c->err.len] = 0;
    char *line = strrchr(s, '\n');
    free(c->b->last_error);
    c->b->last_error = xstrdup(line ? line + 1 : s);
  }
  conn_close(c);
}

static void on_ssh_exit(uv_process_t *p, int64_t status, int sig) {
  struct conn *c = p->data;
  c->running = 0;
  c->status = sig ? 128 + sig : status;
  uv_close((uv_handle_t *)p, on_conn_handle_closed);
  maybe_finish(c);
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (n > 0) write_copy((uv_stream_t *)&c->to_ssh, buf->base, (size_t)n);
  free(buf->base);
  if (n == UV_EOF) { /* the client is done sending: so is ssh's stdin */
    uv_read_stop(s);
    if (!uv_is_closing((uv_handle_t *)&c->to_ssh)) uv_close((uv_handle_t *)&c->to_ssh, on_conn_handle_closed);
  } else if (n < 0) {
    conn_close(c);
  }
}

static void on_ssh_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (n > 0) write_copy((uv_stream_t *)&c->client, buf->base, (size_t)n);
  free(buf->base);
  if (n < 0) { /* ssh's output ended: the connection ends once ssh has */
    uv_read_stop(s);
    c->out_eof = 1;
    maybe_finish(c);
  }
}

static void on_ssh_err(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (n > 0 && c->err.len < 4096) sb_addn(&c->err, buf->base, (size_t)n);
  free(buf->base);
  if (n < 0) {
    uv_read_stop(s);
    c->err_eof = 1;
    maybe_finish(c);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  sshbridge *b = server->data;
  if (status < 0 || b->closing) return;
  struct conn *c = xcalloc(1, sizeof *c);
  c->b = b;
  uv_pipe_init(b->loop, &c->client, 0);
  uv_pipe_init(b->loop, &c->to_ssh, 0);
  uv_pipe_init(b->loop, &c->from_ssh, 0);
  uv_pipe_init(b->loop, &c->ssh_err, 0);
  c->client.data = c->to_ssh.data = c->from_ssh.data = c->ssh_err.data = c->proc.data = c;
  c->open = 4;
  c->next = b->conns;
  if (c->next) c->next->prev = c;
  b->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->client) < 0) {
    conn_close(c);
    return;
  }
  strvec argv = {0};
  sv_push(&argv, "ssh");
  sv_push(&argv, "-o");
  sv_push(&argv, "BatchMode=yes");
  if (b->user) {
    sv_push(&argv, "-l");
    sv_push(&argv, b->user);
  }
  if (b->port) {
    sv_push(&argv, "-p");
    sv_push(&argv, b->port);
  }
  sv_push(&argv, "--");
  sv_push(&argv, b->host);
  sv_push(&argv, "docker");
  sv_push(&argv, "system");
  sv_push(&argv, "dial-stdio");
  sv_push_own(&argv, NULL);
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&c->to_ssh},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->from_ssh},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->ssh_err}};
  uv_process_options_t po = {.exit_cb = on_ssh_exit, .file = "ssh", .args = argv.v, .stdio_count = 3, .stdio = stdio};
  int rc = uv_spawn(b->loop, &c->proc, &po);
  c->has_proc = 1;
  sv_free(&argv);
  if (rc < 0) {
    free(b->last_error);
    b->last_error = xasprintf("cannot run ssh: %s", uv_strerror(rc));
    c->open++; /* the process handle must be closed too */
    uv_close((uv_handle_t *)&c->proc, on_conn_handle_closed);
    c->closing = 0;
    conn_close(c);
    return;
  }
  c->running = 1;
  c->open++;
  /* none of it keeps the loop running: requests do (curl's own handles), and
   * an idle kept-alive connection must not hold up whoever runs the loop */
  uv_handle_t *hs[] = {(uv_handle_t *)&c->client, (uv_handle_t *)&c->to_ssh, (uv_handle_t *)&c->from_ssh,
                       (uv_handle_t *)&c->ssh_err, (uv_handle_t *)&c->proc};
  for (size_t i = 0; i < sizeof hs / sizeof *hs; i++) uv_unref(hs[i]);
  uv_read_start((uv_stream_t *)&c->client, on_alloc, on_client_read);
  uv_read_start((uv_stream_t *)&c->from_ssh, on_alloc, on_ssh_read);
  uv_read_start((uv_stream_t *)&c->ssh_err, on_alloc, on_ssh_err);
}

/* Split "ssh://[USER@]HOST[:PORT]" into b; 0, or -1 with *err set. */
static int parse(sshbridge *b, const char *url, char **err) {
  const char *p = url + 6, *at = strchr(p, '@');
  if (at) b->user = xstrndup(p, (size_t)(at - p)), p = at + 1;
  const char *colon = strrchr(p, ':');
  b->host = colon ? xstrndup(p, (size_t)(colon - p)) : xstrdup(p);
  if (colon) b->port = xstrdup(colon + 1);
  int ok = *b->host && b->host[0] != '-';
  for (const char *q = b->host; ok && *q; q++)
    ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '.' || *q == '-';
  for (const char *q = b->user; ok && q && *q; q++)
    ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '.' ||
         *q == '-' || *q == '_';
  for (const char *q = b->port; ok && q && *q; q++) ok = *q >= '0' && *q <= '9';
  ok = ok && (!b->port || *b->port) && (!b->user || (*b->user && b->user[0] != '-'));
  if (!ok) *err = xasprintf("DOCKER_HOST=%s: an ssh engine is named ssh://[USER@]HOST[:PORT]", url);
  return ok ? 0 : -1;
}

static void free_bridge(sshbridge *b) {
  free(b->dir), free(b->sock), free(b->host), free(b->user), free(b->port), free(b->last_error);
  free(b);
}

int sshbridge_open(uv_loop_t *loop, const char *url, sshbridge **out, char **err) {
  /* a write to an ssh that has gone must be an error, not the end of dbx
   * (children start with the default again: libuv resets it when it spawns) */
  signal(SIGPIPE, SIG_IGN);
  sshbridge *b = xcalloc(1, sizeof *b);
  b->loop = loop;
  if (parse(b, url, err) < 0) {
    free_bridge(b);
    return -1;
  }
  const char *tmp = getenv("TMPDIR");
  char *dir = xasprintf("%s/dbx-ssh-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    *err = xasprintf("cannot make a folder for the ssh bridge: %s", strerror(errno));
    free(dir);
    free_bridge(b);
    return -1;
  }
  b->dir = dir;
  b->sock = xasprintf("%s/engine.sock", dir);
  uv_pipe_init(loop, &b->server, 0);
  b->server.data = b;
  int rc = uv_pipe_bind(&b->server, b->sock);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&b->server, 16, on_connection);
  if (rc < 0) {
    *err = xasprintf("cannot listen on %s: %s", b->sock, uv_strerror(rc));
    uv_close((uv_handle_t *)&b->server, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    unlink(b->sock);
    rmdir(b->dir);
    free_bridge(b);
    return -1;
  }
  uv_unref((uv_handle_t *)&b->server);
  *out = b;
  return 0;
}

const char *sshbridge_socket(const sshbridge *b) { return b->sock; }

const char *sshbridge_last_error(const sshbridge *b) { return b->last_error; }

static void on_server_closed(uv_handle_t *h) {
  sshbridge *b = h->data;
  b->server_closed = 1;
  maybe_free(b);
}

void sshbridge_close(sshbridge *b) {
  if (!b) return;
  b->closing = 1;
  for (struct conn *c = b->conns, *next; c; c = next) {
    next = c->next;
    conn_close(c);
  }
  unlink(b->sock);
  rmdir(b->dir);
  uv_close((uv_handle_t *)&b->server, on_server_closed);
}
