#include "data/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void strlist_free(strlist *l) {
  for (int i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = l->cap = 0;
}

dnl_status strlist_push(strlist *l, const char *s) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 16;
    char **items = realloc(l->items, (size_t)cap * sizeof *items);
    if (!items)
      return dnl_error(DNL_ERR_NOMEM, "out of memory listing files");
    l->items = items;
    l->cap = cap;
  }
  char *copy = strdup(s);
  if (!copy)
    return dnl_error(DNL_ERR_NOMEM, "out of memory listing files");
  l->items[l->n++] = copy;
  return DNL_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void strlist_sort(strlist *l) {
  if (l->n > 1)
    qsort(l->items, (size_t)l->n, sizeof *l->items, cmp_str);
}

bool fs_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool fs_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *fs_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 2);
  if (!s)
    return NULL;
  memcpy(s, a, la);
  s[la] = '/';
  memcpy(s + la + 1, b, lb + 1);
  return s;
}

char *fs_join3(const char *a, const char *b, const char *c) {
  char *ab = fs_join(a, b);
  if (!ab)
    return NULL;
  char *abc = fs_join(ab, c);
  free(ab);
  return abc;
}

bool str_ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

/* Lists entries of dir that are regular files (want_dirs false) or
 * directories (true); stat() resolves symlinks and file systems without d_type. */
static dnl_status list_entries(const char *dir, const char *suffix, bool want_dirs,
                               strlist *out) {
  DIR *d = opendir(dir);
  if (!d)
    return dnl_error(DNL_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
  dnl_status st = DNL_OK;
  struct dirent *e;
  while (st == DNL_OK && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (suffix && !str_ends_with(e->d_name, suffix))
      continue;
    char *path = fs_join(dir, e->d_name);
    if (!path) {
      st = dnl_error(DNL_ERR_NOMEM, "out of memory listing %s", dir);
      break;
    }
    bool keep = want_dirs ? fs_is_dir(path) : fs_is_file(path);
    free(path);
    if (keep)
      st = strlist_push(out, e->d_name);
  }
  closedir(d);
  if (st != DNL_OK)
    return st;
  strlist_sort(out);
  return DNL_OK;
}

dnl_status fs_list_files(const char *dir, const char *suffix, strlist *out) {
  return list_entries(dir, suffix, false, out);
}

dnl_status fs_list_dirs(const char *dir, strlist *out) {
  return list_entries(dir, NULL, true, out);
}

dnl_status fs_mkdirs(const char *dir) {
  if (!dir[0])
    return dnl_error(DNL_ERR_ARG, "cannot create a directory with an empty name");
  char *p = strdup(dir);
  if (!p)
    return dnl_error(DNL_ERR_NOMEM, "out of memory creating %s", dir);
  dnl_status st = DNL_OK;
  for (char *s = p + 1;; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    char c = *s;
    *s = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
      st = dnl_error(DNL_ERR_IO, "cannot create directory %s: %s", p, strerror(errno));
      break;
    }
    if (c == '\0')
      break;
    *s = c;
  }
  if (st == DNL_OK && !fs_is_dir(dir))
    st = dnl_error(DNL_ERR_IO, "cannot create directory %s: a file is in the way", dir);
  free(p);
  return st;
}
