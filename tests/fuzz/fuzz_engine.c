/* libFuzzer target: whatever the engine answers, dbx's readers of it never
 * crash. The first byte picks the reader, the rest is the answer:
 *   0  an image inspection (GET /images/NAME/json), added to an index
 *   1  a push's progress stream (JSON messages, one per line)
 *   2  a container's log stream (8-byte frame headers), fed in pieces whose
 *      sizes the next bytes choose; every line handed out lies in the input */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "image.h"
#include "push.h"
#include "util.h"

static size_t total;

static void on_line(void *ud, int stream, const char *line, size_t len) {
  (void)ud;
  if (stream < 0 || stream > 255 || len > total) abort();
  volatile char sink = 0;
  for (size_t i = 0; i < len; i++) sink ^= line[i];
  (void)sink;
}

static void on_end(void *ud) { ++*(int *)ud; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  const char *body = (const char *)data + 1;
  size_t len = n - 1;
  switch (data[0] % 3) {
  case 0: {
    char *text = xstrndup(body, len); /* the engine's answer arrives NUL-terminated */
    image_index ix = {0};
    if (image_index_add_json(&ix, text, "asked:latest") == 0) {
      image_index_lookup(&ix, "asked");
      image_index_lookup(&ix, "asked:latest");
      image_index_lookup(&ix, "x@sha256:00");
    }
    image_index_free(&ix);
    free(text);
    break;
  }
  case 1: {
    char *error = NULL, *digest = NULL;
    push_read_progress(body, len, &error, &digest);
    free(error);
    free(digest);
    break;
  }
  default: {
    total = len;
    int ended = 0;
    container_logs *l = container_logs_new(on_line, on_end, &ended);
    size_t off = 0, step = 1;
    while (off < len) {
      size_t k = step < len - off ? step : len - off;
      container_logs_feed(l, body + off, k);
      off += k;
      step = (size_t)(unsigned char)body[off - 1] % 97 + 1;
    }
    container_logs_finish(l);
    if (ended != 1) abort();
    container_logs_close(l);
  }
  }
  return 0;
}
