/* execstream: a process run in a container through the exec API with its
 * stdin, stdout and stderr attached over one connection that the engine
 * hands over (POST /exec/ID/start with "Connection: Upgrade"): what is
 * written reaches the process's stdin, what it prints on stdout comes back
 * as lines. One connection for the process's whole life, so a request and
 * its answer cost a round trip, not an API call.
 *
 * The connection is a libuv stream on the engine's loop (a unix socket, the
 * local end of an ssh:// engine's bridge included, or tcp). Every call runs
 * that loop until it is done, so call them from plain code, never from a
 * loop callback. On failure each returns -1 with *err set (caller frees). */
#ifndef DBX_EXECSTREAM_H
#define DBX_EXECSTREAM_H

#include <stddef.h>

#include "engine.h"
#include "util.h"

typedef struct execstream execstream;

/* Start argv in the running container id as user (NULL: the image's). Every
 * wait also ends when *stop (if stop is not NULL) becomes non-zero (a signal
 * handler on the loop sets it), as an error. SIGPIPE is ignored from then
 * on: a write to a connection the engine closed is an error, not the end
 * of dbx. */
int execstream_open(engine *e, const char *id, const strvec *argv, const char *user, const int *stop,
                    execstream **out, char **err);
/* Send len bytes to the process's stdin, waiting up to timeout_ms for them
 * to be handed to the kernel. On a timeout or a stop the connection is
 * closed (the stream has ended). */
int execstream_write(execstream *x, const char *buf, size_t len, unsigned timeout_ms, char **err);
/* The next line the process printed on stdout, without its newline (caller
 * frees), waiting up to timeout_ms. -1 when it ended first (*err then holds
 * its last stderr line, if any) or the time ran out. */
int execstream_line(execstream *x, unsigned timeout_ms, char **line, char **err);
/* Whether the process's output has ended (it exited, or the connection broke). */
int execstream_ended(const execstream *x);
/* Close the connection (the process sees the end of its stdin) and free x;
 * NULL is fine. */
void execstream_close(execstream *x);

#endif
