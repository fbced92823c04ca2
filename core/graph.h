/* graph: the targets a recipe declares, their dependencies, a topological
 * order and cycle detection that names the cycle. */
#ifndef DBX_GRAPH_H
#define DBX_GRAPH_H

#include <stddef.h>

#include "util.h"

typedef enum { KIND_CMD, KIND_IMAGE, KIND_GROUP } target_kind;

/* One parameter that shapes a target's result; both strings owned. */
typedef struct {
  char *name;
  char *value;
} param;

typedef struct target {
  char *name;
  target_kind kind;
  char *where;       /* recipe location "path/build.lua:LINE" */
  char *dir;         /* project-relative folder of the declaring recipe ("" at the root) */
  char *desc;        /* one-line description or NULL */
  strvec deps;       /* dependency names */
  size_t *dep_idx;   /* resolved by graph_resolve, ndeps entries */
  strvec patterns;   /* input paths and globs as written, relative to dir */
  strvec inputs;     /* expanded project-relative input files, sorted and unique */
  strvec argv;       /* command to run (cmd) */
  strvec env;        /* "NAME=value" set for the command, sorted */
  strvec outputs;    /* project-relative output paths */
  param *params;     /* everything else that shapes the result, sorted by name */
  size_t nparams;
  char *pool;        /* concurrency pool name or NULL */
  strvec tags;       /* image: names to tag the result with ("app:prod"), not keyed */
  char *network;     /* image: build network ("host") or NULL, not keyed */
  char *context;     /* image: project-relative context folder ("" at the root) */
  strvec gen_names;  /* files `dbx gen` writes (names relative to context) ... */
  strvec gen_texts;  /* ... and their contents, parallel */
  strvec meta;       /* "name=value" facts for other commands (dbx dev), sorted, not keyed */
  strvec secrets;    /* image: "ID=path" BuildKit secrets, the path relative to dir, absolute
                      * or "~/..."; not keyed (the content must never reach a key or a layer) */
  strvec args;       /* image: build arguments given on the command line, "NAME" (required)
                      * or "NAME=default"; graph_apply_args turns them into keyed params */
} target;

typedef struct graph {
  target **t;
  size_t n, cap;
  struct map *byname;
  strvec recipe_files; /* project-relative files read while evaluating recipes */
  strvec recipe_dirs;  /* folders whose listings globs read */
  strvec recipe_absent;/* files recipes looked for and did not find */
  strvec recipe_env;   /* environment read: "NAME=value", or "NAME" when unset */
} graph;

/* A new empty graph. */
graph *graph_new(void);
/* Free the graph and every target in it. */
void graph_free(graph *g);
/* A new target owned by g, with name copied; NULL (and *clash set to the
 * existing one) when the name is taken. */
target *graph_add(graph *g, const char *name, target_kind kind, target **clash);
/* Add a parameter to t (copies both strings); keeps params sorted by name. */
void target_param(target *t, const char *name, const char *value);
/* The value of t's param name, or NULL when it has none. */
const char *target_get_param(const target *t, const char *name);
/* The value of t's meta fact name, or NULL when it has none. */
const char *target_get_meta(const target *t, const char *name);
/* Give each target's declared build arguments their values: the one in given
 * ("NAME=value" items, from --build-arg), else the declared default; each
 * becomes the keyed param "build-arg.NAME". 0, or -1 with *err naming a given
 * argument no target declares (caller frees). */
int graph_apply_args(graph *g, const strvec *given, char **err);

/* The first build argument t declares that has no value after
 * graph_apply_args, or NULL when all have one. */
const char *target_missing_arg(const target *t);

/* The target named name, or NULL. */
target *graph_find(const graph *g, const char *name);
/* Index of t in g->t. */
size_t graph_index(const graph *g, const target *t);
/* Resolve dependency names and check for cycles. 0, or -1 with *err set to a
 * message naming the unknown dependency (with a hint) or the cycle (caller frees). */
int graph_resolve(graph *g, char **err);
/* Targets needed for roots (and the roots), dependencies first, as indexes
 * into g->t; *n receives the count (caller frees). graph_resolve must have passed. */
size_t *graph_closure(const graph *g, const size_t *roots, size_t nroots, size_t *n);
/* A "did you mean" suggestion for an unknown name, or NULL. */
const char *graph_suggest(const graph *g, const char *name);
/* Kind as a word ("cmd", "image", "group"). */
const char *kind_name(target_kind k);

#endif
