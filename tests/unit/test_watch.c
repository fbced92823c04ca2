/* watch: real files on a real loop — what a batch holds after writes,
 * new folders, deletions, editor saves, ignored paths, a burst of 1,000
 * files, the fall back to polling, a watched folder deleted and made again,
 * and closing with nothing left on the loop. */
#include "unit.h"

#include <dlfcn.h>
#include <pthread.h>

#include "watch.h"

#define GUARD_MS 5000 /* a watcher that never reports fails instead of hanging */

/* How many more inotify watches may start before the system is "out of
 * them" (UV_ENOSPC); -1: no limit. The watcher's calls land here, not in
 * libuv: this program defines the symbol and forwards to the real one. */
static int watches_left = -1;

int uv_fs_event_start(uv_fs_event_t *h, uv_fs_event_cb cb, const char *path, unsigned flags) {
  static int (*real)(uv_fs_event_t *, uv_fs_event_cb, const char *, unsigned);
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "uv_fs_event_start");
  if (watches_left == 0) return UV_ENOSPC;
  if (watches_left > 0) watches_left--;
  return real(h, cb, path, flags);
}

typedef struct {
  uv_loop_t loop;
  uv_timer_t guard, quiet, writer;
  ut_tmpdir dir;
  watch *w;
  strvec *batches;
  size_t nbatches;
  uint64_t first_batch_at;
  int warns;
  char *warn_msg;
  int timed_out, quiet_over;
  const char *ignore_dir;  /* the ignore callback's answer: this folder and below */
  int asked_dir;           /* the callback was asked about ignore_dir as a folder */
  const char *put_in_batch; /* written during the first batch */
  int close_in_batch;
  int written;             /* files the writer timer made */
} fixture;

static int setup(void **state) {
  fixture *f = xcalloc(1, sizeof *f);
  if (ut_tmpdir_open(&f->dir, 1) < 0) return -1;
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  uv_timer_init(&f->loop, &f->quiet);
  uv_timer_init(&f->loop, &f->writer);
  f->guard.data = f->quiet.data = f->writer.data = f;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  watch_close(f->w);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_close((uv_handle_t *)&f->quiet, NULL);
  uv_close((uv_handle_t *)&f->writer, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&f->loop); /* UV_EBUSY: the watcher left a handle open */
  unsetenv("DBX_WATCH_LIMIT");
  watches_left = -1;
  ut_tmpdir_close(&f->dir);
  for (size_t i = 0; i < f->nbatches; i++) sv_free(&f->batches[i]);
  free(f->batches);
  free(f->warn_msg);
  free(f);
  if (rc != 0) fprintf(stderr, "loop still had handles: %s\n", uv_strerror(rc));
  return rc == 0 ? 0 : -1;
}

static void on_batch(void *ud, const strvec *paths) {
  fixture *f = ud;
  assert_true(paths->n > 0);
  for (size_t i = 1; i < paths->n; i++) assert_true(strcmp(paths->v[i - 1], paths->v[i]) < 0);
  if (!f->nbatches) f->first_batch_at = now_ms();
  f->batches = xrealloc(f->batches, (f->nbatches + 1) * sizeof *f->batches);
  strvec copy = {0};
  for (size_t i = 0; i < paths->n; i++) sv_push(&copy, paths->v[i]);
  f->batches[f->nbatches++] = copy;
  if (f->put_in_batch && f->nbatches == 1) ut_put(f->put_in_batch, "during\n");
  if (f->close_in_batch) {
    watch_close(f->w);
    f->w = NULL;
  }
}

static void on_warn(void *ud, const char *msg) {
  fixture *f = ud;
  f->warns++;
  free(f->warn_msg);
  f->warn_msg = xstrdup(msg);
}

static int on_ignore(void *ud, const char *path, int is_dir) {
  fixture *f = ud;
  if (!f->ignore_dir) return 0;
  size_t n = strlen(f->ignore_dir);
  if (strcmp(path, f->ignore_dir) == 0 && is_dir) f->asked_dir = 1;
  return strncmp(path, f->ignore_dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

/* Open the watcher on the temp folder with o's timings (NULL: defaults). */
static void open_watch(fixture *f, const watch_opts *o) {
  watch_opts opts = o ? *o : (watch_opts){0};
  opts.batch = on_batch;
  opts.warn = on_warn;
  opts.ignore = on_ignore;
  opts.ud = f;
  char *err = NULL;
  assert_int_equal(watch_open(&f->loop, f->dir.path, &opts, &f->w, &err), 0);
  assert_null(err);
}

static void add(fixture *f, const char *dir, int recursive) {
  char *err = NULL;
  assert_int_equal(watch_add(f->w, dir, recursive, &err), 0);
  assert_null(err);
}

/* Every path reported so far, sorted, joined with ',' (caller frees). */
static char *seen(const fixture *f) {
  strvec all = {0};
  for (size_t i = 0; i < f->nbatches; i++)
    for (size_t j = 0; j < f->batches[i].n; j++) sv_push(&all, f->batches[i].v[j]);
  sv_sort_uniq(&all);
  strbuf sb = {0};
  sb_adds(&sb, "");
  for (size_t i = 0; i < all.n; i++) {
    if (i) sb_addc(&sb, ',');
    sb_adds(&sb, all.v[i]);
  }
  sv_free(&all);
  return sb_take(&sb);
}

/* How many distinct paths were reported so far. */
static size_t seen_count(const fixture *f) {
  strvec all = {0};
  for (size_t i = 0; i < f->nbatches; i++)
    for (size_t j = 0; j < f->batches[i].n; j++) sv_push(&all, f->batches[i].v[j]);
  sv_sort_uniq(&all);
  size_t n = all.n;
  sv_free(&all);
  return n;
}

/* Batch i joined with ','. */
static char *batch(const fixture *f, size_t i) {
  assert_true(i < f->nbatches);
  strbuf sb = {0};
  sb_adds(&sb, "");
  for (size_t j = 0; j < f->batches[i].n; j++) {
    if (j) sb_addc(&sb, ',');
    sb_adds(&sb, f->batches[i].v[j]);
  }
  return sb_take(&sb);
}

static void on_guard(uv_timer_t *t) {
  fixture *f = t->data;
  f->timed_out = 1;
}

static void on_quiet(uv_timer_t *t) {
  fixture *f = t->data;
  f->quiet_over = 1;
}

/* Whether everything reported so far is exactly want. */
static int seen_is(const fixture *f, const char *want) {
  char *s = seen(f);
  int same = strcmp(s, want) == 0;
  free(s);
  return same;
}

/* Run the loop until everything reported so far is want (or the guard gives up). */
static void wait_seen(fixture *f, const char *want) {
  f->timed_out = 0;
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  while (!seen_is(f, want) && !f->timed_out) uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  char *s = seen(f);
  assert_string_equal(s, want);
  free(s);
}

/* Run the loop until n batches came (or the guard gives up). */
static void wait_batches(fixture *f, size_t n) {
  f->timed_out = 0;
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  while (f->nbatches < n && !f->timed_out) uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  assert_int_equal(f->nbatches, n);
}

/* Run the loop for ms, to see that nothing more comes. */
static void run_for(fixture *f, unsigned ms) {
  f->quiet_over = 0;
  uv_timer_start(&f->quiet, on_quiet, ms, 0);
  while (!f->quiet_over) uv_run(&f->loop, UV_RUN_ONCE);
}

/* ---- writing from another thread, while the loop runs ---- */

/* Write text to path without cmocka (which must not fail off its thread). */
static void put_plain(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  if (!fp) return;
  fputs(text, fp);
  fclose(fp);
}

static void *write_nested(void *arg) {
  (void)arg;
  usleep(20 * 1000); /* the loop is waiting by now */
  mkdir_p("a/b/c");
  put_plain("a/1", "1");
  put_plain("a/b/2", "2");
  put_plain("a/b/c/3", "3");
  return NULL;
}

/* The writer's longest pause between two files: a loop the scheduler stopped
 * for longer than the settle time (a machine busy with other work) is not
 * the tight loop the test is about. Read after the join. */
static uint64_t writer_gap_ms;

static void *write_thousand(void *arg) {
  (void)arg;
  usleep(20 * 1000);
  uint64_t prev = now_ms(), gap = 0;
  for (int i = 0; i < 1000; i++) {
    char path[32];
    snprintf(path, sizeof path, "many/f%04d.txt", i);
    put_plain(path, "x\n");
    uint64_t t = now_ms();
    if (t - prev > gap) gap = t - prev;
    prev = t;
  }
  writer_gap_ms = gap;
  return NULL;
}

/* ---- the tests ---- */

static void written_file_is_reported(void **state) {
  fixture *f = *state;
  ut_put("old.txt", "old\n");
  ut_put("src/app.py", "v1\n");
  open_watch(f, NULL);
  add(f, "", 1);
  assert_int_equal(watch_count(f->w), 2);
  assert_false(watch_polling(f->w));
  run_for(f, 100);
  assert_int_equal(f->nbatches, 0); /* what is already there is not news */

  ut_put("src/app.py", "v2\n");
  ut_put("new.txt", "new\n");
  wait_batches(f, 1);
  char *b = batch(f, 0);
  assert_string_equal(b, "new.txt,src/app.py");
  free(b);
  run_for(f, 100);
  assert_int_equal(f->nbatches, 1);
}

static void new_nested_folder_is_followed(void **state) {
  fixture *f = *state;
  open_watch(f, NULL);
  add(f, "", 1);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, write_nested, NULL), 0);
  wait_seen(f, "a/1,a/b/2,a/b/c/3");
  pthread_join(t, NULL);
  assert_int_equal(watch_count(f->w), 4);

  ut_put("a/b/c/4", "4"); /* the deepest folder is watched now */
  wait_seen(f, "a/1,a/b/2,a/b/c/3,a/b/c/4");
}

static void new_folder_made_before_the_loop_runs_is_walked(void **state) {
  fixture *f = *state;
  open_watch(f, NULL);
  add(f, "", 1);
  ut_put("x/y/z/deep.txt", "d");
  ut_put("x/top.txt", "t");
  mkdir_p("x/empty");
  wait_batches(f, 1);
  char *b = batch(f, 0);
  assert_string_equal(b, "x/top.txt,x/y/z/deep.txt"); /* an empty folder is no change */
  free(b);
  assert_int_equal(watch_count(f->w), 5);
}

static void deleted_file_is_reported(void **state) {
  fixture *f = *state;
  ut_put("keep.txt", "k");
  ut_put("src/gone.py", "g");
  open_watch(f, NULL);
  add(f, "", 1);
  assert_int_equal(unlink("src/gone.py"), 0);
  wait_batches(f, 1);
  char *b = batch(f, 0);
  assert_string_equal(b, "src/gone.py");
  free(b);
}

static void deleted_folder_is_reported_as_itself(void **state) {
  fixture *f = *state;
  ut_put("src/keep.py", "k");
  ut_put("src/a/x.py", "x");
  ut_put("src/a/b/y.py", "y");
  open_watch(f, NULL);
  add(f, "", 1);
  assert_int_equal(watch_count(f->w), 4);
  ut_rm_rf("src/a");
  wait_batches(f, 1);
  char *b = batch(f, 0);
  assert_string_equal(b, "src/a");
  free(b);
  assert_int_equal(watch_count(f->w), 2);
  run_for(f, 100);
  assert_int_equal(f->nbatches, 1); /* once */

  ut_put("src/a/z.py", "z"); /* made again: followed again */
  wait_batches(f, 2);
  b = batch(f, 1);
  assert_string_equal(b, "src/a/z.py");
  free(b);
  assert_int_equal(watch_count(f->w), 3);
}

static void moved_folder_is_reported_at_both_ends(void **state) {
  fixture *f = *state;
  ut_put("src/a/x.py", "x");
  ut_put("src/a/deep/y.py", "y");
  open_watch(f, NULL);
  add(f, "", 1);
  assert_int_equal(watch_count(f->w), 4);
  assert_int_equal(rename("src/a", "src/b"), 0);
  wait_seen(f, "src/a,src/b/deep/y.py,src/b/x.py");
  assert_int_equal(watch_count(f->w), 4);
  ut_put("src/b/deep/z.py", "z"); /* followed under its new name */
  wait_seen(f, "src/a,src/b/deep/y.py,src/b/deep/z.py,src/b/x.py");
}

static void child_named_like_its_folder_does_not_confuse_it(void **state) {
  fixture *f = *state;
  /* a Django project: mysite/mysite/settings.py */
  ut_put("mysite/manage.py", "m");
  ut_put("mysite/mysite/settings.py", "s");
  open_watch(f, NULL);
  add(f, "", 1);
  ut_put("mysite/mysite/settings.py", "s2");
  wait_batches(f, 1);
  char *b = batch(f, 0);
  assert_string_equal(b, "mysite/mysite/settings.py");
  free(b);
  /* removing the inner one looks like the outer one's own removal to libuv:
   * the outer folder is then watched afresh, reported as replaced */
  ut_rm_rf("mysite/mysite");
  wait_batches(f, 2);
  b = batch(f, 1);
  assert_non_null(strstr(b, "mysite/mysite"));
  free(b);
  run_for(f, 50);
  ut_put("mysite/urls.py", "u");
  wait_batches(f, 3);
  b = batch(f, 2);
  assert_string_equal(b, "mysite/urls.py");
  free(b);
  assert_int_equal(watch_count(f->w), 2);
}

static void atomic_save_reports_the_final_name(void **state) {
  fixture *f = *state;
  ut_put("app.py", "v1\n");
  ut_put("main.py", "v1\n");
  open_watch(f, NULL);
  add(f, "", 1);
  /* vim: probe with 4913, back up to app.py~, write, drop the backup */
  ut_put("4913", "");
  assert_int_equal(unlink("4913"), 0);
  assert_int_equal(rename("app.py", "app.py~"), 0);
  ut_put("app.py", "v2\n");
  assert_int_equal(unlink("app.py~"), 0);
  /* most editors: a temp file renamed over the real one */
  ut_put("main.py.tmp", "v2\n");
  assert_int_equal(rename("main.py.tmp", "main.py"), 0);
  /* dbx itself */
  assert_int_equal(write_file_atomic("conf.json", "{}", 2), 0);
  wait_batches(f, 1);
  char *b = batch(f, 0);
  assert_string_equal(b, "app.py,conf.json,main.py");
  free(b);
}

static void temp_files_and_tool_folders_are_ignored(void **state) {
  fixture *f = *state;
  ut_put(".git/HEAD", "ref\n");
  ut_put("node_modules/m/index.js", "x");
  ut_put("src/ok.py", "x");
  open_watch(f, NULL);
  add(f, "", 1);
  assert_int_equal(watch_count(f->w), 2); /* the root and src */
  const char *noise[] = {".app.py.swp", "app.py~", ".#app.py", "4913", "x.tmp", "x.swx",
                         "x.swo", "app.py.tmp.123", "src/.y.swp", ".git/index",
                         "node_modules/m/new.js", "__pycache__/a.pyc", ".venv/bin/python",
                         ".dbx/state", "src/.git/config", "src/node_modules/q.js"};
  for (size_t i = 0; i < sizeof noise / sizeof *noise; i++) ut_put(noise[i], "noise");
  ut_put("src/real.py", "x");
  wait_batches(f, 1);
  char *b = batch(f, 0);
  assert_string_equal(b, "src/real.py");
  free(b);
  run_for(f, 100);
  assert_int_equal(f->nbatches, 1);

  char *err = NULL;
  assert_int_equal(watch_add(f->w, ".git", 1, &err), UV_EINVAL);
  assert_non_null(err);
  free(err);
}

static void ignore_callback_is_respected(void **state) {
  fixture *f = *state;
  ut_put("build/old.o", "o");
  ut_put("src/main.c", "c");
  f->ignore_dir = "build";
  open_watch(f, NULL);
  add(f, "", 1);
  assert_true(f->asked_dir);
  assert_int_equal(watch_count(f->w), 2); /* build is not descended into */
  ut_put("build/out.o", "o");
  ut_put("build/sub/x.o", "o");
  ut_put("builder/x", "not build/");
  ut_put("src/main.c", "c2");
  wait_seen(f, "builder/x,src/main.c");
  run_for(f, 100);
  char *s = seen(f);
  assert_string_equal(s, "builder/x,src/main.c");
  free(s);
}

static void thousand_files_make_one_batch(void **state) {
  fixture *f = *state;
  assert_int_equal(mkdir("many", 0777), 0);
  open_watch(f, NULL); /* the default 15 ms settle */
  add(f, "", 1);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, write_thousand, NULL), 0);
  f->timed_out = 0;
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  while (seen_count(f) < 1000 && !f->timed_out) uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  pthread_join(t, NULL);
  run_for(f, 300);
  assert_int_equal(seen_count(f), 1000);
  if (writer_gap_ms + 5 >= 15) {
    print_message("the writer was stopped for %u ms: %zu batches allowed\n",
                  (unsigned)writer_gap_ms, f->nbatches);
    return;
  }
  assert_int_equal(f->nbatches, 1);
  assert_int_equal(f->batches[0].n, 1000);
  assert_string_equal(f->batches[0].v[0], "many/f0000.txt");
  assert_string_equal(f->batches[0].v[999], "many/f0999.txt");
}

/* Block the loop: 1,000 files, then a pause longer than the settle time. */
static void on_burst(uv_timer_t *t) {
  (void)t;
  for (int i = 0; i < 1000; i++) {
    char path[32];
    snprintf(path, sizeof path, "many/f%04d.txt", i);
    ut_put(path, "x\n");
  }
  usleep(40 * 1000);
}

static void late_loop_reads_the_queue_before_closing_the_batch(void **state) {
  fixture *f = *state;
  assert_int_equal(mkdir("many", 0777), 0);
  open_watch(f, NULL);
  add(f, "", 1);
  ut_put("first.txt", "1");
  uv_run(&f->loop, UV_RUN_NOWAIT); /* heard of it: the batch is open, 15 ms to go */
  assert_int_equal(seen_count(f), 0);
  /* the loop wakes with the batch overdue and 1,000 files unread in the kernel */
  uv_timer_start(&f->writer, on_burst, 1, 0);
  wait_batches(f, 1);
  run_for(f, 200);
  assert_int_equal(f->nbatches, 1);
  assert_int_equal(f->batches[0].n, 1001);
}

static void changes_during_a_batch_go_into_the_next(void **state) {
  fixture *f = *state;
  f->put_in_batch = "second.txt";
  open_watch(f, NULL);
  add(f, "", 1);
  ut_put("first.txt", "1");
  wait_batches(f, 2);
  char *b = batch(f, 0);
  assert_string_equal(b, "first.txt");
  free(b);
  b = batch(f, 1);
  assert_string_equal(b, "second.txt");
  free(b);
}

static void on_writer(uv_timer_t *t) {
  fixture *f = t->data;
  char path[32];
  snprintf(path, sizeof path, "s%02d.txt", f->written++);
  ut_put(path, "x");
  if (f->written == 20) uv_timer_stop(t);
}

static void steady_stream_is_cut_at_max_wait(void **state) {
  fixture *f = *state;
  watch_opts o = {.settle_ms = 100, .max_wait_ms = 150};
  open_watch(f, &o);
  add(f, "", 1);
  uint64_t start = now_ms();
  uv_timer_start(&f->writer, on_writer, 0, 20); /* never 100 ms quiet for 400 ms */
  wait_batches(f, 1);
  uint64_t first = f->first_batch_at - start;
  assert_true(first >= 140 && first < 350);
  while (f->written < 20) uv_run(&f->loop, UV_RUN_ONCE);
  run_for(f, 300);
  assert_true(f->nbatches >= 2);
  char *s = seen(f);
  assert_int_equal(strlen(s), 20 * 7 + 19); /* all of s00.txt .. s19.txt */
  free(s);
}

static void non_recursive_watch_sees_only_its_files(void **state) {
  fixture *f = *state;
  ut_put("a.txt", "a");
  ut_put("sub/b.txt", "b");
  open_watch(f, NULL);
  add(f, "", 0);
  assert_int_equal(watch_count(f->w), 1);
  ut_put("sub/b.txt", "b2");
  ut_put("newdir/c.txt", "c");
  ut_put("a.txt", "a2");
  ut_put("d.txt", "d");
  wait_seen(f, "a.txt,d.txt");
  run_for(f, 100);
  char *s = seen(f);
  assert_string_equal(s, "a.txt,d.txt");
  free(s);
}

static void limit_forces_polling(void **state) {
  fixture *f = *state;
  setenv("DBX_WATCH_LIMIT", "1", 1);
  ut_put("src/a.py", "a");
  ut_put("src/old.py", "o");
  ut_put("lib/z.py", "z");
  ut_put(".git/HEAD", "h");
  watch_opts o = {.poll_ms = 50};
  open_watch(f, &o);
  add(f, "", 1);
  assert_true(watch_polling(f->w));
  assert_int_equal(f->warns, 1);
  assert_non_null(strstr(f->warn_msg, "polling every 50 ms"));
  assert_non_null(strstr(f->warn_msg, "DBX_WATCH_LIMIT=1"));
  assert_int_equal(watch_count(f->w), 3);
  run_for(f, 150);
  assert_int_equal(f->nbatches, 0);

  ut_put("src/a.py", "a changed");
  ut_put("src/new.py", "n");
  ut_put("src/.new.py.swp", "n");
  ut_put(".git/index", "i");
  assert_int_equal(unlink("src/old.py"), 0);
  ut_put("n/m/f.py", "f");
  ut_rm_rf("lib");
  wait_seen(f, "lib,n/m/f.py,src/a.py,src/new.py,src/old.py");
  assert_int_equal(watch_count(f->w), 4);

  ut_put("src/later.py", "l");
  wait_seen(f, "lib,n/m/f.py,src/a.py,src/later.py,src/new.py,src/old.py");
  assert_int_equal(f->warns, 1); /* said once */
}

static void out_of_watches_falls_back_to_polling(void **state) {
  fixture *f = *state;
  ut_put("src/a.py", "a");
  ut_put("lib/deep/b.py", "b");
  watches_left = 2;
  watch_opts o = {.poll_ms = 50};
  open_watch(f, &o);
  add(f, "", 1);
  assert_true(watch_polling(f->w));
  assert_int_equal(f->warns, 1);
  char *max = ut_slurp("/proc/sys/fs/inotify/max_user_watches");
  assert_non_null(max);
  max[strcspn(max, "\n")] = 0;
  char *want = xasprintf("out of inotify watches (fs.inotify.max_user_watches=%s, 4 folders here): "
                         "watching by polling every 50 ms; raise it with: "
                         "sysctl fs.inotify.max_user_watches=524288", max);
  assert_string_equal(f->warn_msg, want);
  free(want);
  free(max);
  ut_put("lib/deep/b.py", "b changed");
  wait_seen(f, "lib/deep/b.py");
}

static void out_of_watches_in_a_new_folder_still_reports_it(void **state) {
  fixture *f = *state;
  watches_left = 1; /* the root only */
  watch_opts o = {.poll_ms = 50};
  open_watch(f, &o);
  add(f, "", 1);
  assert_false(watch_polling(f->w));
  ut_put("new/sub/x.py", "x");
  ut_put("new/y.py", "y");
  wait_seen(f, "new/sub/x.py,new/y.py");
  assert_true(watch_polling(f->w));
  assert_int_equal(f->warns, 1);
  ut_put("new/sub/x.py", "x changed");
  ut_put("top.py", "t");
  wait_seen(f, "new/sub/x.py,new/y.py,top.py");
  assert_int_equal(f->batches[f->nbatches - 1].n, 2); /* polled: x.py again and top.py */
}

static void folder_replaced_at_once_is_followed(void **state) {
  fixture *f = *state;
  ut_put("src/old.py", "o");
  open_watch(f, NULL);
  add(f, "", 1);
  /* rm -rf src && mkdir src: the new folder may well get the old inode */
  ut_rm_rf("src");
  ut_put("src/new.py", "n");
  f->timed_out = 0;
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  for (;;) {
    char *s = seen(f);
    int found = strstr(s, "src/new.py") != NULL;
    free(s);
    if (found || f->timed_out) break;
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&f->guard);
  assert_false(f->timed_out);
  run_for(f, 50);
  size_t n = f->nbatches;
  ut_put("src/later.py", "l"); /* the new folder is watched */
  wait_batches(f, n + 1);
  char *b = batch(f, n);
  assert_string_equal(b, "src/later.py");
  free(b);
  assert_int_equal(watch_count(f->w), 2);
}

static void watched_folder_deleted_and_made_again_recovers(void **state) {
  fixture *f = *state;
  ut_put("src/x.py", "x");
  ut_put("src/sub/y.py", "y");
  watch_opts o = {.poll_ms = 50};
  open_watch(f, &o);
  add(f, "src", 1); /* the root itself is not watched: only the timer can find it */
  assert_int_equal(watch_count(f->w), 2);

  ut_rm_rf("src");
  wait_seen(f, "src");
  assert_int_equal(watch_count(f->w), 0);
  ut_put("src/x.py", "x again");
  wait_seen(f, "src,src/x.py");
  assert_int_equal(watch_count(f->w), 1);

  /* all at once, before the watcher hears of it: `rm -rf src && mkdir src && echo > src/z.py` */
  ut_rm_rf("src");
  ut_put("src/z.py", "z");
  f->timed_out = 0;
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  for (;;) {
    char *s = seen(f);
    int found = strstr(s, "src/z.py") != NULL;
    free(s);
    if (found || f->timed_out) break;
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&f->guard);
  assert_false(f->timed_out);
  ut_put("src/w.py", "w"); /* and the new folder is watched */
  wait_batches(f, f->nbatches + 1);
  char *b = batch(f, f->nbatches - 1);
  assert_string_equal(b, "src/w.py");
  free(b);
  assert_int_equal(watch_count(f->w), 1);
}

static void close_in_batch_leaves_nothing_on_the_loop(void **state) {
  fixture *f = *state;
  ut_put("src/a.py", "a");
  f->close_in_batch = 1;
  open_watch(f, NULL);
  add(f, "", 1);
  ut_put("src/a.py", "b");
  wait_batches(f, 1);
  assert_null(f->w);
  ut_put("src/a.py", "c");
  run_for(f, 100);
  assert_int_equal(f->nbatches, 1);
  /* teardown runs the loop and checks uv_loop_close succeeds */
}

static void close_with_a_batch_open_leaves_nothing_on_the_loop(void **state) {
  fixture *f = *state;
  watch_opts o = {.settle_ms = 1000};
  open_watch(f, &o);
  add(f, "", 1);
  ut_put("a/b/c.txt", "c");
  run_for(f, 50); /* heard of it; the batch is still open */
  assert_int_equal(f->nbatches, 0);
  watch_close(f->w);
  f->w = NULL;
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(f->nbatches, 0);
}

static void bad_folders_are_errors(void **state) {
  fixture *f = *state;
  watch_opts o = {.batch = on_batch};
  char *err = NULL;
  watch *w = NULL;
  assert_int_equal(watch_open(&f->loop, "missing", &o, &w, &err), UV_ENOENT);
  assert_null(w);
  assert_non_null(strstr(err, "missing"));
  free(err);

  ut_put("file", "f");
  open_watch(f, NULL);
  err = NULL;
  assert_int_equal(watch_add(f->w, "nope", 1, &err), UV_ENOENT);
  assert_non_null(strstr(err, "nope"));
  free(err);
  assert_int_equal(watch_add(f->w, "file", 1, NULL), UV_ENOTDIR);
  assert_int_equal(watch_add(f->w, "../up", 1, NULL), UV_EINVAL);
  assert_int_equal(watch_count(f->w), 0);
  add(f, "", 0);
  add(f, "", 1); /* upgraded, not doubled */
  add(f, "./", 1);
  assert_int_equal(watch_count(f->w), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(written_file_is_reported),
      T(new_nested_folder_is_followed),
      T(new_folder_made_before_the_loop_runs_is_walked),
      T(deleted_file_is_reported),
      T(deleted_folder_is_reported_as_itself),
      T(moved_folder_is_reported_at_both_ends),
      T(child_named_like_its_folder_does_not_confuse_it),
      T(atomic_save_reports_the_final_name),
      T(temp_files_and_tool_folders_are_ignored),
      T(ignore_callback_is_respected),
      T(thousand_files_make_one_batch),
      T(late_loop_reads_the_queue_before_closing_the_batch),
      T(changes_during_a_batch_go_into_the_next),
      T(steady_stream_is_cut_at_max_wait),
      T(non_recursive_watch_sees_only_its_files),
      T(limit_forces_polling),
      T(out_of_watches_falls_back_to_polling),
      T(out_of_watches_in_a_new_folder_still_reports_it),
      T(folder_replaced_at_once_is_followed),
      T(watched_folder_deleted_and_made_again_recovers),
      T(close_in_batch_leaves_nothing_on_the_loop),
      T(close_with_a_batch_open_leaves_nothing_on_the_loop),
      T(bad_folders_are_errors),
  };
  return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
