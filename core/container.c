#include "container.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image.h"

/* The engine's "message" from an error answer, else the body or status. */
static char *api_error(const char *what, long status, const char *body) {
  if (status < 0) return xasprintf("%s: %s", what, body);
  cJSON *j = cJSON_Parse(body);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
  char *out = cJSON_IsString(m) ? xasprintf("%s: %s", what, m->valuestring)
                                : xasprintf("%s: the engine answered %ld %.200s", what, status, body);
  cJSON_Delete(j);
  return out;
}

/* One call; 0 when the status is one of ok (a list ending in 0), else -1 with *err. */
static int call(engine *e, const char *method, const char *path, const char *json, const char *what,
                const long *ok, char **body, char **err) {
  char *b = NULL;
  long st = engine_call(e, method, path, json, &b);
  for (const long *k = ok; *k; k++)
    if (st == *k) {
      if (body) *body = b;
      else free(b);
      return 0;
    }
  *err = api_error(what, st, b ? b : "");
  free(b);
  return -1;
}

int container_create(engine *e, const char *name, const cJSON *config, char **id, char **err) {
  char *json = cJSON_PrintUnformatted(config);
  char *q = name ? image_url_escape(name) : NULL;
  char *path = q ? xasprintf("/containers/create?name=%s", q) : xstrdup("/containers/create");
  char *body = NULL;
  static const long ok[] = {201, 200, 0};
  int rc = call(e, "POST", path, json, "creating the container", ok, &body, err);
  if (rc == 0) {
    cJSON *j = cJSON_Parse(body);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "Id");
    if (cJSON_IsString(v)) *id = xstrdup(v->valuestring);
    else {
      *err = xasprintf("creating the container: no Id in the answer %.200s", body);
      rc = -1;
    }
    cJSON_Delete(j);
  }
  free(body);
  free(path);
  free(q);
  free(json);
  return rc;
}

int container_start(engine *e, const char *id, char **err) {
  char *path = xasprintf("/containers/%s/start", id);
  static const long ok[] = {204, 304, 0};
  int rc = call(e, "POST", path, NULL, "starting the container", ok, NULL, err);
  free(path);
  return rc;
}

int container_kill(engine *e, const char *id, const char *signal, char **err) {
  char *path = xasprintf("/containers/%s/kill?signal=%s", id, signal);
  static const long ok[] = {204, 0};
  int rc = call(e, "POST", path, NULL, "signalling the container", ok, NULL, err);
  free(path);
  return rc;
}

int container_stop(engine *e, const char *id, int timeout_s, char **err) {
  char *path = xasprintf("/containers/%s/stop?t=%d", id, timeout_s);
  static const long ok_stop[] = {204, 304, 404, 0};
  int rc = call(e, "POST", path, NULL, "stopping the container", ok_stop, NULL, err);
  free(path);
  return rc;
}

int container_remove(engine *e, const char *id, int timeout_s, char **err) {
  int rc = container_stop(e, id, timeout_s, err);
  if (rc < 0) return rc;
  char *path = xasprintf("/containers/%s?force=1&v=1", id);
  static const long ok_rm[] = {204, 404, 0};
  rc = call(e, "DELETE", path, NULL, "removing the container", ok_rm, NULL, err);
  free(path);
  return rc;
}

int container_inspect(engine *e, const char *what, const char *ref, cJSON **out, char **err) {
  char *q = image_url_escape(ref);
  char *path = xasprintf("/%s/%s/json", what, q);
  char *body = NULL;
  long st = engine_call(e, "GET", path, NULL, &body);
  free(path);
  free(q);
  *out = st == 200 ? cJSON_Parse(body) : NULL;
  int rc = *out ? 0 : -1;
  if (rc < 0) {
    char *w = xasprintf("inspecting %s", ref);
    *err = api_error(w, st == 200 ? 500 : st, body ? body : "");
    free(w);
  }
  free(body);
  return rc;
}

int container_find(engine *e, const strvec *labels, strvec *ids, char **err) {
  cJSON *f = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(f, "label");
  for (size_t i = 0; i < labels->n; i++) cJSON_AddItemToArray(l, cJSON_CreateString(labels->v[i]));
  char *fj = cJSON_PrintUnformatted(f);
  cJSON_Delete(f);
  char *q = image_url_escape(fj);
  char *path = xasprintf("/containers/json?all=1&filters=%s", q);
  char *body = NULL;
  static const long ok[] = {200, 0};
  int rc = call(e, "GET", path, NULL, "listing containers", ok, &body, err);
  if (rc == 0) {
    cJSON *list = cJSON_Parse(body);
    const cJSON *c;
    cJSON_ArrayForEach(c, list) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "Id");
      if (cJSON_IsString(id)) sv_push(ids, id->valuestring);
    }
    cJSON_Delete(list);
  }
  free(body);
  free(path);
  free(q);
  free(fj);
  return rc;
}

int container_exec_create(engine *e, const char *id, const strvec *argv, const char *user, int attach,
                          char **exec_id, char **err) {
  cJSON *cfg = cJSON_CreateObject(), *cmd = cJSON_AddArrayToObject(cfg, "Cmd");
  for (size_t i = 0; i < argv->n; i++) cJSON_AddItemToArray(cmd, cJSON_CreateString(argv->v[i]));
  if (user) cJSON_AddStringToObject(cfg, "User", user);
  if (attach) {
    cJSON_AddTrueToObject(cfg, "AttachStdout");
    cJSON_AddTrueToObject(cfg, "AttachStderr");
  }
  if (attach > 1) cJSON_AddTrueToObject(cfg, "AttachStdin");
  char *json = cJSON_PrintUnformatted(cfg), *path = xasprintf("/containers/%s/exec", id), *body = NULL;
  cJSON_Delete(cfg);
  static const long created[] = {201, 0};
  int rc = call(e, "POST", path, json, "running a command in the container", created, &body, err);
  free(json);
  free(path);
  *exec_id = NULL;
  if (rc == 0) {
    cJSON *j = cJSON_Parse(body);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "Id");
    if (cJSON_IsString(v)) *exec_id = xstrdup(v->valuestring);
    cJSON_Delete(j);
    if (!*exec_id) {
      *err = xstrdup("running a command in the container: no exec id in the answer");
      rc = -1;
    }
  }
  free(body);
  return rc;
}

int container_exec(engine *e, const char *id, const strvec *argv, const char *user, int *status, char **err) {
  char *out = NULL;
  int rc = container_exec_output(e, id, argv, user, status, &out, err);
  free(out);
  return rc;
}

static void add_stdout_line(void *ud, int stream, const char *line, size_t len) {
  if (stream != 1) return;
  sb_addn(ud, line, len);
  sb_addc(ud, '\n');
}

int container_exec_output(engine *e, const char *id, const strvec *argv, const char *user, int *status,
                          char **out, char **err) {
  char *exec_id = NULL, *path, *body;
  int rc = container_exec_create(e, id, argv, user, 1, &exec_id, err);
  if (rc < 0) return rc;
  /* attached: the answer is its output, framed as a log stream, until it ends */
  path = xasprintf("/exec/%s/start", exec_id);
  static const char start[] = "{\"Detach\":false,\"Tty\":false}";
  engine_req q = {.method = "POST", .path = path, .body = start, .body_len = sizeof start - 1, .timeout_ms = 60000};
  char *stream = NULL;
  size_t len = 0;
  long st = engine_send_wait(e, &q, &stream, &len);
  free(path);
  if (st != 200) {
    *err = st < 0 ? xasprintf("running a command in the container: %s", stream ? stream : "no answer")
                  : xasprintf("running a command in the container: the engine answered %ld", st);
    free(stream);
    free(exec_id);
    return -1;
  }
  strbuf sb = {0};
  container_logs *l = container_logs_new(add_stdout_line, NULL, &sb);
  container_logs_feed(l, stream, len);
  container_logs_finish(l);
  container_logs_close(l);
  free(stream);
  path = xasprintf("/exec/%s/json", exec_id);
  body = NULL;
  static const long ok_get[] = {200, 0};
  rc = call(e, "GET", path, NULL, "running a command in the container", ok_get, &body, err);
  if (rc == 0) {
    cJSON *j = cJSON_Parse(body);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "ExitCode");
    *status = cJSON_IsNumber(code) ? code->valueint : -1;
    cJSON_Delete(j);
  }
  free(body);
  free(path);
  free(exec_id);
  if (rc == 0) *out = sb.buf ? sb_take(&sb) : xstrdup("");
  else sb_free(&sb);
  return rc;
}

int container_added(engine *e, const char *id, strvec *paths, char **err) {
  char *path = xasprintf("/containers/%s/changes", id), *body = NULL;
  static const long ok[] = {200, 0};
  int rc = call(e, "GET", path, NULL, "listing the container's changes", ok, &body, err);
  free(path);
  if (rc == 0) {
    cJSON *list = cJSON_Parse(body), *c;
    cJSON_ArrayForEach(c, list) {
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "Path"), *k = cJSON_GetObjectItemCaseSensitive(c, "Kind");
      if (cJSON_IsString(p) && cJSON_IsNumber(k) && k->valueint == 1) sv_push(paths, p->valuestring);
    }
    cJSON_Delete(list);
  }
  free(body);
  return rc;
}

/* A request with a tar body (or none), run to its end. */
static long raw_call(engine *e, const char *method, const char *path, const char *body, size_t len,
                     char **out, size_t *outlen) {
  engine_req q = {.method = method, .path = path, .body = body, .body_len = len,
                  .content_type = "application/x-tar"};
  return engine_send_wait(e, &q, out, outlen);
}

int container_put_archive(engine *e, const char *id, const char *dir, const char *tar, size_t len,
                          char **err) {
  char *q = image_url_escape(dir);
  char *path = xasprintf("/containers/%s/archive?path=%s", id, q);
  char *body = NULL;
  long st = raw_call(e, "PUT", path, tar, len, &body, NULL);
  int rc = st == 200 ? 0 : -1;
  if (rc < 0) *err = api_error("copying files into the container", st, body);
  free(body);
  free(path);
  free(q);
  return rc;
}

int container_get_archive(engine *e, const char *id, const char *path, char **tar, size_t *len,
                          char **err) {
  char *q = image_url_escape(path);
  char *p = xasprintf("/containers/%s/archive?path=%s", id, q);
  char *body = NULL;
  size_t n = 0;
  long st = raw_call(e, "GET", p, NULL, 0, &body, &n);
  free(p);
  free(q);
  if (st != 200) {
    char *w = xasprintf("copying %s out of the container", path);
    *err = api_error(w, st, body);
    free(w);
    free(body);
    return -1;
  }
  *tar = body;
  *len = n;
  return 0;
}

struct container_logs {
  engine *e;
  void *req;
  container_line_fn line;
  container_end_fn end;
  void *ud;
  strbuf frames;     /* bytes not yet split into frames */
  strbuf partial[3]; /* per stream: text not yet ending in a newline */
};

static void emit(container_logs *l, int stream, const char *p, size_t n) {
  strbuf *part = &l->partial[stream == 2 ? 2 : 1];
  for (;;) {
    const char *nl = memchr(p, '\n', n);
    if (!nl) {
      sb_addn(part, p, n);
      return;
    }
    size_t k = (size_t)(nl - p);
    if (part->len) {
      sb_addn(part, p, k);
      l->line(l->ud, stream, part->buf, part->len);
      part->len = 0;
    } else {
      l->line(l->ud, stream, p, k);
    }
    p = nl + 1;
    n -= k + 1;
  }
}

/* The engine multiplexes a non-tty container's output in frames: one byte
 * for the stream, three zero bytes, a 32-bit big-endian length, the data. */
void container_logs_feed(container_logs *l, const char *data, size_t len) {
  if (!len) return;
  sb_addn(&l->frames, data, len);
  size_t off = 0;
  while (l->frames.len - off >= 8) {
    const unsigned char *h = (const unsigned char *)l->frames.buf + off;
    size_t n = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    if (l->frames.len - off - 8 < n) break;
    emit(l, h[0], l->frames.buf + off + 8, n);
    off += 8 + n;
  }
  memmove(l->frames.buf, l->frames.buf + off, l->frames.len - off);
  l->frames.len -= off;
}

static void on_chunk(void *ud, const char *data, size_t len) { container_logs_feed(ud, data, len); }

void container_logs_finish(container_logs *l) {
  for (int s = 1; s <= 2; s++)
    if (l->partial[s].len) {
      l->line(l->ud, s, l->partial[s].buf, l->partial[s].len);
      l->partial[s].len = 0;
    }
  if (l->end) l->end(l->ud);
}

static void on_end(void *ud, long status, const char *body, size_t len) {
  (void)status, (void)body, (void)len;
  container_logs *l = ud;
  l->req = NULL;
  container_logs_finish(l);
}

container_logs *container_logs_new(container_line_fn line, container_end_fn end, void *ud) {
  container_logs *l = xcalloc(1, sizeof *l);
  l->line = line;
  l->end = end;
  l->ud = ud;
  return l;
}

container_logs *container_logs_follow(engine *e, const char *id, long since, container_line_fn line,
                                      container_end_fn end, void *ud) {
  container_logs *l = container_logs_new(line, end, ud);
  l->e = e;
  char *path = since < 0 ? xasprintf("/containers/%s/logs?follow=1&stdout=1&stderr=1", id)
                         : xasprintf("/containers/%s/logs?follow=1&stdout=1&stderr=1&since=%ld", id,
                                     since ? since : (long)time(NULL));
  engine_req q = {.method = "GET", .path = path, .on_chunk = on_chunk};
  l->req = engine_send(e, &q, on_end, l);
  free(path);
  if (!l->req) {
    free(l);
    return NULL;
  }
  return l;
}

void container_logs_close(container_logs *l) {
  if (!l) return;
  if (l->req) engine_cancel(l->e, l->req);
  sb_free(&l->frames);
  for (int s = 0; s < 3; s++) sb_free(&l->partial[s]);
  free(l);
}
