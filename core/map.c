#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct slot {
  const char *key;
  size_t klen;
  uint64_t hash;
  void *val;
};

struct map {
  struct slot *slots;
  size_t cap, len;
};

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

map *map_new_sized(size_t n) {
  map *m = xcalloc(1, sizeof *m);
  m->cap = 16;
  while (m->cap * 3 < n * 4) m->cap *= 2;
  m->slots = xcalloc(m->cap, sizeof *m->slots);
  return m;
}

map *map_new(void) { return map_new_sized(0); }

void map_free(map *m) {
  if (!m) return;
  free(m->slots);
  free(m);
}

static struct slot *find(const map *m, const char *key, size_t n, uint64_t h) {
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    struct slot *s = &m->slots[i];
    if (!s->key) return s;
    if (s->hash == h && s->klen == n && memcmp(s->key, key, n) == 0) return s;
  }
}

void *map_getn(const map *m, const char *key, size_t n) {
  struct slot *s = find(m, key, n, hash_bytes(key, n));
  return s->key ? s->val : NULL;
}

void *map_get(const map *m, const char *key) { return map_getn(m, key, strlen(key)); }

static void grow(map *m) {
  struct slot *old = m->slots;
  size_t oldcap = m->cap;
  m->cap *= 2;
  m->slots = xcalloc(m->cap, sizeof *m->slots);
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].key) *find(m, old[i].key, old[i].klen, old[i].hash) = old[i];
  free(old);
}

void *map_put(map *m, const char *key, void *val) {
  if ((m->len + 1) * 4 > m->cap * 3) grow(m);
  size_t n = strlen(key);
  uint64_t h = hash_bytes(key, n);
  struct slot *s = find(m, key, n, h);
  if (s->key) {
    void *prev = s->val;
    s->key = key;
    s->val = val;
    return prev;
  }
  *s = (struct slot){key, n, h, val};
  m->len++;
  return NULL;
}

size_t map_len(const map *m) { return m->len; }

int map_next(const map *m, size_t *it, const char **key, void **val) {
  while (*it < m->cap) {
    struct slot *s = &m->slots[(*it)++];
    if (s->key) {
      if (key) *key = s->key;
      if (val) *val = s->val;
      return 1;
    }
  }
  return 0;
}
