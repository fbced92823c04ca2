#include "tarmem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* libarchive is opened on first use, not linked: it pulls in a dozen
 * libraries whose loading would cost every run of dbx about a millisecond,
 * and only dbx dev uses it. */
static struct {
  __typeof__(&archive_write_new) write_new;
  __typeof__(&archive_write_set_format_pax_restricted) write_set_format_pax_restricted;
  __typeof__(&archive_write_set_bytes_per_block) write_set_bytes_per_block;
  __typeof__(&archive_write_open) write_open;
  __typeof__(&archive_entry_new) entry_new;
  __typeof__(&archive_entry_set_pathname) entry_set_pathname;
  __typeof__(&archive_entry_set_filetype) entry_set_filetype;
  __typeof__(&archive_entry_set_perm) entry_set_perm;
  __typeof__(&archive_entry_set_uid) entry_set_uid;
  __typeof__(&archive_entry_set_gid) entry_set_gid;
  __typeof__(&archive_entry_set_size) entry_set_size;
  __typeof__(&archive_entry_set_mtime) entry_set_mtime;
  __typeof__(&archive_write_header) write_header;
  __typeof__(&archive_entry_free) entry_free;
  __typeof__(&archive_write_data) write_data;
  __typeof__(&archive_write_close) write_close;
  __typeof__(&archive_write_free) write_free;
  __typeof__(&archive_read_new) read_new;
  __typeof__(&archive_write_disk_new) write_disk_new;
  __typeof__(&archive_read_support_format_tar) read_support_format_tar;
  __typeof__(&archive_write_disk_set_options) write_disk_set_options;
  __typeof__(&archive_read_open_memory) read_open_memory;
  __typeof__(&archive_error_string) error_string;
  __typeof__(&archive_read_next_header) read_next_header;
  __typeof__(&archive_entry_pathname) entry_pathname;
  __typeof__(&archive_entry_copy_pathname) entry_copy_pathname;
  __typeof__(&archive_read_data_block) read_data_block;
  __typeof__(&archive_write_data_block) write_data_block;
  __typeof__(&archive_write_finish_entry) write_finish_entry;
  __typeof__(&archive_read_free) read_free;
  int loaded;
} la;

int tarmem_load(char **err) {
  if (la.loaded) return 0;
  static const dl_sym syms[] = {
#define SYM(f) {"archive_" #f, offsetof(__typeof__(la), f)}
      SYM(write_new), SYM(write_set_format_pax_restricted), SYM(write_set_bytes_per_block),
      SYM(write_open), SYM(entry_new), SYM(entry_set_pathname),
      SYM(entry_set_filetype), SYM(entry_set_perm), SYM(entry_set_uid),
      SYM(entry_set_gid), SYM(entry_set_size), SYM(entry_set_mtime),
      SYM(write_header), SYM(entry_free), SYM(write_data),
      SYM(write_close), SYM(write_free), SYM(read_new),
      SYM(write_disk_new), SYM(read_support_format_tar), SYM(write_disk_set_options),
      SYM(read_open_memory), SYM(error_string), SYM(read_next_header),
      SYM(entry_pathname), SYM(entry_copy_pathname), SYM(read_data_block),
      SYM(write_data_block), SYM(write_finish_entry), SYM(read_free),
#undef SYM
  };
  if (dl_open_table("libarchive.so.13", "libarchive13", syms, sizeof syms / sizeof *syms, &la, err) < 0) return -1;
  la.loaded = 1;
  return 0;
}

struct tarmem {
  struct archive *a;
  strbuf out;
};

static la_ssize_t on_write(struct archive *a, void *ud, const void *buf, size_t n) {
  (void)a;
  sb_addn(&((tarmem *)ud)->out, buf, n);
  return (la_ssize_t)n;
}

tarmem *tarmem_new(void) {
  tarmem *t = xcalloc(1, sizeof *t);
  t->a = la.write_new();
  la.write_set_format_pax_restricted(t->a);
  la.write_set_bytes_per_block(t->a, 0); /* no padding to 10 KiB blocks */
  la.write_open(t->a, t, NULL, on_write, NULL);
  return t;
}

static void header(tarmem *t, const char *name, mode_t type, int mode, int uid, int gid, size_t len) {
  struct archive_entry *e = la.entry_new();
  la.entry_set_pathname(e, name);
  la.entry_set_filetype(e, type);
  la.entry_set_perm(e, (mode_t)mode & 07777);
  la.entry_set_uid(e, uid);
  la.entry_set_gid(e, gid);
  la.entry_set_size(e, (la_int64_t)len);
  la.entry_set_mtime(e, time(NULL), 0);
  la.write_header(t->a, e);
  la.entry_free(e);
}

void tarmem_add_data(tarmem *t, const char *name, const char *data, size_t len, int mode, int uid, int gid) {
  header(t, name, AE_IFREG, mode, uid, gid, len);
  la.write_data(t->a, data, len);
}

int tarmem_add_file(tarmem *t, const char *name, const char *path, int uid, int gid) {
  char *data = NULL;
  size_t len = 0;
  struct stat st;
  if (stat(path, &st) < 0) return -errno;
  int rc = read_file(path, &data, &len);
  if (rc < 0) return rc;
  tarmem_add_data(t, name, data, len, (int)(st.st_mode & 07777), uid, gid);
  free(data);
  return 0;
}

void tarmem_add_dir(tarmem *t, const char *name, int mode, int uid, int gid) {
  header(t, name, AE_IFDIR, mode, uid, gid, 0);
}

char *tarmem_finish(tarmem *t, size_t *len) {
  la.write_close(t->a);
  la.write_free(t->a);
  *len = t->out.len;
  char *out = t->out.buf ? t->out.buf : xstrdup("");
  free(t);
  return out;
}

int tarmem_extract(const char *tar, size_t len, const char *dir, char **err) {
  struct archive *in = la.read_new(), *out = la.write_disk_new();
  la.read_support_format_tar(in);
  la.write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  int rc = 0;
  if (la.read_open_memory(in, tar, len) != ARCHIVE_OK) {
    *err = xasprintf("not a tar archive: %s", la.error_string(in));
    rc = -1;
  }
  struct archive_entry *e;
  while (rc == 0) {
    int r = la.read_next_header(in, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      *err = xasprintf("reading the tar: %s", la.error_string(in));
      rc = -1;
      break;
    }
    char *p = path_join(dir, la.entry_pathname(e));
    la.entry_copy_pathname(e, p);
    free(p);
    if (la.write_header(out, e) < ARCHIVE_WARN) {
      *err = xasprintf("unpacking %s: %s", la.entry_pathname(e), la.error_string(out));
      rc = -1;
      break;
    }
    const void *buf;
    size_t n;
    la_int64_t off;
    while ((r = la.read_data_block(in, &buf, &n, &off)) == ARCHIVE_OK)
      if (la.write_data_block(out, buf, n, off) < ARCHIVE_WARN) {
        *err = xasprintf("writing %s: %s", la.entry_pathname(e), la.error_string(out));
        rc = -1;
        break;
      }
    if (rc == 0 && r != ARCHIVE_EOF && r < ARCHIVE_WARN) {
      *err = xasprintf("reading %s from the tar: %s", la.entry_pathname(e), la.error_string(in));
      rc = -1;
    }
    if (la.write_finish_entry(out) < ARCHIVE_WARN && rc == 0) {
      *err = xasprintf("writing %s: %s", la.entry_pathname(e), la.error_string(out));
      rc = -1;
    }
  }
  la.read_free(in);
  la.write_free(out);
  return rc;
}
