/* Scratch directories for tests that write files. */
#ifndef DNL_TEST_TMPDIR_H
#define DNL_TEST_TMPDIR_H

#include <stdbool.h>
#include <stddef.h>

/* Creates a fresh directory /tmp/dnl_<what>_XXXXXX into buf (asserts on failure). */
void tmpdir_make(char *buf, size_t len, const char *what);
/* Removes the directory and everything under it. */
void tmpdir_remove(const char *dir);
/* dir/name into buf; returns buf. */
const char *tmpdir_path(char *buf, size_t len, const char *dir, const char *name);
bool file_exists(const char *path);
/* Writes text to path (asserts on failure). */
void file_write_text(const char *path, const char *text);
/* An HDF5 file of "another program": one float dataset /x, no attributes. */
void file_write_foreign_hdf5(const char *path);

#endif
