/* libFuzzer target: loading any bytes as .dbx/store never crashes, and the
 * store stays usable (an append after loading parses back). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  static char dir[] = "/tmp/dbx-fuzz-store-XXXXXX";
  static int made;
  if (!made) made = mkdtemp(dir) != NULL;
  char *file = path_join(dir, "store");
  FILE *f = fopen(file, "wb");
  if (f) {
    fwrite(data, 1, n, f);
    fclose(f);
  }
  store *s = NULL;
  char *err = NULL;
  if (store_open(dir, &s, &err) == 0) {
    const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    store_put(s, key, "t", 1, "-", "{}");
    if (!store_get(s, key)) abort(); /* what was just put must be found */
    store_close(s);
  }
  free(err);
  free(file);
  return 0;
}
