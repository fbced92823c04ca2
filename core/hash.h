/* hash: SHA-256 (libcrypto) of buffers and files, and digests of many files at
 * once on the libuv threadpool, consulting a stat cache so that unchanged files
 * are not read again. */
#ifndef DBX_HASH_H
#define DBX_HASH_H

#include <stddef.h>
#include <uv.h>

#include "statcache.h"

#define HASH_LEN 32
#define HASH_HEX 65

/* SHA-256 of n bytes into out. */
void hash_buf(const void *data, size_t n, unsigned char out[HASH_LEN]);
/* SHA-256 of a file's bytes into out; 0 or a negative errno. */
int hash_file(const char *path, unsigned char out[HASH_LEN]);
/* Lower-case hex of a digest into hex (65 bytes with the NUL). */
void hash_hex(const unsigned char d[HASH_LEN], char hex[HASH_HEX]);
/* Parse 64 hex digits into a digest; 0, or -1 when s is not one. */
int hash_unhex(const char *s, unsigned char d[HASH_LEN]);

/* One file to digest; path is borrowed and relative to the current folder. */
typedef struct {
  const char *path;
  unsigned char digest[HASH_LEN];
  int err;          /* 0, or a negative errno (-ENOENT: the file is missing) */
  int hashed;       /* 1 when the bytes were read, 0 when the cache answered */
  file_stat st;
} hash_item;

/* Called on the loop thread once every item has its digest or error. */
typedef void (*hash_done_fn)(void *ud, hash_item *items, size_t n);

/* Stat and digest items on the threadpool, using and then updating cache
 * (which may be NULL); done runs later on the loop. 0 or a negative uv error. */
int hash_items_async(uv_loop_t *loop, statcache *cache, hash_item *items, size_t n,
                     hash_done_fn done, void *ud);
/* The same work done on the calling thread, for tools and tests. */
void hash_items_sync(statcache *cache, hash_item *items, size_t n);

#endif
