#include "term.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static progress_mode mode = PROGRESS_PLAIN;
static int verbose, color, status_shown;
static size_t total, dirty, finished, running;
static char *last_started;

int term_parse_mode(const char *s, progress_mode *m) {
  static const char *names[] = {"auto", "tty", "plain", "json"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *m = (progress_mode)i;
      return 0;
    }
  return -1;
}

void term_init(progress_mode m, int v) {
  const char *ci = getenv("CI");
  if (m == PROGRESS_AUTO)
    m = isatty(STDOUT_FILENO) && !(ci && *ci && strcmp(ci, "false") != 0) ? PROGRESS_TTY
                                                                            : PROGRESS_PLAIN;
  mode = m;
  verbose = v;
  const char *nc = getenv("NO_COLOR");
  color = mode == PROGRESS_TTY && !(nc && *nc);
  /* a pipe gets full buffering, flushed whenever something starts or a
   * message goes to stderr, so a no-op's thousand "cached" lines cost one write */
  setvbuf(stdout, NULL, mode == PROGRESS_TTY ? _IOLBF : _IOFBF, 1 << 16);
}

progress_mode term_mode(void) { return mode; }
int term_verbose(void) { return verbose; }

void term_clear(void) {
  if (status_shown) {
    fputs("\r\033[K", stdout);
    fflush(stdout);
    status_shown = 0;
  }
}

static void draw_status(void) {
  if (mode != PROGRESS_TTY) return;
  term_clear();
  printf("%s[%zu/%zu]%s %zu running%s%s", color ? "\033[1m" : "", finished, total,
         color ? "\033[0m" : "", running, last_started && running ? ": " : "",
         last_started && running ? last_started : "");
  fflush(stdout);
  status_shown = 1;
}

void term_plan(size_t t, size_t d) {
  total = t;
  dirty = d;
  if (mode == PROGRESS_JSON)
    printf("{\"event\":\"plan\",\"targets\":%zu,\"dirty\":%zu}\n", t, d);
  else if (mode == PROGRESS_PLAIN || verbose)
    printf("plan: %zu targets, %zu to build\n", t, d);
  draw_status();
}

void term_start(const char *target, const char *kind, const char *key) {
  running++;
  free(last_started);
  last_started = xstrdup(target);
  if (mode == PROGRESS_JSON) {
    strbuf sb = {0};
    sb_adds(&sb, "{\"event\":\"start\",\"target\":");
    sb_add_json_str(&sb, target);
    sb_adds(&sb, ",\"kind\":");
    sb_add_json_str(&sb, kind);
    sb_addf(&sb, ",\"key\":\"%s\"}\n", key ? key : "");
    fputs(sb.buf, stdout);
    sb_free(&sb);
  } else if (mode == PROGRESS_PLAIN) {
    printf("start %s\n", target);
  }
  fflush(stdout);
  draw_status();
}

void term_finish(const char *target, const char *status, uint64_t ms, const char *key,
                 const char *error) {
  finished++;
  int was_running = strcmp(status, "built") == 0 || strcmp(status, "failed") == 0;
  if (was_running && running) running--;
  if (mode == PROGRESS_JSON) {
    strbuf sb = {0};
    sb_adds(&sb, "{\"event\":\"finish\",\"target\":");
    sb_add_json_str(&sb, target);
    sb_addf(&sb, ",\"status\":\"%s\",\"ms\":%llu,\"key\":\"%s\"", status, (unsigned long long)ms,
            key ? key : "");
    if (error) {
      sb_adds(&sb, ",\"error\":");
      sb_add_json_str(&sb, error);
    }
    sb_adds(&sb, "}\n");
    fputs(sb.buf, stdout);
    sb_free(&sb);
    if (strcmp(status, "cached") != 0) fflush(stdout);
    return;
  }
  int quiet = mode == PROGRESS_TTY && strcmp(status, "cached") == 0 && !verbose;
  if (!quiet) {
    term_clear();
    const char *c = !color ? "" : strcmp(status, "failed") == 0 ? "\033[31m"
                              : strcmp(status, "built") == 0   ? "\033[32m"
                                                               : "\033[2m";
    printf("%s%s%s %s", c, status, color ? "\033[0m" : "", target);
    if (was_running) printf(" (%.1f s)", (double)ms / 1000.0);
    if (error) printf(": %s", error);
    putchar('\n');
    if (strcmp(status, "cached") != 0) fflush(stdout);
  }
  draw_status();
}

void term_line(const char *target, const char *line) {
  if (mode == PROGRESS_JSON) {
    if (verbose) fprintf(stderr, "%s | %s\n", target, line);
    return;
  }
  term_clear();
  if (color) printf("\033[2m%s |\033[0m %s\n", target, line);
  else printf("%s | %s\n", target, line);
  fflush(stdout);
  draw_status();
}

void term_done(const char *status, size_t built, size_t cached, size_t failed, size_t skipped,
               uint64_t ms) {
  if (mode == PROGRESS_JSON) {
    printf("{\"event\":\"done\",\"status\":\"%s\",\"built\":%zu,\"cached\":%zu,\"failed\":%zu,"
           "\"skipped\":%zu,\"ms\":%llu}\n",
           status, built, cached, failed, skipped, (unsigned long long)ms);
    fflush(stdout);
    return;
  }
  term_clear();
  printf("%s: %zu built, %zu cached, %zu failed, %zu skipped in %.2f s\n", status, built, cached,
         failed, skipped, (double)ms / 1000.0);
  fflush(stdout);
  (void)dirty;
}

void term_msg(const char *fmt, ...) {
  term_clear();
  fflush(stdout);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  draw_status();
}
