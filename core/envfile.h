/* envfile: the environment files (.env) dbx dev gives a service's container,
 * in the format docker compose and python-dotenv read:
 *
 *   # a comment            NAME=value            export NAME=value
 *   NAME="a \"quoted\" value\nwith escapes"     NAME='literal $text'
 *   NAME=value # a trailing comment (after a space; not in quotes)
 *
 * Values are taken as written: no ${VAR} expansion. A line that is not one of
 * these is an error naming its line. */
#ifndef DBX_ENVFILE_H
#define DBX_ENVFILE_H

#include "util.h"

/* Parse text, appending "NAME=value" to out (caller frees); a later NAME
 * overrides an earlier one. 0, or -1 with *err set ("line N: why", caller
 * frees) and out left as it was. */
int envfile_parse(const char *text, strvec *out, char **err);

/* Read and parse the file at path into out; 0, -ENOENT when there is no file,
 * or another negative error with *err set ("PATH: why" or "PATH:N: why"). */
int envfile_read(const char *path, strvec *out, char **err);

#endif
