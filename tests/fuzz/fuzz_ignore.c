/* libFuzzer target: .dockerignore rules and matching never crash, whatever
 * the rules and the path (the input: rules, a NUL, then a path). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ignore.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *text = xstrndup((const char *)data, n);
  const char *path = memchr(data, 0, n) ? text + strlen(text) + 1 : "a/b/c.txt";
  if (path > text + n) path = "a/b/c.txt";
  ignore_rules r = {0};
  ignore_defaults(&r);
  ignore_parse(&r, text);
  (void)ignore_match(&r, path);
  (void)ignore_match(&r, "x");
  ignore_free(&r);
  free(text);
  return 0;
}
