/* glob: path patterns with '*', '?', '[...]' within one path segment and '**'
 * for any number of folders. Walks skip ".git" and ".dbx" and do not follow
 * links to folders. */
#ifndef DBX_GLOB_H
#define DBX_GLOB_H

#include "util.h"

/* Whether s holds any pattern character. */
int glob_has_magic(const char *s);
/* Whether the relative path matches pattern. */
int glob_match(const char *pattern, const char *path);
/* Append to out the files matching pattern, relative to the current folder
 * (pattern must be relative and normalised). A pattern without magic is
 * appended as it is when it is not a folder (so a missing file stays visible
 * to the caller), or as every file below it when it is one. Returns the number
 * of paths appended. */
size_t glob_expand(const char *pattern, strvec *out);

#endif
