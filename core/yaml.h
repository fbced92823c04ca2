/* yaml: the first document of a YAML text (a compose file) as a Lua value,
 * read with libyaml. Mappings become tables keyed by their scalar keys,
 * sequences 1-based arrays, scalars strings — except plain true/false
 * (booleans) and plain whole numbers (integers). A null value is left out of
 * its mapping or sequence. Anchors are shared: an alias is the same table as
 * its anchor, so no text can make the result grow beyond its own size. The
 * merge key `<<` copies the entries of the mapping (or mappings) it names that
 * the mapping does not set itself. */
#ifndef DBX_YAML_H
#define DBX_YAML_H

#include <stddef.h>

#include <lua.h>

/* The deepest nesting of collections accepted. */
#define YAML_MAX_DEPTH 64

/* Push the value of the first document of text (len bytes) onto L (nil for
 * an empty text) and return 0; or push a message "line N: problem" and
 * return -1. Runs protected: a Lua memory error becomes -1 as well. */
int yaml_push_lua(lua_State *L, const char *text, size_t len);

#endif
