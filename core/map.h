/* map: a string-keyed hash table (open addressing). Keys are borrowed: the
 * caller keeps each key alive as long as its entry. */
#ifndef DBX_MAP_H
#define DBX_MAP_H

#include <stddef.h>

typedef struct map map;

/* A new empty map. */
map *map_new(void);
/* A new empty map with room for about n keys before it grows. */
map *map_new_sized(size_t n);
/* Free the table itself (keys and values are the caller's). */
void map_free(map *m);
/* The value stored under key, or NULL. */
void *map_get(const map *m, const char *key);
/* The value stored under the first n bytes of key, or NULL. */
void *map_getn(const map *m, const char *key, size_t n);
/* Store val under key, replacing and returning any previous value (else NULL). */
void *map_put(map *m, const char *key, void *val);
/* How many keys are stored. */
size_t map_len(const map *m);
/* Walk entries: start with *it = 0; returns 0 when there are no more. */
int map_next(const map *m, size_t *it, const char **key, void **val);

#endif
