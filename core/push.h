/* push: `dbx push TARGET --to REGISTRY` — gives a built image two names in
 * the registry, its recipe tag (client:release -> REGISTRY/client:release)
 * and its content key (REGISTRY/client:KEY16), pushes both through the engine
 * API (POST /images/NAME/push, answered with a stream of JSON progress lines),
 * reports the digest the registry gave, and removes the registry names from
 * the engine again. */
#ifndef DBX_PUSH_H
#define DBX_PUSH_H

#include <stddef.h>

#include "graph.h"

/* NULL when registry is a "HOST[:PORT][/PATH]" dbx can push to, else why not
 * (a static message). */
const char *push_check_registry(const char *registry);

/* Read the engine's answer to a push (JSON messages, one per line): *error
 * receives the first error message, *digest the last digest the registry
 * gave (either NULL when none; caller frees both). */
void push_read_progress(const char *text, size_t len, char **error, char **digest);

/* Push image target t, built with key (hex), for project, to registry. Exit
 * code: 0 pushed, 1 the engine or the registry refused (the message says
 * which), 2 no engine answers. */
int push_image(const target *t, const char *key, const char *project, const char *registry);

#endif
