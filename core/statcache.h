/* statcache: path -> (size, mtime, ctime, inode, digest), so an unchanged file
 * is not read again. An entry is trusted only while the file's stat matches
 * and its mtime is older than the cache's own last write (the "racy" rule:
 * a file changed within the same clock tick as that write is re-hashed). */
#ifndef DBX_STATCACHE_H
#define DBX_STATCACHE_H

#include <stdint.h>

typedef struct {
  int64_t size, mtime_ns, ctime_ns;
  uint64_t ino;
} file_stat;

typedef struct statcache statcache;

/* Stat path (following links) into st; 0 or a negative errno. */
int file_stat_get(const char *path, file_stat *st);
/* Load the cache stored at path; a missing or unreadable file gives an empty
 * cache, a malformed line is skipped. Never NULL. */
statcache *statcache_load(const char *path);
/* The digest recorded for path when st matches and is not racy, else NULL.
 * Safe to call from several threads while nothing updates the cache. */
const unsigned char *statcache_lookup(const statcache *c, const char *path, const file_stat *st);
/* The stat recorded for path into out; 0, or -1 when it has no entry. */
int statcache_stat(const statcache *c, const char *path, file_stat *out);
/* Record path's stat and digest (the loop thread only). */
void statcache_update(statcache *c, const char *path, const file_stat *st,
                      const unsigned char digest[32]);
/* The cache's last write time in ns (0 when never written). */
int64_t statcache_stamp(const statcache *c);
/* Write the cache back if anything changed (temp file + rename); 0 or a negative errno. */
int statcache_save(statcache *c);
/* Free the cache. */
void statcache_free(statcache *c);

#endif
