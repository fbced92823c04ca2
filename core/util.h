/* util: small helpers shared by every module — checked allocation, growable
 * strings and string vectors, paths, whole-file reads, clocks. */
#ifndef DBX_UTIL_H
#define DBX_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Allocate or abort: running out of memory is the one failure no module reports. */
void *xmalloc(size_t n);
/* Zeroed allocation of n*size bytes, aborting on overflow or exhaustion. */
void *xcalloc(size_t n, size_t size);
/* Resize p to n bytes, aborting on exhaustion. */
void *xrealloc(void *p, size_t n);
/* A fresh copy of s (caller frees). */
char *xstrdup(const char *s);
/* A fresh copy of the first n bytes of s, NUL-terminated (caller frees). */
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string (caller frees). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte string, always NUL-terminated when len > 0 or after sb_* calls. */
typedef struct {
  char *buf;
  size_t len, cap;
} strbuf;

/* Append n bytes of s. */
void sb_addn(strbuf *sb, const char *s, size_t n);
/* Append the C string s. */
void sb_adds(strbuf *sb, const char *s);
/* Append one byte. */
void sb_addc(strbuf *sb, char c);
/* Append printf output. */
void sb_addf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included. */
void sb_add_json_str(strbuf *sb, const char *s);
/* Give the buffer to the caller (never NULL) and reset sb. */
char *sb_take(strbuf *sb);
/* Free the buffer and reset sb. */
void sb_free(strbuf *sb);

/* A growable vector of owned C strings. */
typedef struct {
  char **v;
  size_t n, cap;
} strvec;

/* Append s, taking ownership of it. */
void sv_push_own(strvec *sv, char *s);
/* Append a copy of s. */
void sv_push(strvec *sv, const char *s);
/* Sort in byte order and drop duplicates. */
void sv_sort_uniq(strvec *sv);
/* Free every string and the vector. */
void sv_free(strvec *sv);

/* Join a and b with one '/', treating "" and "." as the current folder (caller frees). */
char *path_join(const char *a, const char *b);
/* Normalise a relative path: drop "." parts and empty parts, fold "x/..";
 * returns NULL when the path is absolute or climbs above its start (caller frees). */
char *path_norm_rel(const char *p);
/* A file name standing for name: letters, digits, '.', '-', '_' kept, every
 * other byte written %XX, so distinct names give distinct files (caller frees). */
char *file_name_for(const char *name);
/* Create dir and its parents; 0 or a negative errno. */
int mkdir_p(const char *dir);
/* Remove path and everything below it (no error when it is missing); 0 or a negative errno. */
int rm_rf(const char *path);
/* Read a whole file into a fresh NUL-terminated buffer; 0 or a negative errno. */
int read_file(const char *path, char **out, size_t *len);
/* Write data to path through a temp file, fsync and rename; 0 or a negative errno. */
int write_file_atomic(const char *path, const char *data, size_t len);

/* A function to find in a shared library: its name, and where in a table of
 * function pointers its address goes. */
typedef struct {
  const char *name;
  size_t off;
} dl_sym;
/* Open the shared library lib (lazily, privately) and fill table with the n
 * symbols. 0, or -1 with *err set (caller frees), naming the Debian package
 * pkg that provides lib. */
int dl_open_table(const char *lib, const char *pkg, const dl_sym *syms, size_t n, void *table, char **err);

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);
/* Edit distance between a and b, for "did you mean" hints. */
size_t edit_distance(const char *a, const char *b);
/* The candidate closest to name, or NULL when none is plausibly meant. */
const char *closest_name(const char *name, const char *const *cands, size_t n);

#endif
