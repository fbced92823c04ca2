/* map: string-keyed hash table with borrowed keys. */
#include "unit.h"

#include "map.h"

static int setup(void **state) {
  *state = map_new();
  return 0;
}

static int teardown(void **state) {
  map_free(*state);
  return 0;
}

static void put_then_get(void **state) {
  map *m = *state;
  int a = 1, b = 2;
  assert_null(map_put(m, "alpha", &a));
  assert_null(map_put(m, "beta", &b));
  assert_ptr_equal(map_get(m, "alpha"), &a);
  assert_ptr_equal(map_get(m, "beta"), &b);
  assert_null(map_get(m, "gamma"));
  assert_null(map_get(m, "alph"));
  assert_int_equal(map_len(m), 2);
}

static void put_replaces_and_returns_previous(void **state) {
  map *m = *state;
  int a = 1, b = 2;
  map_put(m, "k", &a);
  assert_ptr_equal(map_put(m, "k", &b), &a);
  assert_ptr_equal(map_get(m, "k"), &b);
  assert_int_equal(map_len(m), 1);
}

static void getn_looks_up_a_prefix(void **state) {
  map *m = *state;
  int a = 1;
  map_put(m, "src", &a);
  assert_ptr_equal(map_getn(m, "src/main.c", 3), &a);
  assert_null(map_getn(m, "src/main.c", 4));
}

static void many_keys_survive_growth_and_iterate_once(void **state) {
  map *m = *state;
  enum { N = 5000 };
  char **keys = xmalloc(N * sizeof *keys);
  for (size_t i = 0; i < N; i++) {
    keys[i] = xasprintf("target/%zu", i);
    map_put(m, keys[i], (void *)(i + 1));
  }
  assert_int_equal(map_len(m), N);
  for (size_t i = 0; i < N; i++) assert_int_equal((size_t)map_get(m, keys[i]), i + 1);

  unsigned char *seen = xcalloc(N, 1);
  size_t it = 0, count = 0;
  const char *k;
  void *v;
  while (map_next(m, &it, &k, &v)) {
    size_t i = (size_t)v - 1;
    assert_true(i < N);
    assert_string_equal(k, keys[i]);
    assert_int_equal(seen[i], 0);
    seen[i] = 1;
    count++;
  }
  assert_int_equal(count, N);
  free(seen);
  for (size_t i = 0; i < N; i++) free(keys[i]);
  free(keys);
}

static void empty_map_iterates_nothing(void **state) {
  size_t it = 0;
  assert_int_equal(map_next(*state, &it, NULL, NULL), 0);
  assert_int_equal(map_len(*state), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(put_then_get, setup, teardown),
      cmocka_unit_test_setup_teardown(put_replaces_and_returns_previous, setup, teardown),
      cmocka_unit_test_setup_teardown(getn_looks_up_a_prefix, setup, teardown),
      cmocka_unit_test_setup_teardown(many_keys_survive_growth_and_iterate_once, setup, teardown),
      cmocka_unit_test_setup_teardown(empty_map_iterates_nothing, setup, teardown),
  };
  return cmocka_run_group_tests_name("map", tests, NULL, NULL);
}
