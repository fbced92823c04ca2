/* graphcache: the evaluated recipe graph saved under .dbx/, so a build whose
 * recipes, the files they read, the folders their globs listed and the
 * environment they consulted are all unchanged skips Lua entirely. */
#ifndef DBX_GRAPHCACHE_H
#define DBX_GRAPHCACHE_H

#include "graph.h"

/* Save g (as recipe_load left it, before graph_resolve or after) to path,
 * with the state of everything its evaluation read; 0 or a negative errno. */
int graphcache_save(const graph *g, const char *path, const char *root);
/* The graph saved at path for the recipe root, when nothing it depends on has
 * changed since; NULL when missing, stale or damaged. */
graph *graphcache_load(const char *path, const char *root);

#endif
