/* term: what a build shows. A terminal gets a live status line with output
 * scrolling above it; a pipe (or CI set) gets one plain line per event;
 * --progress=json gets one JSON object per line on stdout. Messages and
 * errors go to stderr in every mode. */
#ifndef DBX_TERM_H
#define DBX_TERM_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PROGRESS_AUTO, PROGRESS_TTY, PROGRESS_PLAIN, PROGRESS_JSON } progress_mode;

/* Parse "auto", "tty", "plain" or "json"; 0, or -1 when it is none of them. */
int term_parse_mode(const char *s, progress_mode *m);
/* Choose the output mode (auto: tty when stdout is a terminal and CI is unset)
 * and whether colour is used (never with NO_COLOR). */
void term_init(progress_mode m, int verbose);
/* The mode in force. */
progress_mode term_mode(void);
/* Whether -v was given. */
int term_verbose(void);
/* How many targets this run covers and how many need work. */
void term_plan(size_t targets, size_t dirty);
/* A target begins. */
void term_start(const char *target, const char *kind, const char *key);
/* A target ended: status is built, cached, failed or skipped; error (or NULL)
 * says why it failed. */
void term_finish(const char *target, const char *status, uint64_t ms, const char *key,
                 const char *error);
/* One line of a running target's output. */
void term_line(const char *target, const char *line);
/* The run ended. */
void term_done(const char *status, size_t built, size_t cached, size_t failed, size_t skipped,
               uint64_t ms);
/* A message for the user on stderr, clear of the status line. */
void term_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Clear the status line (before the program exits or prints elsewhere). */
void term_clear(void);

#endif
