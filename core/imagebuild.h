/* imagebuild: builds one image target on the loop — pulls external base
 * images the engine lacks (through the API), writes the minimal context and
 * runs `docker build` with BuildKit, then reads the new image's id. */
#ifndef DBX_IMAGEBUILD_H
#define DBX_IMAGEBUILD_H

#include <uv.h>

#include "engine.h"
#include "graph.h"
#include "image.h"

typedef struct imagebuild imagebuild;

typedef struct {
  uv_loop_t *loop;
  engine *eng;
  const image_index *ix;   /* what the engine held when the run began */
  const image_cli *cli;    /* the client that builds */
  const char *state_dir;   /* contexts go to STATE/ctx/ */
  const char *project;     /* label and tag part */
  const char *log_path;    /* the build's output is kept here */
  const char *network;     /* build network of a target that names none when
                            * $DBX_BUILD_NETWORK is unset too; NULL: the engine's default */
  void (*on_output)(void *ud, const char *buf, size_t n);
  /* once: image_id on success, else error (both borrowed for the call) */
  void (*on_done)(void *ud, const char *image_id, const char *error);
  void *ud;
} imagebuild_opts;

/* Start building t, whose key is key; dep_tags[i] is the tag of t->deps.v[i]
 * when that dependency is an image. 0, or -1 with *err set (caller frees). */
int imagebuild_start(const imagebuild_opts *o, const target *t, const char *key,
                     const char *const *dep_tags, imagebuild **out, char **err);
/* Stop the build (its docker process group: TERM, then KILL after grace_ms). */
void imagebuild_kill(imagebuild *ib, unsigned grace_ms);

#endif
