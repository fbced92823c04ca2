/* yaml: compose-file YAML read into Lua values, and the errors a reader of a
 * broken file sees. */
#include "unit.h"

#include <lauxlib.h>
#include <lualib.h>

#include "yaml.h"

static int setup(void **state) {
  lua_State *L = luaL_newstate();
  if (!L) return -1;
  luaL_openlibs(L);
  *state = L;
  return 0;
}

static int teardown(void **state) {
  lua_close(*state);
  return 0;
}

/* Parse text and leave its value in the global v; 0, or -1 with the message there. */
static int load(lua_State *L, const char *text) {
  int rc = yaml_push_lua(L, text, strlen(text));
  lua_setglobal(L, "v");
  return rc;
}

/* Evaluate a Lua expression over v and return it as a fresh string. */
static char *eval(lua_State *L, const char *expr) {
  char *code = xasprintf("return tostring(%s)", expr);
  assert_int_equal(luaL_dostring(L, code), LUA_OK);
  free(code);
  char *out = xstrdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return out;
}

static void expect(lua_State *L, const char *expr, const char *want) {
  char *got = eval(L, expr);
  if (strcmp(got, want) != 0) fail_msg("%s: got '%s', want '%s'", expr, got, want);
  free(got);
}

static void a_compose_service_reads_as_tables(void **state) {
  lua_State *L = *state;
  assert_int_equal(load(L,
    "services:\n"
    "  api:\n"
    "    build: ./backend\n"
    "    command: [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\"]\n"
    "    ports:\n"
    "      - \"9000:9000\"\n"
    "      - 8080\n"
    "    environment:\n"
    "      LOG_LEVEL: info\n"
    "      DEBUG: false\n"
    "      EMPTY:\n"
    "    env_file: .env\n"), 0);
  expect(L, "v.services.api.build", "./backend");
  expect(L, "v.services.api.command[2]", "app.main:app");
  expect(L, "#v.services.api.command", "4");
  expect(L, "v.services.api.ports[1]", "9000:9000");
  expect(L, "math.type(v.services.api.ports[2])", "integer");
  expect(L, "v.services.api.environment.LOG_LEVEL", "info");
  expect(L, "v.services.api.environment.DEBUG == false", "true");
  expect(L, "v.services.api.environment.EMPTY", "nil");
  expect(L, "v.services.api.env_file", ".env");
}

static void quoted_scalars_stay_strings(void **state) {
  lua_State *L = *state;
  assert_int_equal(load(L, "a: \"8000\"\nb: 'true'\nc: 1.5\nd: ~\ne: |\n  two\n  lines\n"), 0);
  expect(L, "type(v.a)", "string");
  expect(L, "type(v.b)", "string");
  expect(L, "v.c", "1.5");
  expect(L, "v.d", "nil");
  expect(L, "v.e", "two\nlines\n");
}

static void anchors_are_shared_and_merge_keys_fill_gaps(void **state) {
  lua_State *L = *state;
  assert_int_equal(load(L,
    "x-common: &common\n"
    "  restart: always\n"
    "  image: base\n"
    "services:\n"
    "  a:\n"
    "    <<: *common\n"
    "    image: mine\n"
    "  b: *common\n"), 0);
  expect(L, "v.services.a.restart", "always");
  expect(L, "v.services.a.image", "mine");
  expect(L, "v.services.a['<<']", "nil");
  expect(L, "v.services.b == v['x-common']", "true");
}

static void an_alias_bomb_stays_small(void **state) {
  lua_State *L = *state;
  strbuf sb = {0};
  sb_adds(&sb, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
  for (int i = 1; i < 40; i++)
    sb_addf(&sb, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
              i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
  assert_int_equal(load(L, sb.buf), 0);
  sb_free(&sb);
  expect(L, "v.a39[1] == v.a39[10]", "true");
  expect(L, "v.a1[1][1]", "x");
}

static void an_empty_text_is_nil(void **state) {
  lua_State *L = *state;
  assert_int_equal(load(L, ""), 0);
  expect(L, "v", "nil");
  assert_int_equal(load(L, "# only a comment\n"), 0);
  expect(L, "v", "nil");
}

static void errors_name_the_line(void **state) {
  lua_State *L = *state;
  assert_int_equal(load(L, "services:\n  api:\n    ports: [\"80\"\n  web: {}\n"), -1);
  expect(L, "v:match('^line %d+: ') ~= nil", "true");
  assert_int_equal(load(L, "a: 1\nb: *missing\n"), -1);
  expect(L, "v", "line 2: found undefined alias");
  assert_int_equal(load(L, "? [a, b]\n: c\n"), -1);
  expect(L, "v", "line 1: a mapping key must be a scalar");
}

static void nesting_has_a_bound(void **state) {
  lua_State *L = *state;
  strbuf sb = {0};
  for (int i = 0; i <= YAML_MAX_DEPTH; i++) sb_adds(&sb, "[");
  for (int i = 0; i <= YAML_MAX_DEPTH; i++) sb_adds(&sb, "]");
  assert_int_equal(load(L, sb.buf), -1);
  sb_free(&sb);
  expect(L, "v", "line 1: nested too deep");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_compose_service_reads_as_tables, setup, teardown),
      cmocka_unit_test_setup_teardown(quoted_scalars_stay_strings, setup, teardown),
      cmocka_unit_test_setup_teardown(anchors_are_shared_and_merge_keys_fill_gaps, setup, teardown),
      cmocka_unit_test_setup_teardown(an_alias_bomb_stays_small, setup, teardown),
      cmocka_unit_test_setup_teardown(an_empty_text_is_nil, setup, teardown),
      cmocka_unit_test_setup_teardown(errors_name_the_line, setup, teardown),
      cmocka_unit_test_setup_teardown(nesting_has_a_bound, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
