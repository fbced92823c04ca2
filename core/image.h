/* image: what an image target needs besides the graph — the docker client that
 * can build with BuildKit, tags by key, the minimal build context written from
 * the declared inputs, the `docker build` argv, and the engine's list of
 * images read in one API call. */
#ifndef DBX_IMAGE_H
#define DBX_IMAGE_H

#include "engine.h"
#include "graph.h"
#include "map.h"
#include "util.h"

/* How images are built. */
typedef struct {
  char *docker; /* path of the docker client */
  int buildx;   /* 1: `docker buildx build --load`; 0: `DOCKER_BUILDKIT=1 docker build` */
} image_cli;

/* Find a docker client that builds with BuildKit: $DBX_DOCKER, then each
 * `docker` on PATH in order. 0, or -1 with *err saying what was tried and why
 * each was passed over (caller frees). */
int image_find_cli(image_cli *cli, char **err);
/* Free what cli holds. */
void image_cli_free(image_cli *cli);

/* The project's name in labels and tags: its folder's name made a valid
 * repository component (caller frees). */
char *image_project_name(void);
/* The tag an image target's result gets: dbx/PROJECT/TARGET:KEY16 (caller frees). */
char *image_tag(const char *project, const char *target, const char *key);
/* A name usable in a repository path: lower case, [a-z0-9._-] (caller frees). */
char *image_repo_part(const char *s);
/* s with every byte but [A-Za-z0-9-._~] percent-encoded, for URLs (caller frees). */
char *image_url_escape(const char *s);
/* Append to out the images a Dockerfile takes from outside: FROM and
 * COPY --from references that are neither earlier stages nor {{dep:...}}. */
void image_external_refs(const char *dockerfile, strvec *out);
/* The Dockerfile of t with every {{dep:NAME}} replaced by dep_tags[i] for
 * t->deps.v[i] == NAME. NULL and *err set when a placeholder names no
 * image dependency (caller frees either). */
char *image_dockerfile(const target *t, const char *const *dep_tags, char **err);
/* Write t's build context into the empty folder dir: each input at its path
 * relative to t->context (hard-linked, or copied), and each generated file.
 * 0, or -1 with *err set (caller frees). */
int image_write_context(const target *t, const char *dir, char **err);
/* The argv (and extra environment) that builds t from dir with Dockerfile df,
 * tagging tag and t->tags, labelling key/project/target, and writing the
 * image id to iidfile. The build network is t->network, else
 * $DBX_BUILD_NETWORK, else network (NULL: the engine's default). */
void image_build_argv(const image_cli *cli, const target *t, const char *dir, const char *df,
                      const char *tag, const char *iidfile, const char *project, const char *key,
                      const char *network, strvec *argv, strvec *env);

/* Where t's secret number i (an "ID=path" of t->secrets) is read from: an
 * absolute path (caller frees). */
char *image_secret_path(const target *t, size_t i);

/* The engine's images dbx asked about. */
typedef struct {
  map *by_key;  /* dbx.key label -> image id */
  map *by_tag;  /* "repo:tag" -> image id */
  strvec owned; /* the strings both maps point to */
} image_index;

/* Add to ix what the engine knows of each image in refs, inspected
 * concurrently: the ref's id (by_tag) and, when it carries a dbx.key label,
 * that key (by_key). A missing image is no error. 200, or the failing HTTP
 * status or a negative number when the engine did not answer, with *err set
 * (caller frees). */
long image_index_load(engine *e, const strvec *refs, image_index *ix, char **err);
/* Add the image an inspection answered (body: GET /images/NAME/json), also
 * under asked (the name it was inspected by, or NULL). 0, or -1 when body is
 * not a JSON object. */
int image_index_add_json(image_index *ix, const char *body, const char *asked);
/* The id of the image ref names ("name" meaning "name:latest"), or NULL when
 * the engine lacks it. A ref by digest ("name@sha256:...") is taken as it is. */
const char *image_index_lookup(const image_index *ix, const char *ref);
/* Free the index. */
void image_index_free(image_index *ix);

#endif
