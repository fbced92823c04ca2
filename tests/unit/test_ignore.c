/* ignore: which paths of a build context a .dockerignore (and dbx's safe
 * defaults) leave out — what a user would find missing from, or leaked
 * into, an image. */
#include "unit.h"

#include "ignore.h"

static int setup(void **state) {
  *state = xcalloc(1, sizeof(ignore_rules));
  return 0;
}

static int teardown(void **state) {
  ignore_free(*state);
  free(*state);
  return 0;
}

/* Each path in the NULL-terminated list must be left out (want 1) or kept (0). */
static void expect(const ignore_rules *r, int want, const char *const *paths) {
  for (size_t i = 0; paths[i]; i++)
    if (!ignore_match(r, paths[i]) != !want)
      fail_msg("%s is %s, expected %s", paths[i], want ? "kept" : "left out",
               want ? "left out" : "kept");
}

#define PATHS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define OUT(r, ...) expect(r, 1, PATHS(__VA_ARGS__))
#define IN(r, ...) expect(r, 0, PATHS(__VA_ARGS__))

static void no_rules_keep_everything(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "");
  IN(r, "a.txt", "src/main.c", ".hidden");
  assert_int_equal(r->pats.n, 0);
}

static void comments_and_blank_lines_are_not_rules(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "# build output\n"
                  "\n"
                  "   \n"
                  "\t# indented comment\n"
                  "*.o\n"
                  "#*.c\n");
  assert_int_equal(r->pats.n, 1);
  OUT(r, "main.o");
  IN(r, "main.c", "# build output", "#*.c");
}

static void surrounding_blanks_and_crlf_are_trimmed(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "  *.log  \r\ntmp\t\r\nlast-line-without-newline");
  OUT(r, "app.log", "tmp", "tmp/x", "last-line-without-newline");
  IN(r, "app.log.txt", "tmpfile");
}

static void star_stays_within_one_folder(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "*.log\n");
  OUT(r, "app.log");
  IN(r, "logs/app.log", "a/b/app.log", "app.logs");
}

static void double_star_matches_at_any_depth(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "**/*.log\n"
                  "docs/**/draft.md\n");
  OUT(r, "app.log", "logs/app.log", "a/b/c/app.log", "docs/draft.md", "docs/x/y/draft.md");
  IN(r, "app.txt", "draft.md", "notes/draft.md");
}

static void leading_slash_and_trailing_slash_are_ignored(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "/secret.txt\n"
                  "build/\n"
                  "./cache\n");
  OUT(r, "secret.txt", "build/out.bin", "build/a/b", "cache/x");
  IN(r, "sub/secret.txt", "builder/x", "sub/build/out.bin");
}

static void a_folder_pattern_leaves_out_everything_below(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "node_modules\n"
                  "src/generated\n");
  OUT(r, "node_modules", "node_modules/left-pad/index.js", "node_modules/a/b/c/d.js",
      "src/generated/api.py", "src/generated/v1/types.py");
  IN(r, "node_modules.txt", "src/generated.py", "src/main.py", "lib/node_modules/x.js");
}

static void bang_re_includes_what_an_earlier_rule_left_out(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "*.md\n"
                  "!README.md\n");
  OUT(r, "CHANGES.md", "NOTES.md");
  IN(r, "README.md", "main.py");
}

static void bang_re_includes_a_file_inside_a_left_out_folder(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "docs\n"
                  "!docs/README.md\n");
  OUT(r, "docs/guide.md", "docs/img/logo.png");
  IN(r, "docs/README.md");
}

/* The usual allow-list: leave out everything, then name what goes in. */
static void allow_list_keeps_only_what_it_names(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "*\n"
                  "!src\n"
                  "!pyproject.toml\n");
  OUT(r, "README.md", "tests/test_app.py", ".env.local");
  IN(r, "src", "src/app.py", "src/pkg/mod.py", "pyproject.toml");
}

static void last_matching_rule_wins(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "*.txt\n"
                  "!keep.txt\n"
                  "keep.txt\n"
                  "!other.txt\n");
  OUT(r, "a.txt", "keep.txt");
  IN(r, "other.txt", "a.py");

  ignore_rules later = {0};
  ignore_parse(&later, "!keep.txt\n*.txt\n"); /* the re-include comes first: no effect */
  OUT(&later, "keep.txt");
  ignore_free(&later);
}

static void parse_appends_to_the_rules_held(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "*.o\n");
  ignore_parse(r, "!keep.o\n");
  OUT(r, "main.o");
  IN(r, "keep.o");
}

static void patterns_outside_the_context_are_dropped(void **state) {
  ignore_rules *r = *state;
  ignore_parse(r, "../outside\n/\n!\n*.tmp\n");
  assert_int_equal(r->pats.n, 1);
  OUT(r, "x.tmp");
  IN(r, "outside", "x.txt");
}

static void defaults_leave_out_tool_state_and_secrets(void **state) {
  ignore_rules *r = *state;
  ignore_defaults(r);
  OUT(r, ".git", ".git/config", ".git/objects/ab/cdef", ".dbx", ".dbx/store/x", ".venv",
      ".venv/bin/python", ".env", ".env.local", ".env.production", "__pycache__/m.cpython-311.pyc",
      "src/pkg/__pycache__/m.cpython-311.pyc", "server.pem", "certs/tls.key",
      "deploy/keys/server.pem", "id_rsa", "id_rsa.pub", "home/.ssh/id_rsa", "keys/id_ed25519",
      ".ssh/id_ed25519.pub", "id_ecdsa");
  IN(r, "src/app.py", "pyproject.toml", "env.py", ".envrc", "gitignore", ".gitignore",
     "src/keyboard.py", "monkey.py", "docs/pem.md", "venv_notes.txt", "src/environment.py");
}

/* Secrets are secrets wherever they sit: a service folder's own .env inside
 * a larger context must not be copied into the image either. */
static void defaults_leave_out_env_files_in_subfolders(void **state) {
  ignore_rules *r = *state;
  ignore_defaults(r);
  OUT(r, "svc/.env", "services/api/.env.production");
}

static void dockerignore_can_re_include_a_default(void **state) {
  ignore_rules *r = *state;
  ignore_defaults(r);
  ignore_parse(r, "!.env.example\n"
                  "!certs/ca.pem\n");
  IN(r, ".env.example", "certs/ca.pem");
  OUT(r, ".env", ".env.local", "certs/server.pem", ".git/HEAD");
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(no_rules_keep_everything),
      T(comments_and_blank_lines_are_not_rules),
      T(surrounding_blanks_and_crlf_are_trimmed),
      T(star_stays_within_one_folder),
      T(double_star_matches_at_any_depth),
      T(leading_slash_and_trailing_slash_are_ignored),
      T(a_folder_pattern_leaves_out_everything_below),
      T(bang_re_includes_what_an_earlier_rule_left_out),
      T(bang_re_includes_a_file_inside_a_left_out_folder),
      T(allow_list_keeps_only_what_it_names),
      T(last_matching_rule_wins),
      T(parse_appends_to_the_rules_held),
      T(patterns_outside_the_context_are_dropped),
      T(defaults_leave_out_tool_state_and_secrets),
      T(defaults_leave_out_env_files_in_subfolders),
      T(dockerignore_can_re_include_a_default),
  };
  return cmocka_run_group_tests_name("ignore", tests, NULL, NULL);
}
