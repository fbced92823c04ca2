#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct proc {
  uv_process_t child;
  uv_pipe_t out;
  uv_timer_t grace;
  int logfd;
  int pid;
  int exited, eof, killing, open_handles, reported;
  int64_t status;
  int signal;
  proc_opts o;
};

static void on_close(uv_handle_t *h) {
  proc *p = h->data;
  if (--p->open_handles == 0) free(p);
}

static void close_all(proc *p) {
  if (p->logfd >= 0) close(p->logfd);
  p->logfd = -1;
  uv_close((uv_handle_t *)&p->child, on_close);
  uv_close((uv_handle_t *)&p->out, on_close);
  uv_close((uv_handle_t *)&p->grace, on_close);
}

static void maybe_finish(proc *p) {
  if (!p->exited || !p->eof || p->reported) return;
  p->reported = 1;
  if (p->killing) kill(-p->pid, SIGKILL); /* anything of the group still there */
  uv_timer_stop(&p->grace);
  if (p->o.on_exit) p->o.on_exit(p->o.ud, p->status, p->signal);
  close_all(p);
}

static void on_child_exit(uv_process_t *h, int64_t status, int sig) {
  proc *p = h->data;
  p->exited = 1;
  p->status = status;
  p->signal = sig;
  if (!p->eof) proc_kill(p, 2000); /* whatever it left behind holds the output open */
  maybe_finish(p);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  (void)hint;
  static char slab[65536]; /* the loop is single-threaded; read_cb consumes it at once */
  buf->base = slab;
  buf->len = sizeof slab;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  proc *p = s->data;
  if (n > 0) {
    if (p->logfd >= 0) {
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = write(p->logfd, buf->base + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          if (p->o.log_errno && !*p->o.log_errno) *p->o.log_errno = errno;
          close(p->logfd); /* no more of it: a log with a hole is worse than a short one */
          p->logfd = -1;
          break;
        }
        off += w;
      }
    }
    if (p->o.on_output) p->o.on_output(p->o.ud, buf->base, (size_t)n);
    return;
  }
  if (n < 0) {
    uv_read_stop(s);
    p->eof = 1;
    maybe_finish(p);
  }
}

static void on_grace(uv_timer_t *t) {
  proc *p = t->data;
  kill(-p->pid, SIGKILL);
}

int proc_spawn(uv_loop_t *loop, const proc_opts *opts, proc **out) {
  proc *p = xcalloc(1, sizeof *p);
  p->o = *opts;
  p->logfd = -1;
  p->child.data = p->out.data = p->grace.data = p;
  if (opts->log_path) {
    p->logfd = open(opts->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (p->logfd < 0) {
      int e = -errno;
      free(p);
      return e;
    }
  }
  uv_file fds[2];
  int rc = uv_pipe(fds, 0, 0);
  if (rc < 0) {
    if (p->logfd >= 0) close(p->logfd);
    free(p);
    return rc;
  }
  uv_pipe_init(loop, &p->out, 0);
  uv_pipe_open(&p->out, fds[0]);
  uv_timer_init(loop, &p->grace);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD; /* stdout and stderr share one pipe: output stays in order */
  stdio[1].data.fd = fds[1];
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = fds[1];
  uv_process_options_t po = {0};
  po.exit_cb = on_child_exit;
  po.file = opts->argv[0];
  po.args = opts->argv;
  po.env = opts->env;
  po.cwd = opts->cwd;
  po.flags = UV_PROCESS_DETACHED; /* setsid(): own session and process group */
  po.stdio_count = 3;
  po.stdio = stdio;
  rc = uv_spawn(loop, &p->child, &po);
  close(fds[1]);
  if (rc < 0) {
    if (p->logfd >= 0) close(p->logfd);
    p->logfd = -1;
    /* the process handle must still be closed after a failed spawn */
    p->open_handles = 3;
    p->reported = 1;
    close_all(p);
    return rc;
  }
  p->pid = p->child.pid;
  p->open_handles = 3;
  uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
  *out = p;
  return 0;
}

void proc_kill(proc *p, unsigned grace_ms) {
  if (p->reported) return;
  kill(-p->pid, SIGTERM);
  if (!p->killing) {
    p->killing = 1;
    uv_timer_start(&p->grace, on_grace, grace_ms, 0);
  }
}

int proc_pid(const proc *p) { return p->pid; }
