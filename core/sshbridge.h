/* sshbridge: reaching an engine at DOCKER_HOST=ssh://[USER@]HOST[:PORT] the
 * way the docker CLI does. dbx listens on a unix socket of its own (in a
 * private temporary folder); each connection made to it runs
 *   ssh -o BatchMode=yes [-p PORT] [-l USER] -- HOST docker system dial-stdio
 * (ssh and its configuration from PATH and ~/.ssh, as the CLI uses them)
 * and copies bytes both ways on the libuv loop. Each connection is its own
 * login: no shared master that a killed dbx could leave behind. The engine
 * client then speaks HTTP to that socket as to a local one. */
#ifndef DBX_SSHBRIDGE_H
#define DBX_SSHBRIDGE_H

#include <uv.h>

typedef struct sshbridge sshbridge;

/* Listen for url ("ssh://[USER@]HOST[:PORT]") on loop. 0, or -1 with *err set
 * (caller frees) when url is malformed or the socket cannot be made. */
int sshbridge_open(uv_loop_t *loop, const char *url, sshbridge **out, char **err);
/* The path of the socket to connect to. */
const char *sshbridge_socket(const sshbridge *b);
/* What ssh last printed on stderr (why a connection failed), or NULL. */
const char *sshbridge_last_error(const sshbridge *b);
/* Stop listening, end each ssh it started (SIGTERM, by its process), remove
 * the socket and its folder; the handles close on the loop's next turns. */
void sshbridge_close(sshbridge *b);

#endif
