#include "lib/store/file_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

dnl_status file_atomic_tmp_name(const char *path, char *buf, size_t len) {
  int n = snprintf(buf, len, "%s.tmp", path);
  if (n < 0 || (size_t)n >= len)
    return dnl_error(DNL_ERR_ARG, "%s: path too long", path);
  return DNL_OK;
}

/* fsync of an existing file or folder. */
static dnl_status sync_path(const char *path, int flags) {
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "%s: cannot open to sync: %s", path, strerror(errno));
  int rc = fsync(fd), err = errno;
  close(fd);
  if (rc != 0)
    return dnl_error(DNL_ERR_IO, "%s: fsync: %s", path, strerror(err));
  return DNL_OK;
}

dnl_status file_atomic_commit(const char *tmp, const char *path) {
  dnl_status s = sync_path(tmp, O_RDONLY);
  if (s == DNL_OK && rename(tmp, path) != 0)
    s = dnl_error(DNL_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (s != DNL_OK) {
    unlink(tmp);
    return s;
  }
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  return sync_path(dir, O_RDONLY | O_DIRECTORY);
}
