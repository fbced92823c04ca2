/* container: the Engine API's containers for dbx dev — create, start, signal,
 * stop, remove, find by label, inspect, follow logs, copy files in and out.
 * Thin wrappers over engine. Every call except container_logs runs the loop
 * until the engine answers, so call them from plain code, never from a loop
 * callback. On failure each returns -1 with *err set to the engine's message
 * (caller frees). */
#ifndef DBX_CONTAINER_H
#define DBX_CONTAINER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "engine.h"
#include "util.h"

/* Create a container named name (NULL: the engine picks) from config, the
 * JSON of POST /containers/create; *id receives its id (caller frees). */
int container_create(engine *e, const char *name, const cJSON *config, char **id, char **err);
/* Start it. */
int container_start(engine *e, const char *id, char **err);
/* Send signal ("HUP", "SIGTERM") to its PID 1. */
int container_kill(engine *e, const char *id, const char *signal, char **err);
/* Stop it (its stop signal, then KILL after timeout_s); a container already
 * stopped or gone is not an error. */
int container_stop(engine *e, const char *id, int timeout_s, char **err);
/* Stop it (its stop signal, then KILL after timeout_s) and remove it with its
 * anonymous volumes; a container already gone is not an error. */
int container_remove(engine *e, const char *id, int timeout_s, char **err);
/* GET /containers/ID/json or /images/REF/json (what is "containers" or
 * "images"); *out receives the parsed answer (caller cJSON_Deletes). A
 * missing object gives -1 with *err set and *out NULL. */
int container_inspect(engine *e, const char *what, const char *ref, cJSON **out, char **err);
/* Ids of the containers (running or not) carrying every "name=value" label
 * in labels, appended to ids. */
int container_find(engine *e, const strvec *labels, strvec *ids, char **err);
/* Unpack tar (len bytes) into folder dir of the container. */
int container_put_archive(engine *e, const char *id, const char *dir, const char *tar, size_t len,
                          char **err);
/* The tar of path in the container (a folder: the folder and all below it,
 * under its own name); *tar receives it (caller frees). */
int container_get_archive(engine *e, const char *id, const char *path, char **tar, size_t *len,
                          char **err);

/* POST /containers/ID/exec for argv as user (NULL: the image's), its output
 * attached (attach 1), its stdin too (2), or neither (0), without starting
 * it; *exec_id receives the exec's id (caller frees). */
int container_exec_create(engine *e, const char *id, const strvec *argv, const char *user, int attach,
                          char **exec_id, char **err);
/* Run argv in the running container as user (NULL: the image's) and wait
 * for it; *status receives its exit status. */
int container_exec(engine *e, const char *id, const strvec *argv, const char *user, int *status, char **err);
/* container_exec, also collecting what it prints on stdout into *out (its
 * stderr is dropped; caller frees). */
int container_exec_output(engine *e, const char *id, const strvec *argv, const char *user, int *status,
                          char **out, char **err);
/* Append to paths each path added to the container since its image was made
 * (GET /containers/ID/changes, Kind 1). 0, or -1 with *err set. */
int container_added(engine *e, const char *id, strvec *paths, char **err);

/* Following a container's output: line gets each complete line of stdout or
 * stderr (without its newline, stream 1 or 2); end is called once when the
 * stream ends (the container stopped, or the engine went away). */
typedef struct container_logs container_logs;
typedef void (*container_line_fn)(void *ud, int stream, const char *line, size_t len);
typedef void (*container_end_fn)(void *ud);
/* Follow the output of id from now on (since = 0), or from its start (since = -1).
 * NULL when the request cannot be sent. */
container_logs *container_logs_follow(engine *e, const char *id, long since, container_line_fn line,
                                      container_end_fn end, void *ud);
/* Stop following (end is not called) and free it; NULL is fine. Not from
 * inside its own callbacks. */
void container_logs_close(container_logs *l);
/* The splitting alone, for bytes that do not come from a request (tests):
 * a reader with no request, fed the engine's framed stream in pieces of any
 * size, then finished (the last partial lines and end); close frees it. */
container_logs *container_logs_new(container_line_fn line, container_end_fn end, void *ud);
void container_logs_feed(container_logs *l, const char *data, size_t len);
void container_logs_finish(container_logs *l);

#endif
