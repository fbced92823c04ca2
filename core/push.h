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

/* The HOST[:PORT] part of a registry address (caller frees). */
char *push_registry_host(const char *registry);

/* The login for a registry (see regauth.h): the X-Registry-Auth value, and
 * where it came from (NULL: none was found, and none is sent). */
typedef struct {
  char *auth;
  char *from;
} push_login;
/* Find the login for registry before anything is built; 0, or -1 with *err
 * set (caller frees) when the docker config or its helper fails. */
int push_login_find(const char *registry, push_login *out, char **err);
void push_login_free(push_login *l);

/* Push image target t, built with key (hex), for project, to registry with
 * login. Exit code: 0 pushed, 1 the engine or the registry refused (the
 * message says which), 2 no engine answers. */
int push_image(const target *t, const char *key, const char *project, const char *registry,
               const push_login *login);

#endif
