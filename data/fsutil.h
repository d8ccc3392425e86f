/* Small filesystem helpers for the dataset readers and the synthetic generator:
 * sorted directory listings, existence checks, path joining, mkdir -p. */
#ifndef DNL_DATA_FSUTIL_H
#define DNL_DATA_FSUTIL_H

#include <stdbool.h>

#include "lib/core/status.h"

/* A growable list of owned strings. */
typedef struct strlist {
  char **items;
  int n, cap;
} strlist;

void strlist_free(strlist *l);
/* Appends a copy of s. */
dnl_status strlist_push(strlist *l, const char *s);
/* Sorts by strcmp (byte order), so listings are the same on every machine. */
void strlist_sort(strlist *l);

bool fs_is_dir(const char *path);
bool fs_is_file(const char *path);

/* "a" + "/" + "b" into a new malloc'd string (NULL when out of memory). */
char *fs_join(const char *a, const char *b);
char *fs_join3(const char *a, const char *b, const char *c);

/* Sorted names (not paths) of the regular files in dir whose name ends with
 * suffix ("" = all). Hidden entries (leading '.') are skipped in both listings. */
dnl_status fs_list_files(const char *dir, const char *suffix, strlist *out);
/* Sorted names of the subdirectories of dir (without "." and ".."). */
dnl_status fs_list_dirs(const char *dir, strlist *out);

/* Creates dir and its missing parents. */
dnl_status fs_mkdirs(const char *dir);

bool str_ends_with(const char *s, const char *suffix);

#endif
