#include "tests/test_tmpdir.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/store/h5dset.h"
#include "lib/store/h5file.h"

void tmpdir_make(char *buf, size_t len, const char *what) {
  snprintf(buf, len, "/tmp/dnl_%s_XXXXXX", what);
  cr_assert(mkdtemp(buf) != NULL, "mkdtemp %s failed", buf);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void tmpdir_remove(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

const char *tmpdir_path(char *buf, size_t len, const char *dir, const char *name) {
  snprintf(buf, len, "%s/%s", dir, name);
  return buf;
}

bool file_exists(const char *path) { return access(path, F_OK) == 0; }

void file_write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert(f != NULL, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

void file_write_foreign_hdf5(const char *path) {
  hid_t f;
  cr_assert_eq(h5file_create(path, &f), DNL_OK, "%s", dnl_last_error());
  float x[4] = {1, 2, 3, 4};
  size_t dims[1] = {4};
  cr_assert_eq(h5dset_write(f, "x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dims, x), DNL_OK);
  cr_assert_eq(h5file_close(f, path), DNL_OK);
}
