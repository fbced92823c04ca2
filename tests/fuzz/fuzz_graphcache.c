/* libFuzzer target: any bytes as .dbx/graph are taken or refused as stale,
 * never a crash or a huge allocation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph.h"
#include "graphcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  const char *file = "/tmp/dbx-fuzz-graph";
  FILE *f = fopen(file, "wb");
  if (!f) return 0;
  fwrite(data, 1, n, f);
  fclose(f);
  graph_free(graphcache_load(file, "build.lua"));
  return 0;
}
