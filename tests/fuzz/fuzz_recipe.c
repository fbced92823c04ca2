/* libFuzzer target: any build.lua text evaluates or fails with a message, never
 * a crash (small step and memory limits keep each run short). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "graph.h"
#include "recipe.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  static char dir[] = "/tmp/dbx-fuzz-recipe-XXXXXX", home[4096];
  static int made;
  if (!made) {
    made = mkdtemp(dir) != NULL && getcwd(home, sizeof home) != NULL;
    if (!made) abort();
  }
  if (chdir(dir) < 0) abort(); /* recipes read relative to the project: evaluate there */
  FILE *f = fopen("build.lua", "wb");
  if (!f) {
    if (chdir(home) < 0) abort();
    return 0;
  }
  fwrite(data, 1, n, f);
  fclose(f);
  graph *g = graph_new();
  char *err = NULL;
  recipe_limits lim = {2000000, 64u << 20};
  if (recipe_load("build.lua", g, &lim, &err) == 0) {
    char *rerr = NULL;
    graph_resolve(g, &rerr);
    free(rerr);
  } else if (!err) {
    abort(); /* a failure must say why */
  }
  free(err);
  graph_free(g);
  if (chdir(home) < 0) abort();
  return 0;
}
