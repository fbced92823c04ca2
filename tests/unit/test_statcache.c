/* statcache: an unchanged file is not read again, a touched one is re-read
 * but keeps its digest, and a file changed within the cache's own clock tick
 * (the racy case) is never trusted. */
#include "unit.h"

#include <inttypes.h>

#include "hash.h"
#include "statcache.h"

#define CACHE "statcache"
#define OLD_NS ((int64_t)1600000000 * 1000000000) /* 2020: older than any cache stamp */

static int setup(void **state) { return ut_setup_tmpdir(state); }

static int teardown(void **state) { return ut_teardown_tmpdir(state); }

/* Digest path through the cache; returns whether its bytes were read. */
static int hash_through(statcache *c, const char *path, unsigned char digest[HASH_LEN]) {
  hash_item it = {.path = path};
  hash_items_sync(c, &it, 1);
  assert_int_equal(it.err, 0);
  memcpy(digest, it.digest, HASH_LEN);
  return it.hashed;
}

static void digest_of(const char *text, unsigned char d[HASH_LEN]) { hash_buf(text, strlen(text), d); }

/* Write a cache file by hand: one entry for path with stat st and digest d. */
static void write_cache(const char *path, const file_stat *st, const unsigned char d[HASH_LEN],
                        const char *tail) {
  char hex[HASH_HEX];
  hash_hex(d, hex);
  char *text = xasprintf("dbx-statcache 1\n%s %" PRId64 " %" PRId64 " %" PRId64 " %" PRIu64 " %s\n%s",
                         hex, st->size, st->mtime_ns, st->ctime_ns, st->ino, path, tail);
  ut_put(CACHE, text);
  free(text);
}

static void unchanged_file_is_not_read_again(void **state) {
  (void)state;
  ut_put("app.py", "print('hi')\n");
  ut_set_mtime("app.py", OLD_NS);
  unsigned char first[HASH_LEN], second[HASH_LEN], want[HASH_LEN];
  digest_of("print('hi')\n", want);

  statcache *c = statcache_load(CACHE);
  assert_int_equal(hash_through(c, "app.py", first), 1);
  assert_memory_equal(first, want, HASH_LEN);
  assert_int_equal(statcache_save(c), 0);
  statcache_free(c);

  c = statcache_load(CACHE);
  assert_int_equal(hash_through(c, "app.py", second), 0);
  assert_memory_equal(second, want, HASH_LEN);
  statcache_free(c);
}

static void touched_file_is_reread_and_keeps_its_digest(void **state) {
  (void)state;
  ut_put("app.py", "same bytes\n");
  ut_set_mtime("app.py", OLD_NS);
  unsigned char before[HASH_LEN], after[HASH_LEN];
  statcache *c = statcache_load(CACHE);
  hash_through(c, "app.py", before);
  assert_int_equal(statcache_save(c), 0);
  statcache_free(c);

  ut_set_mtime("app.py", OLD_NS + 3600ll * 1000000000); /* touch: new mtime, same bytes */
  c = statcache_load(CACHE);
  assert_int_equal(hash_through(c, "app.py", after), 1); /* stat differs: read again */
  assert_memory_equal(after, before, HASH_LEN);           /* so no key changes */
  assert_int_equal(statcache_save(c), 0);
  statcache_free(c);

  c = statcache_load(CACHE);
  assert_int_equal(hash_through(c, "app.py", after), 0); /* the new stat is remembered */
  assert_memory_equal(after, before, HASH_LEN);
  statcache_free(c);
}

static void any_stat_difference_is_not_trusted(void **state) {
  (void)state;
  file_stat st = {.size = 10, .mtime_ns = OLD_NS, .ctime_ns = OLD_NS + 5, .ino = 77};
  unsigned char d[HASH_LEN];
  digest_of("ten bytes!", d);
  statcache *c = statcache_load(CACHE);
  statcache_update(c, "f", &st, d);
  assert_int_equal(statcache_save(c), 0);
  assert_true(statcache_stamp(c) > OLD_NS);

  const unsigned char *got = statcache_lookup(c, "f", &st);
  assert_non_null(got);
  assert_memory_equal(got, d, HASH_LEN);

  file_stat other = st;
  other.size++;
  assert_null(statcache_lookup(c, "f", &other));
  other = st;
  other.mtime_ns++;
  assert_null(statcache_lookup(c, "f", &other));
  other = st;
  other.ctime_ns++;
  assert_null(statcache_lookup(c, "f", &other));
  other = st;
  other.ino++;
  assert_null(statcache_lookup(c, "f", &other));
  assert_null(statcache_lookup(c, "g", &st));
  statcache_free(c);
}

static void same_size_and_mtime_but_new_bytes_in_racy_window_is_rehashed(void **state) {
  (void)state;
  /* The cache recorded "aaaa" for f, but f was rewritten with "bbbb" within
   * the same clock tick as the cache's own write: every stat field matches. */
  ut_put("f", "bbbb");
  file_stat st;
  assert_int_equal(file_stat_get("f", &st), 0);
  unsigned char stale[HASH_LEN], fresh[HASH_LEN], got[HASH_LEN];
  digest_of("aaaa", stale);
  digest_of("bbbb", fresh);
  write_cache("f", &st, stale, "");

  ut_set_mtime(CACHE, st.mtime_ns); /* stamp == file mtime: racy */
  statcache *c = statcache_load(CACHE);
  assert_int_equal(statcache_stamp(c), st.mtime_ns);
  assert_null(statcache_lookup(c, "f", &st));
  assert_int_equal(hash_through(c, "f", got), 1);
  assert_memory_equal(got, fresh, HASH_LEN);
  statcache_free(c);

  ut_set_mtime(CACHE, st.mtime_ns - 1000); /* the file is newer than the cache */
  c = statcache_load(CACHE);
  assert_null(statcache_lookup(c, "f", &st));
  statcache_free(c);

  /* Control: a cache written after the file's tick vouches for the entry
   * (this is why the entry above had to be refused). */
  ut_set_mtime(CACHE, st.mtime_ns + 1000000000);
  c = statcache_load(CACHE);
  const unsigned char *d = statcache_lookup(c, "f", &st);
  assert_non_null(d);
  assert_memory_equal(d, stale, HASH_LEN);
  statcache_free(c);
}

static void save_then_load_keeps_every_entry(void **state) {
  (void)state;
  const char *paths[] = {"a.txt", "dir/with space.txt", "deep/er/x.py"};
  file_stat sts[3];
  unsigned char ds[3][HASH_LEN];
  statcache *c = statcache_load(CACHE);
  for (int i = 0; i < 3; i++) {
    sts[i] = (file_stat){.size = 100 + i, .mtime_ns = OLD_NS + i, .ctime_ns = OLD_NS + 10 + i,
                         .ino = 1000u + (unsigned)i};
    digest_of(paths[i], ds[i]);
    statcache_update(c, paths[i], &sts[i], ds[i]);
  }
  statcache_update(c, "bad\nname", &sts[0], ds[0]); /* cannot be stored in a line */
  assert_int_equal(statcache_save(c), 0);
  int64_t stamp = statcache_stamp(c);
  statcache_free(c);

  c = statcache_load(CACHE);
  assert_int_equal(statcache_stamp(c), stamp);
  for (int i = 0; i < 3; i++) {
    const unsigned char *d = statcache_lookup(c, paths[i], &sts[i]);
    assert_non_null(d);
    assert_memory_equal(d, ds[i], HASH_LEN);
  }
  assert_null(statcache_lookup(c, "bad\nname", &sts[0]));
  statcache_free(c);

  char *text = ut_slurp(CACHE);
  assert_int_equal(ut_lines(text), 1 + 3);
  free(text);
}

static void torn_last_line_and_junk_are_ignored(void **state) {
  (void)state;
  file_stat st = {.size = 4, .mtime_ns = OLD_NS, .ctime_ns = OLD_NS, .ino = 9};
  unsigned char d[HASH_LEN];
  char hex[HASH_HEX];
  digest_of("good", d);
  hash_hex(d, hex);
  /* a junk line, then a valid one, then a line cut off by a crash */
  char *tail = xasprintf("not a record\n%s 4 %" PRId64 " %" PRId64 " 9 after-junk\n"
                         "%s 4 %" PRId64 " %" PRId64 " 9 torn",
                         hex, OLD_NS, OLD_NS, hex, OLD_NS, OLD_NS);
  write_cache("good", &st, d, tail);
  free(tail);
  statcache *c = statcache_load(CACHE);
  assert_non_null(statcache_lookup(c, "good", &st));
  assert_non_null(statcache_lookup(c, "after-junk", &st));
  assert_null(statcache_lookup(c, "torn", &st));
  assert_null(statcache_lookup(c, "tor", &st));
  statcache_free(c);
}

static void foreign_or_missing_file_gives_an_empty_cache(void **state) {
  (void)state;
  file_stat st = {.size = 4, .mtime_ns = OLD_NS, .ctime_ns = OLD_NS, .ino = 9};
  unsigned char d[HASH_LEN];
  digest_of("good", d);
  write_cache("good", &st, d, "");
  char *text = ut_slurp(CACHE);
  text[strlen("dbx-statcache ")] = '9'; /* a format this version does not know */
  ut_put(CACHE, text);
  free(text);
  statcache *c = statcache_load(CACHE);
  assert_null(statcache_lookup(c, "good", &st));
  statcache_free(c);

  c = statcache_load("no/such/cache");
  assert_int_equal(statcache_stamp(c), 0);
  assert_null(statcache_lookup(c, "good", &st));
  statcache_free(c);
}

static void save_without_changes_leaves_the_file_alone(void **state) {
  (void)state;
  ut_put("f", "x");
  ut_set_mtime("f", OLD_NS);
  statcache *c = statcache_load(CACHE);
  unsigned char d[HASH_LEN];
  hash_through(c, "f", d);
  assert_int_equal(statcache_save(c), 0);
  statcache_free(c);
  ut_set_mtime(CACHE, OLD_NS + 1000000000); /* a recognisable stamp */

  c = statcache_load(CACHE);
  hash_through(c, "f", d); /* answered from the cache: nothing new */
  assert_int_equal(statcache_save(c), 0);
  statcache_free(c);
  file_stat st;
  assert_int_equal(file_stat_get(CACHE, &st), 0);
  assert_int_equal(st.mtime_ns, OLD_NS + 1000000000);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(unchanged_file_is_not_read_again),
      T(touched_file_is_reread_and_keeps_its_digest),
      T(any_stat_difference_is_not_trusted),
      T(same_size_and_mtime_but_new_bytes_in_racy_window_is_rehashed),
      T(save_then_load_keeps_every_entry),
      T(torn_last_line_and_junk_are_ignored),
      T(foreign_or_missing_file_gives_an_empty_cache),
      T(save_without_changes_leaves_the_file_alone),
  };
  return cmocka_run_group_tests_name("statcache", tests, NULL, NULL);
}
