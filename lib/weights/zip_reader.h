/* Reading entries of a zip archive that lies in memory (a mapped file), as
 * PyTorch writes them (torch.save since 1.6): stored, uncompressed entries,
 * with zip64 records when the archive is large. Every offset and size is
 * checked against the buffer; each entry's CRC-32 is verified on access. */
#ifndef DNL_ZIP_READER_H
#define DNL_ZIP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

typedef struct zip_entry {
  char *name; /* malloc'ed, NUL-terminated */
  uint16_t method;
  uint32_t crc;
  uint64_t size;         /* uncompressed */
  uint64_t csize;        /* stored */
  uint64_t local_offset; /* of the local file header */
  bool verified;         /* CRC checked by zip_entry_data */
} zip_entry;

typedef struct zip_archive {
  const uint8_t *buf;
  size_t len;
  const char *path; /* for messages */
  zip_entry *entries;
  int count;
} zip_archive;

/* True when buf starts like a zip archive. */
bool zip_sniff(const uint8_t *buf, size_t len);

/* Reads the central directory. path is only used in messages. */
dnl_status zip_open(zip_archive *z, const uint8_t *buf, size_t len, const char *path);
void zip_close(zip_archive *z);

/* The entry with exactly this name, or NULL. */
zip_entry *zip_find(zip_archive *z, const char *name);

/* The bytes of a stored entry (pointing into the buffer), after checking its
 * local header and, the first time, its CRC-32. Compressed entries are an
 * error naming the entry. */
dnl_status zip_entry_data(zip_archive *z, zip_entry *e, const uint8_t **data, size_t *size);

/* CRC-32 (zip's polynomial) of n bytes. */
uint32_t zip_crc32(const uint8_t *p, size_t n);

#endif
