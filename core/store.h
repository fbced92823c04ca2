/* store: what has been built — an append-only log under .dbx/ mapping a
 * target's key to its result (image id, duration, the manifest used). A torn
 * last line is skipped; compaction rewrites through a temp file and rename. */
#ifndef DBX_STORE_H
#define DBX_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* One recorded build; strings live as long as the store. */
typedef struct {
  const char *key;      /* 64 hex digits */
  const char *target;   /* target name */
  const char *result;   /* image id, or "-" */
  const char *manifest; /* one line of JSON, see key_manifest */
  uint64_t ms;          /* how long the build took */
} store_entry;

/* Open (creating) the store in folder dir and load it. 0, or a negative errno
 * with *err set to a message (caller frees). */
int store_open(const char *dir, store **out, char **err);
/* The newest entry with this key, or NULL. */
const store_entry *store_get(const store *s, const char *key);
/* The newest entry for this target, or NULL. */
const store_entry *store_last(const store *s, const char *target);
/* Append an entry (one write) and index it; 0 or a negative errno. */
int store_put(store *s, const char *key, const char *target, uint64_t ms, const char *result,
              const char *manifest);
/* Forget every entry of target (appends a tombstone); 0 or a negative errno. */
int store_forget(store *s, const char *target);
/* How many malformed or torn lines loading skipped. */
size_t store_skipped(const store *s);
/* Rewrite the log keeping the newest entry per target; 0 or a negative errno. */
int store_compact(store *s);
/* Compact when the log has grown well past its live entries, then close. */
void store_close(store *s);

#endif
