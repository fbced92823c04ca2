/* ignore: .dockerignore rules — one pattern a line, '#' comments, '!' to
 * re-include, '**' for any number of folders, a leading '/' ignored; a pattern
 * that matches a folder matches everything below it; the last matching rule
 * wins. Build contexts also leave out secrets and tool state by default. */
#ifndef DBX_IGNORE_H
#define DBX_IGNORE_H

#include "util.h"

typedef struct {
  strvec pats;   /* normalised patterns */
  char *negate;  /* negate[i]: pattern i re-includes */
} ignore_rules;

/* Parse .dockerignore text into r (appending to what r holds). */
void ignore_parse(ignore_rules *r, const char *text);
/* The rules every build context starts with: .git, .dbx, .venv at its root;
 * .env files, private keys and __pycache__ anywhere (a .dockerignore may
 * re-include with '!'). */
void ignore_defaults(ignore_rules *r);
/* Whether path (relative to the context root) is left out. */
int ignore_match(const ignore_rules *r, const char *path);
/* Free the rules. */
void ignore_free(ignore_rules *r);

#endif
