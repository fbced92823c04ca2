#include "images.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "engine.h"
#include "image.h"
#include "util.h"

/* The project's images as a parsed list, or NULL with a message printed. */
static cJSON *project_images(engine *e, const char *project) {
  char *filter = xasprintf("{\"label\":[\"dbx.project=%s\"]}", project), *esc = image_url_escape(filter);
  char *path = xasprintf("/images/json?filters=%s", esc), *body = NULL;
  long st = engine_call(e, "GET", path, NULL, &body);
  cJSON *list = st == 200 ? cJSON_Parse(body) : NULL;
  if (st < 0) {
    char *msg = engine_unreachable_msg(e, body);
    fprintf(stderr, "dbx: error: %s\n", msg);
    free(msg);
  } else if (!cJSON_IsArray(list)) {
    fprintf(stderr, "dbx: error: the engine answered GET /images/json with %ld: %.200s\n", st, body);
    cJSON_Delete(list);
    list = NULL;
  }
  free(filter);
  free(esc);
  free(path);
  free(body);
  return list;
}

/* Start loop and open the engine on it; NULL (message printed, loop closed)
 * when DOCKER_HOST is unusable. */
static engine *open_engine(uv_loop_t *loop) {
  engine *e = NULL;
  char *err = NULL;
  uv_loop_init(loop);
  if (engine_open(loop, NULL, &e, &err) < 0) {
    fprintf(stderr, "dbx: error: %s\n", err);
    free(err);
    uv_loop_close(loop);
    return NULL;
  }
  return e;
}

static void close_engine(engine *e, uv_loop_t *loop) {
  engine_close(e);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
}

int images_status(void) {
  uv_loop_t loop;
  engine *e = open_engine(&loop);
  if (!e) return 2;
  int code = 2;
  char *project = image_project_name(), *body = NULL;
  long st = engine_call(e, "GET", "/version", NULL, &body);
  cJSON *v = st == 200 ? cJSON_Parse(body) : NULL;
  if (st < 0) {
    char *msg = engine_unreachable_msg(e, body);
    fprintf(stderr, "dbx: error: %s\n", msg);
    free(msg);
    goto out;
  }
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(v, "Version");
  const cJSON *api = cJSON_GetObjectItemCaseSensitive(v, "ApiVersion");
  printf("engine:  %s\n", engine_address(e));
  printf("version: %s (API %s)\n", cJSON_IsString(ver) ? ver->valuestring : "?",
         cJSON_IsString(api) ? api->valuestring : "?");
  cJSON *list = project_images(e, project);
  if (list) printf("images:  %d labelled dbx.project=%s\n", cJSON_GetArraySize(list), project);
  cJSON_Delete(list);
  image_cli cli = {0};
  char *err = NULL;
  if (image_find_cli(&cli, &err) == 0)
    printf("builds:  %s (%s)\n", cli.docker, cli.buildx ? "buildx" : "DOCKER_BUILDKIT=1 docker build");
  else
    printf("builds:  none usable: %s\n", err);
  free(err);
  image_cli_free(&cli);
  code = 0;
out:
  cJSON_Delete(v);
  free(body);
  free(project);
  close_engine(e, &loop);
  return code;
}

int images_remove(void) {
  uv_loop_t loop;
  engine *e = open_engine(&loop);
  if (!e) return 2;
  char *project = image_project_name();
  cJSON *list = project_images(e, project);
  int code = list ? 0 : 2, removed = 0;
  const cJSON *img;
  cJSON_ArrayForEach(img, list) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(img, "Id");
    if (!cJSON_IsString(id)) continue;
    char *path = xasprintf("/images/%s?force=1", id->valuestring), *body = NULL;
    long st = engine_call(e, "DELETE", path, NULL, &body);
    if (st == 200) removed++;
    else if (st != 404) {
      fprintf(stderr, "dbx: cannot remove image %.19s: %ld %.200s\n", id->valuestring, st, body);
      code = 1;
    }
    free(path);
    free(body);
  }
  if (list) printf("removed %d image%s of project %s\n", removed, removed == 1 ? "" : "s", project);
  cJSON_Delete(list);
  free(project);
  close_engine(e, &loop);
  return code;
}
