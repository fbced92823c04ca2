/* key: a target's content key — SHA-256 over a canonical encoding of a schema
 * version, the kind, the params, the sorted (path, digest) list of inputs and
 * the keys of the dependencies — and the manifest stored with each build so
 * that `explain` can say what changed. No absolute path, mtime or host name
 * goes in. */
#ifndef DBX_KEY_H
#define DBX_KEY_H

#include "graph.h"
#include "hash.h"

/* What a key is computed from. digests is parallel to t->inputs, dep_keys
 * (64-hex strings) to t->deps; all borrowed. */
typedef struct {
  const target *t;
  const unsigned char (*digests)[HASH_LEN];
  const char *const *dep_keys;
} key_src;

/* The key of src as 64 hex digits into out. */
void key_compute(const key_src *src, char out[HASH_HEX]);
/* The manifest of src as one line of JSON (caller frees). */
char *key_manifest(const key_src *src);
/* Append to reasons a sentence for each difference between the recorded
 * manifest and src: inputs added/removed/changed, params, dependency keys.
 * Returns the number appended, or -1 when the manifest cannot be read. */
int key_diff(const char *manifest, const key_src *src, strvec *reasons);

#endif
