/* push: which registry addresses `dbx push --to` takes, and how the engine's
 * answer to a push is read. The pushes themselves go through the engine:
 * tests/e2e/test_trades.py. */
#include "unit.h"

#include "push.h"

static void plain_addresses_are_taken(void **state) {
  (void)state;
  assert_null(push_check_registry("127.0.0.1:5000"));
  assert_null(push_check_registry("127.0.0.1:5000/team/sub"));
  assert_null(push_check_registry("registry.example.org"));
  assert_null(push_check_registry("localhost:5000"));
}

static void bad_addresses_say_why(void **state) {
  (void)state;
  assert_non_null(strstr(push_check_registry(NULL), "--to needs a registry"));
  assert_non_null(strstr(push_check_registry(""), "--to needs a registry"));
  assert_non_null(strstr(push_check_registry("https://127.0.0.1:5000"), "without a scheme"));
  assert_non_null(strstr(push_check_registry("127.0.0.1:5000/"), "empty part"));
  assert_non_null(strstr(push_check_registry("/x"), "empty part"));
  assert_non_null(strstr(push_check_registry("a//b"), "empty part"));
  assert_non_null(strstr(push_check_registry("reg;rm -rf /"), "only letters"));
  assert_non_null(strstr(push_check_registry("reg istry"), "only letters"));
  assert_non_null(strstr(push_check_registry("reg$(x)"), "only letters"));
}

static void progress_gives_the_digest_or_the_error(void **state) {
  (void)state;
  const char *ok = "{\"status\":\"The push refers to repository [127.0.0.1:5000/trades]\"}\n"
                   "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"a1\"}\n"
                   "{\"progressDetail\":{},\"aux\":{\"Tag\":\"prod\",\"Digest\":\"sha256:245a\",\"Size\":1}}\n";
  char *error, *digest;
  push_read_progress(ok, strlen(ok), &error, &digest);
  assert_null(error);
  assert_string_equal(digest, "sha256:245a");
  free(digest);
  const char *bad = "{\"status\":\"Preparing\"}\nnot json\n"
                    "{\"errorDetail\":{\"message\":\"refused\"},\"error\":\"dial tcp: refused\"}\n"
                    "{\"error\":\"a later one\"}";
  push_read_progress(bad, strlen(bad), &error, &digest);
  assert_string_equal(error, "dial tcp: refused");
  assert_null(digest);
  free(error);
  push_read_progress("", 0, &error, &digest);
  assert_null(error);
  assert_null(digest);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_addresses_are_taken),
      cmocka_unit_test(bad_addresses_say_why),
      cmocka_unit_test(progress_gives_the_digest_or_the_error),
  };
  return cmocka_run_group_tests_name("push", tests, NULL, NULL);
}
