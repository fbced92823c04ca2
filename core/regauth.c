#include "regauth.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "util.h"

extern char **environ;

/* Where the docker CLI keeps its config; caller frees. */
static char *config_path(void) {
  const char *dir = getenv("DOCKER_CONFIG");
  if (dir && *dir) return path_join(dir, "config.json");
  const char *home = getenv("HOME");
  return xasprintf("%s/.docker/config.json", home && *home ? home : "/root");
}

/* base64url (with padding, as the engine decodes it) of len bytes. */
static char *b64url(const char *data, size_t len) {
  char *out = xcalloc(1, 4 * ((len + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
  for (char *p = out; *p; p++) *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  return out;
}

/* Standard base64 decoded into a fresh NUL-terminated string, or NULL when
 * it is not base64. */
static char *unb64(const char *text) {
  size_t n = strlen(text);
  if (n == 0 || n % 4) return NULL;
  char *out = xcalloc(1, n / 4 * 3 + 1);
  int got = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)text, (int)n);
  if (got < 0) {
    free(out);
    return NULL;
  }
  got -= (text[n - 1] == '=') + (text[n - 2] == '=');
  out[got] = '\0';
  return out;
}

/* Whether a config key names host: "https://HOST/v1/" names HOST; Docker
 * Hub's key names it as written. */
static int key_names(const char *key, const char *host) {
  if (strcmp(key, host) == 0) return 1;
  if (strncmp(key, "https://", 8) == 0) key += 8;
  else if (strncmp(key, "http://", 7) == 0) key += 7;
  size_t n = strcspn(key, "/");
  return strlen(host) == n && strncmp(key, host, n) == 0;
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* The executable file prog names on PATH, or NULL (caller frees). Looked up
 * here rather than by posix_spawnp, whose failure to find it some systems
 * report only as the child's status 127. */
static char *on_path(const char *prog) {
  const char *path = getenv("PATH");
  for (const char *p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
    size_t n = strcspn(p, ":");
    char *cand = n ? xasprintf("%.*s/%s", (int)n, p, prog) : xasprintf("./%s", prog);
    if (access(cand, X_OK) == 0) return cand;
    free(cand);
    p += n + (p[n] == ':');
  }
  return NULL;
}

/* Run docker-credential-NAME get with host on stdin; its exit status, its
 * stdout in *out. -1 with *err set when it cannot be started. */
static int run_helper(const char *name, const char *host, char **out, char **err) {
  char *prog = xasprintf("docker-credential-%s", name), *exe = on_path(prog);
  if (!exe) {
    *err = xasprintf("%s is not on PATH", prog);
    free(prog);
    return -1;
  }
  int in[2] = {-1, -1}, outp[2]; /* close-on-exec: the helper gets them as 0 and 1 only */
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
    *err = xasprintf("cannot run %s: %s", prog, strerror(errno));
    if (in[0] >= 0) close(in[0]), close(in[1]);
    free(exe);
    free(prog);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, outp[0]);
  char *argv[] = {prog, "get", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
  free(exe);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(outp[1]);
  if (rc != 0) {
    *err = xasprintf("cannot run %s: %s", prog, strerror(rc));
    close(in[1]), close(outp[0]);
    free(prog);
    return -1;
  }
  void (*was)(int) = signal(SIGPIPE, SIG_IGN); /* a helper that reads nothing */
  for (size_t off = 0, n = strlen(host); off < n;) { /* a few bytes: the pipe takes them without a reader */
    ssize_t w = write(in[1], host + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break; /* it ended without reading: its status says the rest */
    off += (size_t)w;
  }
  close(in[1]);
  signal(SIGPIPE, was);
  strbuf sb = {0};
  char buf[4096];
  for (;;) {
    ssize_t r = read(outp[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    sb_addn(&sb, buf, (size_t)r);
  }
  close(outp[0]);
  int st = 0;
  pid_t w;
  while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
  }
  *out = sb.buf ? sb.buf : xstrdup("");
  if (w < 0) {
    *err = xasprintf("cannot wait for %s: %s", prog, strerror(errno));
    free(*out);
    *out = NULL;
    free(prog);
    return -1;
  }
  free(prog);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The AuthConfig JSON with whichever of user, secret and an identity token
 * are not NULL; caller frees. */
static char *auth_json(const char *host, const char *user, const char *secret, const char *token) {
  cJSON *a = cJSON_CreateObject();
  if (user) cJSON_AddStringToObject(a, "username", user);
  if (secret) cJSON_AddStringToObject(a, "password", secret);
  if (token) cJSON_AddStringToObject(a, "identitytoken", token);
  cJSON_AddStringToObject(a, "serveraddress", host);
  char *s = cJSON_PrintUnformatted(a);
  cJSON_Delete(a);
  return s;
}

/* Credentials from helper NAME; *json is NULL when it has none for host. */
static int from_helper(const char *name, const char *host, char **json, char **err) {
  char *out = NULL, *why = NULL;
  int st = run_helper(name, host, &out, &why);
  if (st < 0) {
    *err = xasprintf("the docker config names the credential helper '%s': %s", name, why);
    free(why);
    return -1;
  }
  if (st != 0) {
    int none = strstr(out, "credentials not found") != NULL;
    if (!none) {
      size_t n = strcspn(out, "\n");
      *err = xasprintf("docker-credential-%s get %s failed (status %d)%s%.*s", name, host, st, n ? ": " : "",
                       (int)n, out);
    }
    free(out);
    return none ? 0 : -1;
  }
  cJSON *j = cJSON_Parse(out);
  free(out);
  const char *user = str_of(j, "Username"), *secret = str_of(j, "Secret");
  if (!secret) {
    *err = xasprintf("docker-credential-%s get %s printed no Secret", name, host);
    cJSON_Delete(j);
    return -1;
  }
  int token = !user || strcmp(user, "<token>") == 0;
  *json = token ? auth_json(host, NULL, NULL, secret) : auth_json(host, user, secret, NULL);
  cJSON_Delete(j);
  return 0;
}

/* Credentials written in the config's auths entry e. */
static int from_entry(const cJSON *e, const char *host, const char *path, char **json, char **err) {
  const char *auth = str_of(e, "auth"), *user = str_of(e, "username"), *pass = str_of(e, "password");
  const char *token = str_of(e, "identitytoken");
  if (auth) {
    char *plain = unb64(auth), *colon = plain ? strchr(plain, ':') : NULL;
    if (!colon) {
      *err = xasprintf("%s: the auth of %s is not base64 of USER:PASSWORD", path, host);
      free(plain);
      return -1;
    }
    *colon = '\0';
    *json = auth_json(host, plain, colon + 1, token); /* a token login writes both: the engine takes the token */
    free(plain);
  } else if (token || (user && pass)) {
    *json = auth_json(host, user, pass, token);
  }
  return 0;
}

#define HUB "https://index.docker.io/v1/" /* what docker login names Docker Hub's logins by */

int regauth_header(const char *registry, char **value, char **from, char **err) {
  *value = *from = NULL;
  const char *host = strcmp(registry, "docker.io") == 0 || strcmp(registry, "index.docker.io") == 0 ||
                             strcmp(registry, "registry-1.docker.io") == 0
                         ? HUB
                         : registry;
  char *path = config_path(), *text = NULL, *json = NULL;
  size_t len;
  int rc = read_file(path, &text, &len);
  if (rc == -ENOENT) {
    free(path);
    *value = b64url("{}", 2);
    return 0;
  }
  if (rc < 0) {
    *err = xasprintf("cannot read the docker config %s: %s", path, strerror(-rc));
    free(path);
    return -1;
  }
  cJSON *cfg = cJSON_ParseWithLength(text, len);
  free(text);
  if (!cJSON_IsObject(cfg)) {
    *err = xasprintf("the docker config %s is not a JSON object", path);
    cJSON_Delete(cfg);
    free(path);
    return -1;
  }
  const cJSON *helpers = cJSON_GetObjectItemCaseSensitive(cfg, "credHelpers"), *e;
  const char *helper = NULL;
  cJSON_ArrayForEach(e, helpers) {
    if (e->string && cJSON_IsString(e) && key_names(e->string, host)) helper = e->valuestring;
  }
  if (!helper) helper = str_of(cfg, "credsStore");
  rc = 0;
  if (helper) {
    rc = from_helper(helper, host, &json, err);
    if (json) *from = xasprintf("docker-credential-%s", helper);
  } else {
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, "auths")) {
      if (!e->string || !key_names(e->string, host)) continue;
      rc = from_entry(e, host, path, &json, err);
      if (json) *from = xasprintf("auths in %s", path);
      break;
    }
  }
  cJSON_Delete(cfg);
  free(path);
  if (rc < 0) return -1;
  *value = json ? b64url(json, strlen(json)) : b64url("{}", 2);
  free(json);
  return 0;
}
