/* tarmem: tars written in memory unpack to the same files, modes and owners;
 * entries that would land outside the folder are refused. */
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <signal.h>
#include <sys/resource.h>

#include "tarmem.h"

static int setup(void **state) {
  char *err = NULL;
  if (tarmem_load(&err) < 0) fail_msg("%s", err);
  return ut_setup_tmpdir(state);
}
static int teardown(void **state) { return ut_teardown_tmpdir(state); }

static void round_trip(void **state) {
  (void)state;
  ut_put("src/run.sh", "#!/bin/sh\necho hi\n");
  chmod("src/run.sh", 0750);
  tarmem *t = tarmem_new();
  tarmem_add_dir(t, "app", 0755, 0, 0);
  tarmem_add_data(t, "app/a.txt", "alpha\n", 6, 0644, 1234, 1234);
  tarmem_add_data(t, "app/empty", "", 0, 0600, 0, 0);
  assert_int_equal(tarmem_add_file(t, "app/sub/run.sh", "src/run.sh", 1234, 1234), 0);
  assert_int_equal(tarmem_add_file(t, "app/nope", "src/missing", 0, 0), -ENOENT);
  size_t len;
  char *tar = tarmem_finish(t, &len);
  assert_true(len > 0 && len % 512 == 0);
  char *err = NULL;
  assert_int_equal(tarmem_extract(tar, len, "out", &err), 0);
  char *a = ut_slurp("out/app/a.txt"), *r = ut_slurp("out/app/sub/run.sh");
  assert_string_equal(a, "alpha\n");
  assert_string_equal(r, "#!/bin/sh\necho hi\n");
  struct stat st;
  assert_int_equal(stat("out/app/sub/run.sh", &st), 0);
  assert_int_equal(st.st_mode & 0777, 0750);
  if (geteuid() == 0) assert_int_equal((int)st.st_uid, 1234);
  assert_int_equal(stat("out/app/empty", &st), 0);
  assert_int_equal(st.st_size, 0);
  free(a);
  free(r);
  free(tar);
}

/* A tar whose entry climbs out with "..": written with libarchive directly. */
static void refuses_escapes(void **state) {
  (void)state;
  char buf[8192];
  size_t used = 0;
  struct archive *w = archive_write_new();
  archive_write_set_format_pax_restricted(w);
  archive_write_open_memory(w, buf, sizeof buf, &used);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, "../escaped.txt");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 3);
  archive_write_header(w, e);
  archive_write_data(w, "bad", 3);
  archive_entry_free(e);
  archive_write_close(w);
  archive_write_free(w);
  mkdir("out", 0755);
  char *err = NULL;
  assert_int_equal(tarmem_extract(buf, used, "out", &err), -1);
  assert_non_null(strstr(err, "escaped.txt"));
  assert_false(ut_exists("escaped.txt"));
  free(err);
}

static void rejects_garbage(void **state) {
  (void)state;
  char *err = NULL;
  assert_int_equal(tarmem_extract("this is not a tar archive, not at all", 37, "out", &err), -1);
  assert_non_null(err);
  free(err);
}

/* A one-file tar of size bytes; caller frees. */
static char *tar_of(size_t size, size_t *len) {
  char *data = xcalloc(1, size);
  memset(data, 'x', size);
  tarmem *t = tarmem_new();
  tarmem_add_data(t, "big.bin", data, size, 0644, 0, 0);
  free(data);
  return tarmem_finish(t, len);
}

static void a_cut_tar_is_an_error_naming_the_entry(void **state) {
  (void)state;
  size_t len;
  char *tar = tar_of(100000, &len);
  mkdir("out", 0755);
  char *err = NULL;
  assert_int_equal(tarmem_extract(tar, 512 + 4096, "out", &err), -1); /* the header and 4 KiB of data */
  if (!strstr(err, "big.bin")) fail_msg("the message should name the entry: %s", err);
  free(err);
  free(tar);
}

static void a_write_that_fails_is_an_error(void **state) {
  (void)state;
  size_t len;
  char *tar = tar_of(100000, &len);
  mkdir("out", 0755);
  struct rlimit old, small = {16384, 16384}; /* files past 16 KiB cannot be written: EFBIG */
  getrlimit(RLIMIT_FSIZE, &old);
  small.rlim_max = old.rlim_max;
  void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &small);
  char *err = NULL;
  int rc = tarmem_extract(tar, len, "out", &err);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, was);
  assert_int_equal(rc, -1);
  if (!strstr(err, "writing out/big.bin")) fail_msg("the message should name the file: %s", err);
  free(err);
  free(tar);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(refuses_escapes, setup, teardown),
      cmocka_unit_test_setup_teardown(rejects_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(a_cut_tar_is_an_error_naming_the_entry, setup, teardown),
      cmocka_unit_test_setup_teardown(a_write_that_fails_is_an_error, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
