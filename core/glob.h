/* glob: path patterns with '*', '?', '[...]' within one path segment and '**'
 * for any number of folders. Walks skip ".git" and ".dbx", do not follow
 * links to folders and leave out links that lead nowhere. */
#ifndef DBX_GLOB_H
#define DBX_GLOB_H

#include "util.h"

/* Whether s holds any pattern character. */
int glob_has_magic(const char *s);
/* Whether the relative path matches pattern. */
int glob_match(const char *pattern, const char *path);
/* Append to out the files matching pattern, relative to the current folder
 * (pattern must be relative and normalised). A pattern without magic is
 * appended as it is, unchecked (whoever reads it finds a missing file or a
 * folder). Returns the number of paths appended. */
size_t glob_expand(const char *pattern, strvec *out);
/* glob_expand, also appending to dirs every folder whose listing the walk read
 * (and each literal folder it looked for but did not find), to dangling every
 * link the pattern matched whose target does not exist (left out of out, as a
 * file that cannot be read; either vector may be NULL), and setting *err
 * (when err is not NULL and *err is NULL; caller frees) to why a folder the
 * walk met could not be listed (no permission, a path too long...): what is
 * in it would be missing from the result. */
size_t glob_expand_logged(const char *pattern, strvec *out, strvec *dirs, strvec *dangling, char **err);

#endif
