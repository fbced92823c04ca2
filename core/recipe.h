/* recipe: evaluates build.lua (and what it includes) in an embedded Lua 5.4
 * sandbox and fills a graph with the targets it declares. Errors name the
 * recipe file and line, with a traceback through recipe frames only. */
#ifndef DBX_RECIPE_H
#define DBX_RECIPE_H

#include <stddef.h>

#include "graph.h"
#include "util.h"

/* Bounds on one evaluation: Lua VM instructions and bytes allocated. */
typedef struct {
  unsigned long long max_steps;
  size_t max_bytes;
} recipe_limits;

/* The defaults: enough for any honest recipe, small enough to stop a loop. */
extern const recipe_limits recipe_default_limits;

/* Evaluate the recipe file (relative to the current folder, which is the
 * project root) into g, expand input globs and derive each target's params.
 * 0, or -1 with *err set to the message (caller frees). */
int recipe_load(const char *file, graph *g, const recipe_limits *lim, char **err);

/* recipe_init_text's answer for a project with no lock file of its own: a uv
 * workspace above it may hold the lock (*err is set too). */
#define RECIPE_INIT_LOCK_ABOVE (-3)

/* The text of a first build.lua for the Python project in the project-relative
 * folder dir ("" for the current one), from lua/dbx/init.lua. 0; or N > 0 when
 * the project depends on local packages N folders above it, so the recipe
 * belongs there (call again from there); or RECIPE_INIT_LOCK_ABOVE; or -1;
 * both with *err set (caller frees). */
int recipe_init_text(const char *dir, char **text, char **err);

/* Append every embedded Lua file's name and text to sb (for fingerprints). */
void recipe_embedded_text(strbuf *sb);

/* Source of an embedded Lua file by relative name ("lua/dbx/recipe.lua"),
 * honouring DBX_LUA_PATH; NULL when there is none. *len receives its size. */
const char *recipe_embedded(const char *name, size_t *len);

#endif
