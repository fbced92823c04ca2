/* libcrypto's SHA256_* functions: deprecated in OpenSSL 3 in favour of EVP,
 * whose provider start-up costs ~2 ms in every process — on the no-op path,
 * where all dbx does is stat files and hash a few keys. Same SHA-NI code. */
#define OPENSSL_API_COMPAT 0x10100000L
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

void hash_buf(const void *data, size_t n, unsigned char out[HASH_LEN]) {
  SHA256_CTX ctx; /* not SHA256(): in OpenSSL 3 that one goes through EVP */
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data, n);
  SHA256_Final(out, &ctx);
}

int hash_file(const char *path, unsigned char out[HASH_LEN]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = 0;
  size_t bufsz = 1 << 20;
  unsigned char *buf = xmalloc(bufsz);
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (;;) {
    ssize_t n = read(fd, buf, bufsz);
    if (n < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      goto out;
    }
    if (n == 0) break;
    SHA256_Update(&ctx, buf, (size_t)n);
  }
  SHA256_Final(out, &ctx);
out:
  free(buf);
  close(fd);
  return rc;
}

void hash_hex(const unsigned char d[HASH_LEN], char hex[HASH_HEX]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < HASH_LEN; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[64] = 0;
}

/* Hex digit values, -1 for anything else: decoding is on the no-op path
 * (every stat cache line). */
static signed char hexval[256];
static int hexval_ready;

static void init_hexval(void) {
  hexval_ready = 1;
  for (int i = 0; i < 256; i++) hexval[i] = -1;
  for (int i = 0; i < 10; i++) hexval['0' + i] = (signed char)i;
  for (int i = 0; i < 6; i++) hexval['a' + i] = (signed char)(10 + i);
}

int hash_unhex(const char *s, unsigned char d[HASH_LEN]) {
  if (!hexval_ready) init_hexval();
  for (int i = 0; i < HASH_LEN; i++) {
    int hi = hexval[(unsigned char)s[2 * i]], lo = hexval[(unsigned char)s[2 * i + 1]];
    if ((hi | lo) < 0) return -1;
    d[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

/* Stat one item and digest it unless the cache vouches for it. Runs on any
 * thread: the cache is only read here. */
static void hash_one(const statcache *cache, hash_item *it) {
  it->hashed = 0;
  it->err = file_stat_get(it->path, &it->st);
  if (it->err) return;
  const unsigned char *d = cache ? statcache_lookup(cache, it->path, &it->st) : NULL;
  if (d) {
    memcpy(it->digest, d, HASH_LEN);
    return;
  }
  it->err = hash_file(it->path, it->digest);
  it->hashed = it->err == 0;
}

static void record(statcache *cache, hash_item *items, size_t n) {
  if (!cache) return;
  for (size_t i = 0; i < n; i++)
    if (items[i].hashed) statcache_update(cache, items[i].path, &items[i].st, items[i].digest);
}

void hash_items_sync(statcache *cache, hash_item *items, size_t n) {
  for (size_t i = 0; i < n; i++) hash_one(cache, &items[i]);
  record(cache, items, n);
}

/* The items are split into a few interleaved shares, one work request each,
 * so that stats and reads of many files run on every threadpool thread. */
#define SHARES 4

struct job;
struct share {
  uv_work_t req;
  struct job *job;
  size_t first;
};

struct job {
  statcache *cache;
  hash_item *items;
  size_t n, pending;
  hash_done_fn done;
  void *ud;
  struct share shares[SHARES];
};

static void share_work(uv_work_t *req) {
  struct share *s = req->data;
  for (size_t i = s->first; i < s->job->n; i += SHARES) hash_one(s->job->cache, &s->job->items[i]);
}

static void share_after(uv_work_t *req, int status) {
  (void)status;
  struct share *s = req->data;
  struct job *job = s->job;
  if (--job->pending) return;
  record(job->cache, job->items, job->n);
  hash_done_fn done = job->done;
  void *ud = job->ud;
  hash_item *items = job->items;
  size_t n = job->n;
  free(job);
  done(ud, items, n);
}

int hash_items_async(uv_loop_t *loop, statcache *cache, hash_item *items, size_t n,
                     hash_done_fn done, void *ud) {
  struct job *job = xcalloc(1, sizeof *job);
  *job = (struct job){.cache = cache, .items = items, .n = n, .done = done, .ud = ud};
  size_t shares = n < SHARES ? (n ? n : 1) : SHARES;
  job->pending = shares;
  for (size_t i = 0; i < shares; i++) {
    job->shares[i].job = job;
    job->shares[i].first = i;
    job->shares[i].req.data = &job->shares[i];
    int rc = uv_queue_work(loop, &job->shares[i].req, share_work, share_after);
    if (rc < 0) {
      if (i == 0) {
        free(job);
        return rc;
      }
      /* the queued shares still finish; run the rest here */
      for (size_t k = i; k < shares; k++) share_work(&job->shares[k].req);
      job->pending -= shares - i;
      return 0;
    }
  }
  return 0;
}
