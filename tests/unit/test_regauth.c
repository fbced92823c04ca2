/* regauth: the X-Registry-Auth header from the docker CLI's config: auths
 * entries (auth, username/password, identity token, keys with a scheme), a
 * credential helper per registry or for all, and the errors a broken config
 * or helper gives. Each test has its own DOCKER_CONFIG and PATH. */
#include "unit.h"

#include <cJSON.h>
#include <openssl/evp.h>

#include "regauth.h"

static char *old_path;

static int setup(void **state) {
  if (ut_setup_tmpdir(state) < 0) return -1;
  ut_tmpdir *t = *state;
  char *cfg = xasprintf("%s/cfg", t->path), *path = xasprintf("%s/bin:%s", t->path, old_path);
  mkdir("cfg", 0755);
  mkdir("bin", 0755);
  setenv("DOCKER_CONFIG", cfg, 1);
  setenv("PATH", path, 1);
  free(cfg);
  free(path);
  return 0;
}

static int teardown(void **state) {
  setenv("PATH", old_path, 1);
  unsetenv("DOCKER_CONFIG");
  return ut_teardown_tmpdir(state);
}

/* A credential helper docker-credential-NAME running script (sh). */
static void helper(const char *name, const char *script) {
  char *p = xasprintf("bin/docker-credential-%s", name), *text = xasprintf("#!/bin/sh\n%s", script);
  ut_put(p, text);
  chmod(p, 0755);
  free(p);
  free(text);
}

/* The header regauth_header gives for host, decoded from base64url into JSON;
 * *from receives where it came from. */
static cJSON *header_of(const char *host, char **from) {
  char *value = NULL, *err = NULL;
  if (regauth_header(host, &value, from, &err) < 0) fail_msg("regauth_header(%s): %s", host, err);
  for (char *p = value; *p; p++) *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
  size_t n = strlen(value);
  unsigned char *json = xcalloc(1, n + 1);
  int got = EVP_DecodeBlock(json, (unsigned char *)value, (int)n);
  assert_true(got > 0);
  cJSON *j = cJSON_Parse((char *)json);
  if (!j) fail_msg("not JSON: %s", json);
  free(json);
  free(value);
  return j;
}

static const char *field(const cJSON *j, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The header for host is {} and names no source. */
static void expect_none(const char *host) {
  char *from = NULL;
  cJSON *j = header_of(host, &from);
  assert_int_equal(cJSON_GetArraySize(j), 0);
  assert_null(from);
  cJSON_Delete(j);
}

/* The header for host carries user and password, from a source containing from_has. */
static void expect_login(const char *host, const char *user, const char *pass, const char *from_has) {
  char *from = NULL;
  cJSON *j = header_of(host, &from);
  assert_string_equal(field(j, "username"), user);
  assert_string_equal(field(j, "password"), pass);
  assert_string_equal(field(j, "serveraddress"), host);
  if (!from || !strstr(from, from_has)) fail_msg("credentials said to come from %s", from ? from : "nowhere");
  free(from);
  cJSON_Delete(j);
}

/* regauth_header(host) fails with a message containing want. */
static void expect_error(const char *host, const char *want) {
  char *value = NULL, *from = NULL, *err = NULL;
  assert_int_equal(regauth_header(host, &value, &from, &err), -1);
  if (!strstr(err, want)) fail_msg("the message should contain '%s': %s", want, err);
  free(err);
}

static void no_config_means_no_credentials(void **state) {
  (void)state;
  expect_none("127.0.0.1:5000");
}

static void auths_give_the_login_of_that_registry_only(void **state) {
  (void)state;
  /* base64 of "alice:s3cr:et" (a password may hold a colon) */
  ut_put("cfg/config.json", "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"YWxpY2U6czNjcjpldA==\"},"
                            "\"https://reg.example:5443/v1/\":{\"username\":\"bob\",\"password\":\"pw\"},"
                            "\"tok.example\":{\"identitytoken\":\"T0K\"}}}");
  expect_login("127.0.0.1:5000", "alice", "s3cr:et", "auths in ");
  expect_login("reg.example:5443", "bob", "pw", "config.json");
  char *from = NULL;
  cJSON *j = header_of("tok.example", &from);
  assert_string_equal(field(j, "identitytoken"), "T0K");
  assert_null(field(j, "password"));
  free(from);
  cJSON_Delete(j);
  expect_none("127.0.0.1:5001");
  expect_none("reg.example");
}

static void docker_hub_and_token_logins_are_read_as_docker_writes_them(void **state) {
  (void)state;
  ut_put("cfg/config.json", "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHVidXNlcjpodWJwdw==\"},"
                            "\"acr.example\":{\"auth\":\"MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==\","
                            "\"identitytoken\":\"REFRESH\"}}}");
  const char *hubs[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
  for (size_t i = 0; i < 3; i++) {
    char *from = NULL;
    cJSON *j = header_of(hubs[i], &from);
    assert_string_equal(field(j, "username"), "hubuser");
    assert_string_equal(field(j, "password"), "hubpw");
    assert_string_equal(field(j, "serveraddress"), "https://index.docker.io/v1/");
    assert_non_null(from);
    free(from);
    cJSON_Delete(j);
  }
  char *from = NULL;
  cJSON *j = header_of("acr.example", &from); /* both written: the token goes too, and the engine uses it */
  assert_string_equal(field(j, "identitytoken"), "REFRESH");
  assert_string_equal(field(j, "username"), "00000000-0000-0000-0000-000000000000");
  free(from);
  cJSON_Delete(j);
}

static void a_helper_per_registry_comes_before_the_store(void **state) {
  (void)state;
  helper("one", "read host; [ \"$1\" = get ] || exit 3\n"
                "printf '{\"ServerURL\":\"%s\",\"Username\":\"u1\",\"Secret\":\"s1\"}' \"$host\"\n");
  helper("store", "read host\n"
                  "case \"$host\" in other.example) printf '{\"Username\":\"<token>\",\"Secret\":\"IDT\"}';;\n"
                  "*) echo 'credentials not found in native keychain'; exit 1;; esac\n");
  ut_put("cfg/config.json", "{\"credsStore\":\"store\",\"credHelpers\":{\"127.0.0.1:5000\":\"one\"},"
                            "\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"eDp5\"},\"127.0.0.1:5001\":{\"auth\":\"eDp5\"}}}");
  expect_login("127.0.0.1:5000", "u1", "s1", "docker-credential-one");
  char *from = NULL;
  cJSON *j = header_of("other.example", &from);
  assert_string_equal(field(j, "identitytoken"), "IDT");
  assert_null(field(j, "username")); /* "<token>" is the helper's marker, not a name */
  assert_string_equal(from, "docker-credential-store");
  free(from);
  cJSON_Delete(j);
  expect_none("127.0.0.1:5001"); /* the store has none: not the auths entry either, as with docker */
}

static void a_broken_config_or_helper_is_an_error(void **state) {
  (void)state;
  ut_put("cfg/config.json", "{\"auths\":");
  expect_error("127.0.0.1:5000", "is not a JSON object");
  ut_put("cfg/config.json", "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"not base64!\"}}}");
  expect_error("127.0.0.1:5000", "the auth of 127.0.0.1:5000 is not base64 of USER:PASSWORD");
  ut_put("cfg/config.json", "{\"credsStore\":\"missing\"}");
  expect_error("127.0.0.1:5000", "docker-credential-missing is not on PATH");
  helper("broken", "echo 'the keyring is locked' >&1; exit 4\n");
  ut_put("cfg/config.json", "{\"credsStore\":\"broken\"}");
  expect_error("127.0.0.1:5000", "docker-credential-broken get 127.0.0.1:5000 failed (status 4): the keyring is locked");
  helper("nosecret", "printf '{\"Username\":\"u\"}'\n");
  ut_put("cfg/config.json", "{\"credsStore\":\"nosecret\"}");
  expect_error("127.0.0.1:5000", "printed no Secret");
}

int main(void) {
  old_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(no_config_means_no_credentials, setup, teardown),
      cmocka_unit_test_setup_teardown(auths_give_the_login_of_that_registry_only, setup, teardown),
      cmocka_unit_test_setup_teardown(docker_hub_and_token_logins_are_read_as_docker_writes_them, setup, teardown),
      cmocka_unit_test_setup_teardown(a_helper_per_registry_comes_before_the_store, setup, teardown),
      cmocka_unit_test_setup_teardown(a_broken_config_or_helper_is_an_error, setup, teardown),
  };
  int rc = cmocka_run_group_tests_name("regauth", tests, NULL, NULL);
  free(old_path);
  return rc;
}
