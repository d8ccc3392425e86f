/* The members of a zip archive that lies in memory (a mapped file), through
 * libzip, as PyTorch writes them (torch.save since 1.6): stored, uncompressed
 * members, with zip64 records when the archive is large. libzip checks the
 * directory against every local header when the archive is opened and a
 * member's CRC-32 whenever it is read whole. Errors name the file and the
 * member. */
#ifndef DNL_WZIP_H
#define DNL_WZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

typedef struct wzip {
  struct zip *za;
  const char *path; /* for messages */
  size_t len;       /* of the archive */
} wzip;

/* True when buf starts like a zip archive (a local file header). */
bool wzip_sniff(const uint8_t *buf, size_t len);

/* Opens the archive in buf[len], which must outlive it; path is for messages. */
dnl_status wzip_open(wzip *z, const uint8_t *buf, size_t len, const char *path);
void wzip_close(wzip *z);

/* Number of members. */
int64_t wzip_count(const wzip *z);
/* Name of member i (NULL when unreadable). */
const char *wzip_name(const wzip *z, int64_t i);
/* Index of the member with exactly this name, or -1. */
int64_t wzip_find(const wzip *z, const char *name);

/* The size of stored member i; an error naming it when it is compressed or
 * claims more bytes than the archive holds. */
dnl_status wzip_stored_size(const wzip *z, int64_t i, uint64_t *size);

/* The whole of stored member i in a malloc'ed buffer (for small members). */
dnl_status wzip_read_all(const wzip *z, int64_t i, uint8_t **data, size_t *size);

/* Reads stored member i once through, in small pieces, so that libzip checks
 * its CRC-32. */
dnl_status wzip_verify(const wzip *z, int64_t i);

/* n bytes from byte off of stored member i, straight into dst. */
dnl_status wzip_read_at(const wzip *z, int64_t i, uint64_t off, size_t n, void *dst);

#endif
