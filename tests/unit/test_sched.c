/* sched: a real uv loop and a fake executor whose "commands" are uv timers.
 * Checks dependency order, the -j and pool limits, -k behaviour, skipped
 * dependents and nodes that finish at once. */
#include "unit.h"

#include "sched.h"

#define MAXN 16
#define GUARD_MS 10000

typedef struct fixture fixture;

typedef struct {
  fixture *f;
  size_t id;
  uv_timer_t timer;
  unsigned ms;  /* how long the fake command runs */
  int fails;    /* it ends in failure */
  int instant;  /* 0: runs on a timer; else the start result (SCHED_DONE_OK/FAILED) */
  int pool;     /* 0, or an index into fixture.pools */
  size_t started, ended, skipped; /* event sequence numbers, 0: never */
  int skips, starts;
} node;

struct fixture {
  uv_loop_t loop;
  uv_timer_t guard, stopper;
  sched *s;
  size_t n;
  unsigned jobs;
  node nodes[MAXN];
  int pools[3];  /* sched pool ids */
  size_t seq, running, max_running, in_pool[3], max_in_pool[3];
  size_t done_at;
  int done_calls, in_sched_done, reentered, over_limit, timed_out;
};

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = f;
  uv_timer_init(&f->loop, &f->stopper);
  f->stopper.data = f;
  for (size_t i = 0; i < MAXN; i++) {
    node *nd = &f->nodes[i];
    nd->f = f;
    nd->id = i;
    nd->ms = 10;
    uv_timer_init(&f->loop, &nd->timer);
    nd->timer.data = nd;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->s) sched_free(f->s);
  for (size_t i = 0; i < MAXN; i++) uv_close((uv_handle_t *)&f->nodes[i].timer, NULL);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->stopper, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&f->loop);
  free(f);
  return rc == 0 ? 0 : -1;
}

static void finish_node(uv_timer_t *t) {
  node *nd = t->data;
  fixture *f = nd->f;
  nd->ended = ++f->seq;
  f->running--;
  if (nd->pool) f->in_pool[nd->pool - 1]--;
  f->in_sched_done = 1;
  sched_done(f->s, nd->id, !nd->fails);
  f->in_sched_done = 0;
}

static int op_start(void *ud, size_t i) {
  fixture *f = ud;
  node *nd = &f->nodes[i];
  if (f->in_sched_done) f->reentered = 1;
  nd->starts++;
  nd->started = ++f->seq;
  if (nd->instant) {
    nd->ended = ++f->seq;
    return nd->instant;
  }
  if (++f->running > f->max_running) f->max_running = f->running;
  if (f->running > f->jobs || sched_running(f->s) > f->jobs) f->over_limit = 1;
  if (nd->pool) {
    size_t *in = &f->in_pool[nd->pool - 1];
    if (++*in > f->max_in_pool[nd->pool - 1]) f->max_in_pool[nd->pool - 1] = *in;
  }
  uv_timer_start(&nd->timer, finish_node, nd->ms, 0);
  return SCHED_STARTED;
}

static void op_skip(void *ud, size_t i) {
  fixture *f = ud;
  f->nodes[i].skips++;
  f->nodes[i].skipped = ++f->seq;
}

static void op_done(void *ud) {
  fixture *f = ud;
  f->done_calls++;
  f->done_at = ++f->seq;
}

static const sched_ops OPS = {op_start, op_skip, op_done};

static void make(fixture *f, size_t n, unsigned jobs, int keep_going) {
  f->n = n;
  f->jobs = jobs;
  f->s = sched_new(&f->loop, n, &OPS, f, jobs, keep_going);
}

static void on_guard(uv_timer_t *t) {
  fixture *f = t->data;
  f->timed_out = 1;
  uv_stop(&f->loop);
}

/* Run until the scheduler reports done; check what holds for every run. */
static void go(fixture *f) {
  sched_run(f->s);
  assert_int_equal(f->done_calls, 0); /* nothing happens before the loop runs */
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  uv_unref((uv_handle_t *)&f->guard);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_false(f->timed_out);
  assert_int_equal(f->done_calls, 1);
  assert_false(f->reentered); /* never started from inside sched_done */
  assert_false(f->over_limit);
  for (size_t i = 0; i < f->n; i++) {
    node *nd = &f->nodes[i];
    if (nd->starts + nd->skips != 1)
      fail_msg("node %zu started %d and skipped %d times", i, nd->starts, nd->skips);
    if (nd->started) assert_true(nd->ended > 0 && nd->ended < f->done_at);
    if (nd->skipped) assert_true(nd->skipped < f->done_at);
  }
}

/* node waits for dep, and the run must show it. */
static void edge(fixture *f, size_t node, size_t dep) { sched_dep(f->s, node, dep); }

static void expect_after(fixture *f, size_t node, size_t dep) {
  if (f->nodes[node].started < f->nodes[dep].ended)
    fail_msg("node %zu started before its dependency %zu ended", node, dep);
}

static void dependencies_finish_before_dependents_start(void **state) {
  fixture *f = *state;
  static const size_t edges[][2] = {{1, 0}, {2, 0}, {3, 1}, {3, 2}, {4, 3},
                                    {6, 5}, {7, 4}, {7, 6}, {2, 5}};
  make(f, 8, 3, 0);
  unsigned ms[8] = {20, 5, 25, 5, 10, 30, 5, 5};
  for (size_t i = 0; i < 8; i++) f->nodes[i].ms = ms[i];
  for (size_t e = 0; e < sizeof edges / sizeof *edges; e++) edge(f, edges[e][0], edges[e][1]);
  go(f);
  for (size_t e = 0; e < sizeof edges / sizeof *edges; e++) expect_after(f, edges[e][0], edges[e][1]);
  for (size_t i = 0; i < 8; i++) assert_true(f->nodes[i].started);
}

static void job_limit_is_never_exceeded(void **state) {
  fixture *f = *state;
  make(f, 12, 3, 0);
  go(f);
  assert_int_equal(f->max_running, 3); /* reached, never passed (go checks each start) */
  for (size_t i = 0; i < 12; i++) assert_true(f->nodes[i].started);
}

static void zero_jobs_means_one(void **state) {
  fixture *f = *state;
  make(f, 4, 0, 0);
  f->jobs = 1;
  go(f);
  assert_int_equal(f->max_running, 1);
}

static void pool_limit_is_respected_beside_the_job_limit(void **state) {
  fixture *f = *state;
  make(f, 12, 6, 0);
  f->pools[0] = sched_pool(f->s, 2);
  for (size_t i = 0; i < 8; i++) {
    sched_set_pool(f->s, i, f->pools[0]);
    f->nodes[i].pool = 1;
  }
  go(f);
  assert_int_equal(f->max_in_pool[0], 2);
  assert_true(f->max_running > 2); /* the others ran beside the pool */
  assert_true(f->max_running <= 6);
}

static void failure_without_keep_going_stops_new_work(void **state) {
  fixture *f = *state;
  make(f, 6, 2, 0);
  f->nodes[0].fails = 1;
  f->nodes[0].ms = 5;
  f->nodes[1].ms = 40; /* already running when node 0 fails: runs to its end */
  go(f);
  assert_true(f->nodes[0].started);
  assert_true(f->nodes[1].started);
  assert_true(f->nodes[1].ended > f->nodes[0].ended);
  for (size_t i = 2; i < 6; i++) assert_true(f->nodes[i].skipped);
  assert_true(f->done_at > f->nodes[1].ended); /* done waits for running work */
}

static void keep_going_skips_only_dependents_of_the_failure(void **state) {
  fixture *f = *state;
  enum { A, B, C, D, E, F };
  make(f, 6, 2, 1);
  f->nodes[A].fails = 1;
  edge(f, B, A);
  edge(f, C, B);
  f->nodes[D].ms = 30;
  edge(f, E, D);
  edge(f, F, A); /* needs both the failure and a good node */
  edge(f, F, D);
  go(f);
  assert_true(f->nodes[A].started);
  assert_true(f->nodes[D].started);
  assert_true(f->nodes[E].started); /* independent of A: still built */
  assert_true(f->nodes[B].skipped);
  assert_true(f->nodes[C].skipped);
  assert_true(f->nodes[F].skipped);
}

static void diamond_below_a_failure_is_skipped_once(void **state) {
  fixture *f = *state;
  make(f, 4, 4, 1);
  f->nodes[0].fails = 1;
  edge(f, 1, 0);
  edge(f, 2, 0);
  edge(f, 3, 1);
  edge(f, 3, 2);
  go(f); /* go fails if a node is skipped twice */
  for (size_t i = 1; i < 4; i++) assert_true(f->nodes[i].skipped);
}

static void instant_nodes_take_no_job_slot(void **state) {
  fixture *f = *state;
  /* ready in this order: a long job, three up-to-date nodes, another job */
  make(f, 5, 2, 0);
  f->nodes[0].ms = 40;
  for (size_t i = 1; i <= 3; i++) f->nodes[i].instant = SCHED_DONE_OK;
  f->nodes[4].ms = 5;
  go(f);
  /* node 4 got the second slot while node 0 still ran */
  assert_true(f->nodes[4].started < f->nodes[0].ended);
}

static void chain_of_instant_nodes_completes_with_one_job(void **state) {
  fixture *f = *state;
  make(f, 10, 1, 0);
  for (size_t i = 0; i < 10; i++) {
    f->nodes[i].instant = SCHED_DONE_OK;
    if (i) edge(f, i, i - 1);
  }
  go(f);
  for (size_t i = 1; i < 10; i++) expect_after(f, i, i - 1);
}

static void instant_failure_skips_its_dependents(void **state) {
  fixture *f = *state;
  make(f, 4, 2, 1);
  f->nodes[0].instant = SCHED_DONE_FAILED;
  edge(f, 1, 0);
  edge(f, 2, 1);
  go(f);
  assert_true(f->nodes[1].skipped);
  assert_true(f->nodes[2].skipped);
  assert_true(f->nodes[3].started);
}

static void call_stop(uv_timer_t *t) {
  fixture *f = t->data;
  sched_stop(f->s);
}

static void stop_lets_running_work_finish_and_skips_the_rest(void **state) {
  fixture *f = *state;
  make(f, 4, 1, 1);
  f->nodes[0].ms = 30;
  uv_timer_start(&f->stopper, call_stop, 5, 0); /* like Ctrl-C while node 0 runs */
  go(f);
  assert_true(f->nodes[0].started);
  assert_true(f->nodes[0].ended > 0);
  for (size_t i = 1; i < 4; i++) assert_true(f->nodes[i].skipped);
}

static void empty_schedule_is_done_at_once(void **state) {
  fixture *f = *state;
  make(f, 0, 4, 0);
  go(f);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(dependencies_finish_before_dependents_start),
      T(job_limit_is_never_exceeded),
      T(zero_jobs_means_one),
      T(pool_limit_is_respected_beside_the_job_limit),
      T(failure_without_keep_going_stops_new_work),
      T(keep_going_skips_only_dependents_of_the_failure),
      T(diamond_below_a_failure_is_skipped_once),
      T(instant_nodes_take_no_job_slot),
      T(chain_of_instant_nodes_completes_with_one_job),
      T(instant_failure_skips_its_dependents),
      T(stop_lets_running_work_finish_and_skips_the_rest),
      T(empty_schedule_is_done_at_once),
  };
  return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
