/* store: the append-only build log survives torn lines, junk and crashes,
 * and compaction keeps the newest entry per target. */
#include "unit.h"

#include <sys/wait.h>

#include "hash.h"
#include "store.h"

#define DIR ".dbx"
#define LOG ".dbx/store"
#define TMP ".dbx/store.tmp"
#define HEADER "dbx-store 1\n"
#define CRASHED 42

/* Link-time seam: store_compact's rename() resolves to this one, so a test
 * can kill the process after store.tmp is written and before it replaces
 * the log, or make the rename fail. */
static enum { RENAME_REAL, RENAME_CRASH, RENAME_FAIL } rename_mode;

int rename(const char *from, const char *to) {
  if (rename_mode == RENAME_CRASH) _exit(CRASHED);
  if (rename_mode == RENAME_FAIL) {
    errno = EIO;
    return -1;
  }
  return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

static int setup(void **state) {
  ut_tmpdir *t = xcalloc(1, sizeof *t);
  if (ut_tmpdir_open(t, 1) < 0) return -1;
  rename_mode = RENAME_REAL;
  *state = t;
  return 0;
}

static int teardown(void **state) {
  ut_tmpdir_close(*state);
  free(*state);
  return 0;
}

/* A valid key made from a short name, so tests read "key a1". */
static const char *K(const char *name) {
  static char keys[16][HASH_HEX];
  static int next;
  unsigned char d[HASH_LEN];
  hash_buf(name, strlen(name), d);
  char *k = keys[next++ % 16];
  hash_hex(d, k);
  return k;
}

static store *open_store(void) {
  store *s = NULL;
  char *err = NULL;
  int rc = store_open(DIR, &s, &err);
  if (rc < 0) fail_msg("store_open: %s", err);
  return s;
}

static void put(store *s, const char *key, const char *target, uint64_t ms) {
  char *manifest = xasprintf("{\"target\":\"%s\",\"ms\":%llu}", target, (unsigned long long)ms);
  assert_int_equal(store_put(s, key, target, ms, "-", manifest), 0);
  free(manifest);
}

/* The log's text after the header. */
static char *records(void) {
  char *text = ut_slurp(LOG);
  assert_non_null(text);
  assert_memory_equal(text, HEADER, strlen(HEADER));
  char *rest = xstrdup(text + strlen(HEADER));
  free(text);
  return rest;
}

static void entries_survive_reopening(void **state) {
  (void)state;
  store *s = open_store();
  assert_null(store_last(s, "app"));
  assert_int_equal(store_put(s, K("a1"), "app", 1234, "sha256:img", "{\"inputs\":{}}"), 0);
  put(s, K("b1"), "lib", 5);
  assert_non_null(store_get(s, K("a1"))); /* visible at once, before reopening */
  store_close(s);

  s = open_store();
  const store_entry *e = store_get(s, K("a1"));
  assert_non_null(e);
  assert_string_equal(e->key, K("a1"));
  assert_string_equal(e->target, "app");
  assert_string_equal(e->result, "sha256:img");
  assert_string_equal(e->manifest, "{\"inputs\":{}}");
  assert_int_equal(e->ms, 1234);
  assert_ptr_equal(store_last(s, "app"), e);
  assert_string_equal(store_last(s, "lib")->key, K("b1"));
  assert_null(store_get(s, K("never")));
  assert_int_equal(store_skipped(s), 0);
  store_close(s);
}

static void newest_entry_per_target_wins(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  put(s, K("a2"), "app", 2);
  assert_string_equal(store_last(s, "app")->key, K("a2"));
  store_close(s);

  s = open_store();
  assert_string_equal(store_last(s, "app")->key, K("a2"));
  /* an older key is still known: switching back to it needs no rebuild */
  assert_non_null(store_get(s, K("a1")));
  store_close(s);
}

static void torn_last_line_is_skipped_and_the_next_append_parses(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  store_close(s);
  /* a crash in the middle of writing the next line */
  FILE *f = fopen(LOG, "a");
  fprintf(f, "%s\tlib\t7\t-\t{\"tru", K("b1"));
  fclose(f);

  s = open_store();
  assert_int_equal(store_skipped(s), 1);
  assert_non_null(store_get(s, K("a1")));
  assert_null(store_get(s, K("b1")));
  put(s, K("c1"), "tool", 3);
  store_close(s);

  s = open_store();
  assert_int_equal(store_skipped(s), 0);
  assert_non_null(store_get(s, K("a1")));
  assert_non_null(store_get(s, K("c1")));
  assert_string_equal(store_last(s, "tool")->manifest, "{\"target\":\"tool\",\"ms\":3}");
  store_close(s);
  char *text = records();
  assert_int_equal(ut_lines(text), 2);
  assert_null(strstr(text, "\"tru"));
  free(text);
}

static void malformed_lines_are_skipped_and_counted(void **state) {
  (void)state;
  const char *good = K("good");
  char *text = xasprintf(HEADER
                         "nothex\tapp\t1\t-\t{}\n"       /* key is not 64 hex digits */
                         "%s\tapp\t1\t-\n"               /* a field short */
                         "%s\tapp\tsoon\t-\t{}\n"        /* ms is not a number */
                         "%s\tapp\t1\t-\tnot json\n"     /* manifest is not an object */
                         "%s\t\t1\t-\t{}\n"              /* no target */
                         "%s\tapp\t9\t-\t{\"ok\":1}\n",  /* the one good line */
                         good, good, good, good, good);
  assert_int_equal(mkdir(DIR, 0777), 0);
  ut_put(LOG, text);
  free(text);

  store *s = open_store();
  assert_int_equal(store_skipped(s), 5);
  const store_entry *e = store_last(s, "app");
  assert_non_null(e);
  assert_int_equal(e->ms, 9);
  store_close(s);
}

static void compaction_keeps_the_newest_entry_per_target(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  put(s, K("b1"), "lib", 1);
  put(s, K("a2"), "app", 2);
  put(s, K("a3"), "app", 3);
  put(s, K("b2"), "lib", 2);
  assert_int_equal(store_compact(s), 0);
  put(s, K("c1"), "tool", 1); /* appends still land after compaction */
  store_close(s);

  char *text = records();
  assert_int_equal(ut_lines(text), 3);
  free(text);
  assert_false(ut_exists(TMP));

  s = open_store();
  assert_string_equal(store_last(s, "app")->key, K("a3"));
  assert_string_equal(store_last(s, "lib")->key, K("b2"));
  assert_string_equal(store_last(s, "tool")->key, K("c1"));
  assert_int_equal(store_last(s, "app")->ms, 3);
  assert_null(store_get(s, K("a1")));
  assert_null(store_get(s, K("a2")));
  assert_null(store_get(s, K("b1")));
  store_close(s);
}

static void crash_between_write_and_rename_leaves_the_store_intact(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  put(s, K("a2"), "app", 2);
  put(s, K("b1"), "lib", 1);
  store_close(s);
  char *before = ut_slurp(LOG);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    store *cs = NULL;
    char *err = NULL;
    if (store_open(DIR, &cs, &err) < 0) _exit(1);
    rename_mode = RENAME_CRASH;
    store_compact(cs); /* dies in rename() */
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), CRASHED);
  assert_true(ut_exists(TMP)); /* the crash left the compacted copy behind */

  char *after = ut_slurp(LOG);
  assert_string_equal(after, before);
  free(after);
  free(before);

  s = open_store();
  assert_false(ut_exists(TMP));
  assert_int_equal(store_skipped(s), 0);
  assert_string_equal(store_last(s, "app")->key, K("a2"));
  assert_non_null(store_get(s, K("a1")));
  assert_string_equal(store_last(s, "lib")->key, K("b1"));
  put(s, K("c1"), "tool", 1);
  store_close(s);
  s = open_store();
  assert_non_null(store_get(s, K("c1")));
  store_close(s);
}

static void leftover_temp_file_is_ignored(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  store_close(s);
  char *junk = xasprintf(HEADER "%s\tintruder\t1\t-\t{}\n", K("x1"));
  ut_put(TMP, junk);
  free(junk);

  s = open_store();
  assert_non_null(store_get(s, K("a1")));
  assert_null(store_last(s, "intruder"));
  assert_false(ut_exists(TMP));
  store_close(s);
}

static void failed_rename_keeps_the_store_usable(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  put(s, K("a2"), "app", 2);
  rename_mode = RENAME_FAIL;
  assert_int_equal(store_compact(s), -EIO);
  rename_mode = RENAME_REAL;
  assert_false(ut_exists(TMP));
  put(s, K("b1"), "lib", 1);
  store_close(s);

  s = open_store();
  assert_int_equal(store_skipped(s), 0);
  assert_string_equal(store_last(s, "app")->key, K("a2"));
  assert_non_null(store_get(s, K("b1")));
  store_close(s);
}

static void forgotten_target_stays_forgotten(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  put(s, K("b1"), "lib", 1);
  assert_int_equal(store_forget(s, "app"), 0);
  assert_null(store_last(s, "app"));
  assert_null(store_get(s, K("a1")));
  store_close(s);

  s = open_store();
  assert_null(store_last(s, "app"));
  assert_null(store_get(s, K("a1")));
  assert_non_null(store_last(s, "lib"));
  put(s, K("a2"), "app", 2); /* and it can be built again */
  assert_int_equal(store_compact(s), 0);
  store_close(s);

  s = open_store();
  assert_string_equal(store_last(s, "app")->key, K("a2"));
  store_close(s);
  char *text = records();
  assert_int_equal(ut_lines(text), 2);
  free(text);
}

/* store.h: store_forget "forgets every entry of target" — an older build of
 * it must not come back as up to date when its inputs return to that state. */
static void forgetting_a_target_forgets_its_older_keys_too(void **state) {
  (void)state;
  store *s = open_store();
  put(s, K("a1"), "app", 1);
  put(s, K("a2"), "app", 2);
  assert_int_equal(store_forget(s, "app"), 0);
  int newest_gone = store_get(s, K("a2")) == NULL;
  int older_gone = store_get(s, K("a1")) == NULL;
  store_close(s);
  s = open_store();
  int older_gone_after_reopening = store_get(s, K("a1")) == NULL;
  store_close(s);

  assert_true(newest_gone);
  assert_true(older_gone);
  assert_true(older_gone_after_reopening);
}

static void foreign_file_is_replaced_by_a_fresh_store(void **state) {
  (void)state;
  assert_int_equal(mkdir(DIR, 0777), 0);
  ut_put(LOG, "dbx-store 99\nsomething else entirely\n");
  store *s = open_store();
  assert_int_equal(store_skipped(s), 1);
  put(s, K("a1"), "app", 1);
  store_close(s);

  s = open_store();
  assert_int_equal(store_skipped(s), 0);
  assert_non_null(store_get(s, K("a1")));
  store_close(s);
}

static void closing_compacts_a_log_that_has_grown(void **state) {
  (void)state;
  store *s = open_store();
  for (int i = 0; i < 100; i++) {
    char name[16];
    snprintf(name, sizeof name, "a%d", i);
    put(s, K(name), "app", (uint64_t)i);
  }
  put(s, K("b"), "lib", 1);
  store_close(s);
  char *text = records();
  assert_int_equal(ut_lines(text), 2);
  free(text);
  s = open_store();
  assert_string_equal(store_last(s, "app")->key, K("a99"));
  store_close(s);
}

static void unusable_folder_is_an_error_with_a_message(void **state) {
  (void)state;
  ut_put("file", "not a folder\n");
  store *s = NULL;
  char *err = NULL;
  assert_int_equal(store_open("file/.dbx", &s, &err), -ENOTDIR);
  assert_non_null(err);
  assert_non_null(strstr(err, "file/.dbx"));
  free(err);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(entries_survive_reopening),
      T(newest_entry_per_target_wins),
      T(torn_last_line_is_skipped_and_the_next_append_parses),
      T(malformed_lines_are_skipped_and_counted),
      T(compaction_keeps_the_newest_entry_per_target),
      T(crash_between_write_and_rename_leaves_the_store_intact),
      T(leftover_temp_file_is_ignored),
      T(failed_rename_keeps_the_store_usable),
      T(forgotten_target_stays_forgotten),
      T(forgetting_a_target_forgets_its_older_keys_too),
      T(foreign_file_is_replaced_by_a_fresh_store),
      T(closing_compacts_a_log_that_has_grown),
      T(unusable_folder_is_an_error_with_a_message),
  };
  return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
