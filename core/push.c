#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <uv.h>

#include "engine.h"
#include "image.h"
#include "regauth.h"
#include "term.h"
#include "util.h"

const char *push_check_registry(const char *r) {
  if (!r || !*r) return "--to needs a registry: HOST[:PORT][/PATH], such as 127.0.0.1:5000";
  if (strstr(r, "://")) return "--to takes HOST[:PORT][/PATH] without a scheme (the engine picks https, or http for a loopback registry)";
  for (const char *p = r; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
          *p == '-' || *p == '_' || *p == ':' || *p == '/'))
      return "--to: a registry address holds only letters, digits and . - _ : /";
  if (r[strlen(r) - 1] == '/' || r[0] == '/' || strstr(r, "//")) return "--to: HOST[:PORT][/PATH] without an empty part";
  return NULL;
}

/* The repository and tag t's first recipe tag names ("client:release" ->
 * "client", "release"), without a registry host of its own; the target's
 * name as the repository and no tag when it has none. */
static void names_of(const target *t, char **repo, char **tag) {
  *tag = NULL;
  if (!t->tags.n) {
    *repo = image_repo_part(t->name);
    return;
  }
  const char *ref = t->tags.v[0], *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
  if (colon && (!slash || colon > slash)) *tag = xstrdup(colon + 1);
  char *r = xstrndup(ref, colon && (!slash || colon > slash) ? (size_t)(colon - ref) : strlen(ref));
  const char *first_slash = strchr(r, '/');
  const char *path = r;
  if (first_slash) { /* "ghcr.io/org/app": the first part is a registry when it looks like a host */
    size_t n = (size_t)(first_slash - r);
    if (memchr(r, '.', n) || memchr(r, ':', n) || (n == 9 && strncmp(r, "localhost", 9) == 0)) path = first_slash + 1;
  }
  *repo = image_repo_part(path);
  free(r);
}

void push_read_progress(const char *text, size_t len, char **error, char **digest) {
  *error = *digest = NULL;
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(text + i, '\n', len - i);
    size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
    cJSON *m = cJSON_ParseWithLength(text + i, n);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(m, "error");
    const cJSON *aux = cJSON_GetObjectItemCaseSensitive(m, "aux");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(aux, "Digest");
    if (cJSON_IsString(err) && !*error) *error = xstrdup(err->valuestring);
    if (cJSON_IsString(d)) {
      free(*digest);
      *digest = xstrdup(d->valuestring);
    }
    cJSON_Delete(m);
    i += n + 1;
  }
}

/* How the registry's credentials were found, for push_one's messages. */
struct creds {
  const char *host;   /* the registry's HOST[:PORT] */
  const char *header; /* "X-Registry-Auth: ..." */
  const char *from;   /* where they came from, or NULL when there were none */
};

/* Push name:tag; 0, or -1 with *err set (caller frees). *digest receives the
 * digest the registry gave (caller frees). */
static int push_one(engine *e, const struct creds *c, const char *name, const char *tag, char **digest,
                    char **err) {
  char *esc = image_url_escape(name), *etag = image_url_escape(tag);
  char *path = xasprintf("/images/%s/push?tag=%s", esc, etag);
  free(esc);
  free(etag);
  engine_req q = {.method = "POST", .path = path, .header = c->header};
  char *body = NULL, *error = NULL, *got = NULL;
  size_t len = 0;
  long status = engine_send_wait(e, &q, &body, &len);
  free(path);
  if (status >= 200 && status < 300) push_read_progress(body ? body : "", body ? len : 0, &error, &got);
  int rc = 0;
  if (status < 0) {
    *err = engine_unreachable_msg(e, body ? body : "no answer");
    rc = -2;
  } else if (status < 200 || status >= 300) {
    cJSON *j = cJSON_Parse(body ? body : "");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    *err = xasprintf("the engine refused to push %s:%s (HTTP %ld): %s", name, tag, status,
                     cJSON_IsString(m) ? m->valuestring : (body ? body : ""));
    cJSON_Delete(j);
    rc = -1;
  } else if (error) {
    int unreachable = strstr(error, "dial tcp") || strstr(error, "no such host") ||
                      strstr(error, "connection refused") || strstr(error, "i/o timeout");
    int denied = strstr(error, "unauthorized") || strstr(error, "authentication required") ||
                 strstr(error, "no basic auth credentials") || strstr(error, "denied");
    char *hint = unreachable ? xstrdup(" (no registry answers there: is it running, and is the address right?)")
                 : denied && c->from
                     ? xasprintf(" (the credentials for %s from %s were refused)", c->host, c->from)
                 : denied ? xasprintf(" (the registry wants a login: `docker login %s` keeps one where dbx reads it, "
                                      "$DOCKER_CONFIG/config.json or ~/.docker/config.json)",
                                      c->host)
                          : xstrdup("");
    *err = xasprintf("pushing %s:%s failed: %s%s", name, tag, error, hint);
    free(hint);
    rc = -1;
  } else if (!got) {
    *err = xasprintf("pushing %s:%s: the engine's answer ended without the registry's digest", name, tag);
    rc = -1;
  }
  free(body);
  free(error);
  if (rc == 0) *digest = got;
  else free(got);
  return rc;
}

/* POST /images/SRC/tag?repo=REPO&tag=TAG; 0, or -1 with *err set. */
static int tag_image(engine *e, const char *src, const char *repo, const char *tag, char **err) {
  char *esrc = image_url_escape(src), *erepo = image_url_escape(repo), *etag = image_url_escape(tag);
  char *path = xasprintf("/images/%s/tag?repo=%s&tag=%s", esrc, erepo, etag), *body = NULL;
  free(esrc);
  free(erepo);
  free(etag);
  long status = engine_call(e, "POST", path, NULL, &body);
  free(path);
  int rc = 0;
  if (status < 0) {
    *err = engine_unreachable_msg(e, body ? body : "no answer");
    rc = -2;
  } else if (status == 404) {
    *err = xasprintf("the engine has no image %s: build it again (dbx build)", src);
    rc = -1;
  } else if (status < 200 || status >= 300) {
    *err = xasprintf("the engine refused to tag %s as %s:%s (HTTP %ld): %s", src, repo, tag, status, body ? body : "");
    rc = -1;
  }
  free(body);
  return rc;
}

static void untag(engine *e, const char *ref) {
  char *esc = image_url_escape(ref), *path = xasprintf("/images/%s?noprune=1", esc), *body = NULL;
  engine_call(e, "DELETE", path, NULL, &body);
  free(body);
  free(path);
  free(esc);
}

static void event(const char *target, const char *ref, const char *digest) {
  if (term_mode() == PROGRESS_JSON) {
    strbuf sb = {0};
    sb_adds(&sb, "{\"event\":\"push\",\"target\":");
    sb_add_json_str(&sb, target);
    sb_adds(&sb, ",\"ref\":");
    sb_add_json_str(&sb, ref);
    sb_adds(&sb, ",\"digest\":");
    sb_add_json_str(&sb, digest);
    sb_adds(&sb, "}\n");
    fputs(sb.buf, stdout);
    fflush(stdout);
    sb_free(&sb);
  } else {
    printf("pushed %s as %s (%s)\n", target, ref, digest);
    fflush(stdout);
  }
}

char *push_registry_host(const char *registry) { return xstrndup(registry, strcspn(registry, "/")); }

int push_login_find(const char *registry, push_login *out, char **err) {
  char *host = push_registry_host(registry);
  int rc = regauth_header(host, &out->auth, &out->from, err);
  if (rc == 0 && out->from && term_verbose()) term_msg("dbx: push: the login for %s is from %s", host, out->from);
  free(host);
  return rc;
}

void push_login_free(push_login *l) {
  free(l->auth);
  free(l->from);
  l->auth = l->from = NULL;
}

int push_image(const target *t, const char *key, const char *project, const char *registry,
               const push_login *login) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  engine *e = NULL;
  char *err = NULL;
  int code = 0;
  if (engine_open(&loop, NULL, &e, &err) < 0) {
    term_msg("dbx: error: %s", err);
    free(err);
    uv_loop_close(&loop);
    return 2;
  }
  char *host = push_registry_host(registry), *header = xasprintf("X-Registry-Auth: %s", login->auth);
  struct creds c = {.host = host, .header = header, .from = login->from};
  char *local = image_tag(project, t->name, key), *repo = NULL, *tag = NULL;
  names_of(t, &repo, &tag);
  char *remote = xasprintf("%s/%s", registry, repo), *keytag = xasprintf("%.16s", key);
  const char *tags[2] = {keytag, tag};
  size_t ntags = tag && strcmp(tag, keytag) ? 2 : 1;
  for (size_t i = 0; i < ntags && code == 0; i++) {
    char *digest = NULL, *ref = xasprintf("%s:%s", remote, tags[i]);
    int rc = tag_image(e, local, remote, tags[i], &err);
    if (rc == 0) {
      rc = push_one(e, &c, remote, tags[i], &digest, &err);
      untag(e, ref); /* the engine keeps dbx's own names; the registry's are only for the push */
    }
    if (rc < 0) {
      term_msg("dbx: error: %s", err);
      free(err);
      err = NULL;
      code = rc == -2 ? 2 : 1;
    } else {
      event(t->name, ref, digest);
    }
    free(digest);
    free(ref);
  }
  free(local);
  free(repo);
  free(tag);
  free(remote);
  free(keytag);
  free(host);
  free(header);
  engine_close(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}
