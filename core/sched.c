#include "sched.h"

#include <stdlib.h>

#include "util.h"

enum { WAITING, READY, RUNNING, FINISHED };

struct node {
  size_t pending;     /* unfinished dependencies */
  size_t *rdeps;      /* nodes that wait for this one */
  size_t nrdeps, caprdeps;
  int pool, state;
};

struct pool {
  unsigned limit, running;
};

struct sched {
  uv_idle_t idle;
  struct node *nodes;
  size_t n, finished, running;
  size_t *ready; /* FIFO of READY nodes */
  size_t rhead, rtail;
  struct pool *pools;
  int npools;
  unsigned jobs;
  int keep_going, stopped, reported;
  sched_ops ops;
  void *ud;
};

sched *sched_new(uv_loop_t *loop, size_t n, const sched_ops *ops, void *ud, unsigned jobs,
                 int keep_going) {
  sched *s = xcalloc(1, sizeof *s);
  s->nodes = xcalloc(n, sizeof *s->nodes);
  s->ready = xmalloc((n ? n : 1) * sizeof *s->ready);
  s->n = n;
  s->ops = *ops;
  s->ud = ud;
  s->jobs = jobs ? jobs : 1;
  s->keep_going = keep_going;
  uv_idle_init(loop, &s->idle);
  s->idle.data = s;
  return s;
}

void sched_dep(sched *s, size_t node, size_t dep) {
  struct node *d = &s->nodes[dep];
  if (d->nrdeps == d->caprdeps) {
    d->caprdeps = d->caprdeps ? d->caprdeps * 2 : 4;
    d->rdeps = xrealloc(d->rdeps, d->caprdeps * sizeof *d->rdeps);
  }
  d->rdeps[d->nrdeps++] = node;
  s->nodes[node].pending++;
}

int sched_pool(sched *s, unsigned limit) {
  s->pools = xrealloc(s->pools, (size_t)(s->npools + 1) * sizeof *s->pools);
  s->pools[s->npools] = (struct pool){limit ? limit : 1, 0};
  return ++s->npools;
}

void sched_set_pool(sched *s, size_t node, int pool) { s->nodes[node].pool = pool; }

size_t sched_running(const sched *s) { return s->running; }

static void pump(uv_idle_t *h);

static void kick(sched *s) { uv_idle_start(&s->idle, pump); }

static void make_ready(sched *s, size_t i) {
  s->nodes[i].state = READY;
  s->ready[s->rtail++] = i;
}

/* Mark i finished and release the nodes that wait for it. */
static void finish(sched *s, size_t i, int ok);

static void skip_node(sched *s, size_t i) {
  if (s->nodes[i].state == FINISHED || s->nodes[i].state == RUNNING) return;
  if (s->ops.skip) s->ops.skip(s->ud, i);
  finish(s, i, 0);
}

static void finish(sched *s, size_t i, int ok) {
  struct node *nd = &s->nodes[i];
  nd->state = FINISHED;
  s->finished++;
  for (size_t k = 0; k < nd->nrdeps; k++) {
    size_t r = nd->rdeps[k];
    if (s->nodes[r].state != WAITING) continue;
    if (!ok) skip_node(s, r);
    else if (--s->nodes[r].pending == 0) make_ready(s, r);
  }
}

static void pump(uv_idle_t *h) {
  sched *s = h->data;
  uv_idle_stop(h);
  if (s->stopped) {
    /* drop everything that has not started */
    for (size_t i = 0; i < s->n; i++)
      if (s->nodes[i].state == WAITING || s->nodes[i].state == READY) skip_node(s, i);
    s->rhead = s->rtail = 0;
  }
  for (size_t k = s->rhead; k < s->rtail && !s->stopped;) {
    size_t i = s->ready[k];
    struct node *nd = &s->nodes[i];
    struct pool *p = nd->pool ? &s->pools[nd->pool - 1] : NULL;
    if (s->running >= s->jobs) break;
    if (p && p->running >= p->limit) {
      k++;
      continue;
    }
    /* take i out of the queue, keeping the others in order */
    for (size_t m = k; m > s->rhead; m--) s->ready[m] = s->ready[m - 1];
    s->rhead++;
    k = s->rhead;
    nd->state = RUNNING;
    s->running++;
    if (p) p->running++;
    int r = s->ops.start(s->ud, i);
    if (r == SCHED_STARTED) continue;
    s->running--;
    if (p) p->running--;
    finish(s, i, r == SCHED_DONE_OK);
    if (r != SCHED_DONE_OK && !s->keep_going) s->stopped = 1;
    k = s->rhead; /* finished nodes may have made earlier-queued ones startable */
  }
  if (s->stopped && s->running == 0 && s->finished < s->n) kick(s);
  if (s->finished == s->n && s->running == 0 && !s->reported) {
    s->reported = 1;
    if (s->ops.done) s->ops.done(s->ud);
  }
}

void sched_run(sched *s) {
  for (size_t i = 0; i < s->n; i++)
    if (s->nodes[i].pending == 0 && s->nodes[i].state == WAITING) make_ready(s, i);
  kick(s);
}

void sched_done(sched *s, size_t node, int ok) {
  struct node *nd = &s->nodes[node];
  if (nd->state != RUNNING) return;
  s->running--;
  if (nd->pool) s->pools[nd->pool - 1].running--;
  finish(s, node, ok);
  if (!ok && !s->keep_going) s->stopped = 1;
  kick(s);
}

void sched_stop(sched *s) {
  s->stopped = 1;
  kick(s);
}

static void on_idle_close(uv_handle_t *h) {
  sched *s = h->data;
  for (size_t i = 0; i < s->n; i++) free(s->nodes[i].rdeps);
  free(s->nodes);
  free(s->ready);
  free(s->pools);
  free(s);
}

void sched_free(sched *s) {
  if (s) uv_close((uv_handle_t *)&s->idle, on_idle_close);
}
