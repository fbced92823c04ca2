/* hash: SHA-256 of buffers and files, sync and threadpool digests of many files. */
#include "unit.h"

#include "hash.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int setup(void **state) { return ut_setup_tmpdir(state); }

static int teardown(void **state) { return ut_teardown_tmpdir(state); }

static void hex_of(const char *data, char hex[HASH_HEX]) {
  unsigned char d[HASH_LEN];
  hash_buf(data, strlen(data), d);
  hash_hex(d, hex);
}

static void buffer_digests_match_known_vectors(void **state) {
  (void)state;
  char hex[HASH_HEX];
  hex_of("abc", hex);
  assert_string_equal(hex, SHA_ABC);
  hex_of("", hex);
  assert_string_equal(hex, SHA_EMPTY);
}

static void hex_roundtrips_and_rejects_junk(void **state) {
  (void)state;
  unsigned char d[HASH_LEN];
  char hex[HASH_HEX];
  assert_int_equal(hash_unhex(SHA_ABC, d), 0);
  hash_hex(d, hex);
  assert_string_equal(hex, SHA_ABC);
  assert_int_equal(hash_unhex("zz" SHA_ABC, d), -1);
  assert_int_equal(hash_unhex("abc", d), -1); /* too short: stops at the NUL */
}

static void file_digest_equals_buffer_digest(void **state) {
  (void)state;
  /* larger than the 1 MiB read buffer, so several reads are joined */
  size_t n = 3 * (1 << 20) + 123;
  char *data = xmalloc(n + 1);
  for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
  data[n] = 0;
  ut_put("big", data);
  unsigned char want[HASH_LEN], got[HASH_LEN];
  hash_buf(data, n, want);
  assert_int_equal(hash_file("big", got), 0);
  assert_memory_equal(got, want, HASH_LEN);
  free(data);

  assert_int_equal(hash_file("missing", got), -ENOENT);
}

static void sync_items_report_digest_missing_and_folder(void **state) {
  (void)state;
  ut_put("a.txt", "abc");
  assert_int_equal(mkdir("dir", 0777), 0);
  hash_item items[3] = {{.path = "a.txt"}, {.path = "gone.txt"}, {.path = "dir"}};
  hash_items_sync(NULL, items, 3);

  char hex[HASH_HEX];
  assert_int_equal(items[0].err, 0);
  assert_int_equal(items[0].hashed, 1);
  assert_int_equal(items[0].st.size, 3);
  hash_hex(items[0].digest, hex);
  assert_string_equal(hex, SHA_ABC);
  assert_int_equal(items[1].err, -ENOENT);
  assert_int_equal(items[2].err, -EISDIR);
}

struct async_result {
  int calls;
  hash_item *items;
  size_t n;
};

static void on_hashed(void *ud, hash_item *items, size_t n) {
  struct async_result *r = ud;
  r->calls++;
  r->items = items;
  r->n = n;
}

static void async_items_match_sync_and_fill_the_cache(void **state) {
  (void)state;
  enum { N = 23 };
  char *paths[N];
  hash_item items[N];
  memset(items, 0, sizeof items);
  for (size_t i = 0; i < N; i++) {
    paths[i] = xasprintf("src/f%zu.txt", i);
    char *body = xasprintf("file number %zu\n", i);
    ut_put(paths[i], body);
    ut_set_mtime(paths[i], 1600000000ll * 1000000000); /* well before any cache stamp */
    free(body);
    items[i].path = paths[i];
  }
  statcache *cache = statcache_load(".dbx-statcache");
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct async_result r = {0};
  assert_int_equal(hash_items_async(&loop, cache, items, N, on_hashed, &r), 0);
  assert_int_equal(r.calls, 0); /* never called before the loop runs */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(r.calls, 1);
  assert_ptr_equal(r.items, items);
  assert_int_equal(r.n, N);

  for (size_t i = 0; i < N; i++) {
    unsigned char want[HASH_LEN];
    assert_int_equal(items[i].err, 0);
    assert_int_equal(hash_file(paths[i], want), 0);
    assert_memory_equal(items[i].digest, want, HASH_LEN);
    assert_true(items[i].hashed);
  }
  assert_int_equal(statcache_save(cache), 0);
  statcache_free(cache);

  /* a later run reads none of the unchanged files again */
  cache = statcache_load(".dbx-statcache");
  hash_item again[N];
  memset(again, 0, sizeof again);
  for (size_t i = 0; i < N; i++) again[i].path = paths[i];
  hash_items_sync(cache, again, N);
  for (size_t i = 0; i < N; i++) {
    assert_int_equal(again[i].hashed, 0);
    assert_memory_equal(again[i].digest, items[i].digest, HASH_LEN);
  }
  statcache_free(cache);
  assert_int_equal(uv_loop_close(&loop), 0);
  for (size_t i = 0; i < N; i++) free(paths[i]);
}

static void async_with_no_items_still_reports(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct async_result r = {0};
  assert_int_equal(hash_items_async(&loop, NULL, NULL, 0, on_hashed, &r), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.n, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(buffer_digests_match_known_vectors),
      cmocka_unit_test(hex_roundtrips_and_rejects_junk),
      cmocka_unit_test_setup_teardown(file_digest_equals_buffer_digest, setup, teardown),
      cmocka_unit_test_setup_teardown(sync_items_report_digest_missing_and_folder, setup, teardown),
      cmocka_unit_test_setup_teardown(async_items_match_sync_and_fill_the_cache, setup, teardown),
      cmocka_unit_test(async_with_no_items_still_reports),
  };
  return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
