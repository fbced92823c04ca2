/* images: commands about the engine itself rather than a build — `dbx engine`
 * (is it there, which version, which client builds) and removing a project's
 * images for `dbx clean --images`. */
#ifndef DBX_IMAGES_H
#define DBX_IMAGES_H

/* Print the engine's address, version and API version, how many images this
 * project has there, and the docker client that builds. Exit code: 0, or 2
 * when the engine does not answer. */
int images_status(void);
/* Remove every image labelled with this project's name (the tags dbx gave
 * them and the ones recipes asked for). Exit code: 0, 1 when one could not be
 * removed, 2 when the engine does not answer. */
int images_remove(void);

#endif
