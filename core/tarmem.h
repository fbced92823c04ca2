/* tarmem: tar archives in memory (libarchive), for copying files into and out
 * of containers through the engine API. */
#ifndef DBX_TARMEM_H
#define DBX_TARMEM_H

#include <stddef.h>

#include "util.h"

typedef struct tarmem tarmem;

/* Load libarchive (once); every other function needs it. 0, or -1 with *err
 * set (caller frees). */
int tarmem_load(char **err);

/* A new archive being written. */
tarmem *tarmem_new(void);
/* Add a regular file name (relative, '/'-separated) holding len bytes of data. */
void tarmem_add_data(tarmem *t, const char *name, const char *data, size_t len, int mode, int uid, int gid);
/* Add the file at path on disk as name, with its mode and the owner given.
 * 0, or a negative errno when it cannot be read. */
int tarmem_add_file(tarmem *t, const char *name, const char *path, int uid, int gid);
/* Add an empty folder name. */
void tarmem_add_dir(tarmem *t, const char *name, int mode, int uid, int gid);
/* Finish and give the bytes to the caller (caller frees); frees t. */
char *tarmem_finish(tarmem *t, size_t *len);

/* Unpack a tar held in memory into dir (a relative path), keeping modes and owners and refusing
 * entries that would land outside dir. 0, or -1 with *err set (caller frees). */
int tarmem_extract(const char *tar, size_t len, const char *dir, char **err);

#endif
