/* Replacing a file all at once: the caller writes everything to a temporary
 * file beside it, then file_atomic_commit makes that durable and renames it
 * over the target, so readers see either the old file or the complete new
 * one, and a failure leaves no partial file behind. */
#ifndef DNL_FILE_ATOMIC_H
#define DNL_FILE_ATOMIC_H

#include <stddef.h>

#include "lib/core/status.h"

/* "<path>.tmp" into buf; an error when it does not fit. */
dnl_status file_atomic_tmp_name(const char *path, char *buf, size_t len);

/* Syncs tmp to disk, renames it to path and syncs the folder. On any
 * failure tmp is removed and path is left as it was. */
dnl_status file_atomic_commit(const char *tmp, const char *path);

#endif
