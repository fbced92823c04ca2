/* engine: a client of the Docker Engine API — HTTP over the unix socket (or
 * tcp address) named by DOCKER_HOST, default /var/run/docker.sock — with
 * libcurl's multi interface driven by the libuv loop (uv_poll per socket, one
 * uv_timer), and JSON through cJSON. */
#ifndef DBX_ENGINE_H
#define DBX_ENGINE_H

#include <stddef.h>
#include <uv.h>

typedef struct engine engine;

/* Called once per request on the loop: status is the HTTP status, or a
 * negative number when no answer came (then body holds curl's message). body
 * is NUL-terminated and borrowed for the call. */
typedef void (*engine_cb)(void *ud, long status, const char *body, size_t len);

/* A client for docker_host ("unix:///path", "tcp://host:port", or NULL for
 * $DOCKER_HOST, falling back to the default socket). 0, or -1 with *err set
 * (caller frees) when the address cannot be used. */
int engine_open(uv_loop_t *loop, const char *docker_host, engine **out, char **err);
/* Where the client connects, as written ("unix:///var/run/docker.sock"). */
const char *engine_address(const engine *e);
/* The loop the client runs on. */
uv_loop_t *engine_loop(const engine *e);
/* The unix socket the client connects to (for ssh://, the local end of its
 * bridge), or NULL for a tcp:// engine. */
const char *engine_socket(const engine *e);
/* 1 when an engine at this DOCKER_HOST address runs on this machine, so the
 * ports its containers publish on 127.0.0.1 are this machine's: unix:// and
 * tcp:// to localhost, 127.0.0.0/8 or [::1]. 0 for any other tcp:// host and
 * for ssh:// (an engine reached over ssh is taken to be on another machine,
 * whatever its name). */
int engine_address_is_local(const char *address);
/* Send method path (e.g. "GET", "/_ping") with an optional JSON body (copied);
 * cb runs later on the loop. 0, or -1 when the request cannot be queued. */
int engine_request(engine *e, const char *method, const char *path, const char *json_body,
                   engine_cb cb, void *ud);
/* A request with more control than engine_request: a body of any bytes with
 * its content type, streamed answers, a time limit. */
typedef struct {
  const char *method, *path;
  const char *body;          /* copied; NULL for none */
  size_t body_len;
  const char *content_type;  /* default "application/json" */
  /* When set, a 2xx answer's bytes go here as they arrive (the final callback
   * then gets an empty body); other answers are collected as usual. */
  void (*on_chunk)(void *ud, const char *data, size_t len);
  void *chunk_ud;            /* on_chunk's ud; NULL: the callback's */
  long timeout_ms;           /* 0: none */
  const char *header;        /* one more request header ("Name: value"), or NULL */
} engine_req;

/* Queue q; cb runs once it ends. Returns a handle for engine_cancel, or NULL
 * when the request cannot be queued. */
void *engine_send(engine *e, const engine_req *q, engine_cb cb, void *ud);
/* Drop a pending request (from engine_send); its callback is not called. */
void engine_cancel(engine *e, void *handle);

/* Send q and run the loop until it is answered; *body receives the answer
 * (NUL-terminated, any bytes; caller frees) and *len its size (either may be
 * NULL). Returns the HTTP status or a negative number. */
long engine_send_wait(engine *e, const engine_req *q, char **body, size_t *len);
/* Send a request and run the loop until it is answered; *body receives the
 * answer (caller frees). Returns the HTTP status or a negative number. */
long engine_call(engine *e, const char *method, const char *path, const char *json_body,
                 char **body);
/* Whether the engine has its default bridge network (GET /networks/bridge;
 * an engine run with --bridge=none has none, and builds and containers must
 * use the host's network there): 1 it has, 0 it has not (404), -1 no clear
 * answer. Runs the loop: not for a libuv callback. */
int engine_has_bridge(engine *e);
/* Run the loop until *pending (which callbacks decrement) reaches zero. */
void engine_wait(engine *e, size_t *pending);
/* "cannot reach the engine at ADDRESS: WHY" with what to do about it (caller frees). */
char *engine_unreachable_msg(const engine *e, const char *why);
/* Cancel what is pending (callbacks are not called) and free the client. */
void engine_close(engine *e);

#endif
