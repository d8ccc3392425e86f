#include "lib/weights/wzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

/* bytes read at a time by wzip_verify */
#define VERIFY_CHUNK (1u << 20)

bool wzip_sniff(const uint8_t *buf, size_t len) { return len >= 4 && !memcmp(buf, "PK\3\4", 4); }

/* Why libzip could not open the archive, in this project's words. */
static dnl_status open_error(const char *path, zip_error_t *err) {
  switch (zip_error_code_zip(err)) {
  case ZIP_ER_NOZIP:
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: no zip end record (the file is truncated or not a zip archive)", path);
  case ZIP_ER_INCONS:
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: damaged zip archive: its central directory does not agree with its end "
                     "record or the file's size (truncated?)",
                     path);
  case ZIP_ER_MULTIDISK:
    return dnl_error(DNL_ERR_FORMAT, "%s: multi-part zip archives are not supported", path);
  case ZIP_ER_MEMORY:
    return dnl_error(DNL_ERR_NOMEM, "%s: zip directory", path);
  }
  return dnl_error(DNL_ERR_FORMAT, "%s: cannot read the zip archive: %s", path,
                   zip_error_strerror(err));
}

static zip_t *open_buffer(const uint8_t *buf, size_t len, int flags, zip_error_t *err) {
  zip_source_t *src = zip_source_buffer_create(buf, len, 0, err);
  zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | flags, err) : NULL;
  if (src && !za)
    zip_source_free(src);
  return za;
}

/* libzip found the local headers at odds with the central directory: names
 * the first member at fault, through an archive z opened without that check
 * (libzip does not say which, and reads a member wherever the directory puts
 * it: one that is not there fails its CRC-32). */
static dnl_status find_inconsistent_member(const wzip *z) {
  const int64_t count = wzip_count(z);
  for (int64_t i = 0; i < count; i++) {
    uint64_t size = 0;
    DNL_TRY(wzip_stored_size(z, i, &size));
    if (wzip_verify(z, i) != DNL_OK)
      return dnl_error(DNL_ERR_FORMAT,
                       "%s: zip entry %s: its local header is missing or does not match the "
                       "central directory",
                       z->path, wzip_name(z, i));
  }
  return dnl_error(DNL_ERR_FORMAT,
                   "%s: damaged zip archive: its central directory does not match the local "
                   "headers",
                   z->path);
}

dnl_status wzip_open(wzip *z, const uint8_t *buf, size_t len, const char *path) {
  memset(z, 0, sizeof *z);
  z->path = path;
  z->len = len;
  zip_error_t err;
  zip_error_init(&err);
  /* CHECKCONS: every local header must agree with the central directory */
  z->za = open_buffer(buf, len, ZIP_CHECKCONS, &err);
  dnl_status st = DNL_OK;
  if (!z->za) {
    /* without the check, to tell a damaged directory from a damaged member */
    zip_error_fini(&err);
    zip_error_init(&err);
    z->za = open_buffer(buf, len, 0, &err);
    st = z->za ? find_inconsistent_member(z) : open_error(path, &err);
    wzip_close(z);
  }
  zip_error_fini(&err);
  return st;
}

void wzip_close(wzip *z) {
  if (z->za)
    zip_discard(z->za);
  memset(z, 0, sizeof *z);
}

int64_t wzip_count(const wzip *z) { return zip_get_num_entries(z->za, 0); }

const char *wzip_name(const wzip *z, int64_t i) { return zip_get_name(z->za, (zip_uint64_t)i, 0); }

int64_t wzip_find(const wzip *z, const char *name) { return zip_name_locate(z->za, name, 0); }

/* A failed read of member i, from libzip's error e. */
static dnl_status member_error(const wzip *z, int64_t i, zip_error_t *e) {
  const char *name = wzip_name(z, i);
  if (zip_error_code_zip(e) == ZIP_ER_CRC)
    return dnl_error(DNL_ERR_FORMAT, "%s: zip entry %s is corrupt (its CRC-32 does not match)",
                     z->path, name ? name : "?");
  return dnl_error(DNL_ERR_FORMAT, "%s: zip entry %s: %s", z->path, name ? name : "?",
                   zip_error_strerror(e));
}

dnl_status wzip_stored_size(const wzip *z, int64_t i, uint64_t *size) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) != 0)
    return member_error(z, i, zip_get_error(z->za));
  const char *name = st.valid & ZIP_STAT_NAME ? st.name : "?";
  if (st.comp_method != ZIP_CM_STORE)
    return dnl_error(DNL_ERR_UNSUPPORTED,
                     "%s: zip entry %s is compressed (method %u); PyTorch stores entries "
                     "uncompressed, so re-save the file with torch.save",
                     z->path, name, (unsigned)st.comp_method);
  if (st.comp_size != st.size)
    return dnl_error(DNL_ERR_FORMAT, "%s: stored zip entry %s has sizes %llu and %llu", z->path,
                     name, (unsigned long long)st.comp_size, (unsigned long long)st.size);
  if (st.size > z->len)
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: zip entry %s claims %llu bytes, more than the archive's %zu: "
                     "truncated?",
                     z->path, name, (unsigned long long)st.size, z->len);
  *size = st.size;
  return DNL_OK;
}

/* Reads into dst until it holds n bytes; zip_fread returns less at the end of
 * the member, and -1 on an error (a CRC-32 mismatch when the end is reached). */
static dnl_status fill(const wzip *z, int64_t i, zip_file_t *f, void *dst, size_t n) {
  for (size_t got = 0; got < n;) {
    zip_int64_t r = zip_fread(f, (char *)dst + got, n - got);
    if (r < 0)
      return member_error(z, i, zip_file_get_error(f));
    if (r == 0)
      return dnl_error(DNL_ERR_FORMAT, "%s: zip entry %s ends after %zu of %zu bytes", z->path,
                       wzip_name(z, i), got, n);
    got += (size_t)r;
  }
  return DNL_OK;
}

static dnl_status open_member(const wzip *z, int64_t i, zip_file_t **f) {
  *f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
  return *f ? DNL_OK : member_error(z, i, zip_get_error(z->za));
}

dnl_status wzip_read_at(const wzip *z, int64_t i, uint64_t off, size_t n, void *dst) {
  uint64_t size = 0;
  DNL_TRY(wzip_stored_size(z, i, &size));
  if (off > size || n > size - off)
    return dnl_error(DNL_ERR_FORMAT, "%s: zip entry %s: bytes [%llu, %llu) past its %llu", z->path,
                     wzip_name(z, i), (unsigned long long)off, (unsigned long long)(off + n),
                     (unsigned long long)size);
  zip_file_t *f;
  DNL_TRY(open_member(z, i, &f));
  dnl_status st = DNL_OK;
  if (off && zip_fseek(f, (zip_int64_t)off, SEEK_SET) != 0)
    st = member_error(z, i, zip_file_get_error(f));
  if (st == DNL_OK)
    st = fill(z, i, f, dst, n);
  /* a read of the whole member goes on to its end, where libzip checks the CRC-32 */
  char end;
  if (st == DNL_OK && off == 0 && n == size && zip_fread(f, &end, 1) != 0)
    st = member_error(z, i, zip_file_get_error(f));
  zip_fclose(f);
  return st;
}

dnl_status wzip_read_all(const wzip *z, int64_t i, uint8_t **data, size_t *size) {
  uint64_t n = 0;
  DNL_TRY(wzip_stored_size(z, i, &n));
  *data = malloc(n ? n : 1);
  if (!*data)
    return dnl_error(DNL_ERR_NOMEM, "%s: zip entry %s of %llu bytes", z->path, wzip_name(z, i),
                     (unsigned long long)n);
  dnl_status st = wzip_read_at(z, i, 0, n, *data);
  if (st != DNL_OK) {
    free(*data);
    *data = NULL;
    return st;
  }
  *size = n;
  return DNL_OK;
}

dnl_status wzip_verify(const wzip *z, int64_t i) {
  uint64_t size = 0;
  DNL_TRY(wzip_stored_size(z, i, &size));
  char *buf = malloc(VERIFY_CHUNK);
  if (!buf)
    return dnl_error(DNL_ERR_NOMEM, "%s: zip read buffer", z->path);
  zip_file_t *f;
  dnl_status st = open_member(z, i, &f);
  if (st == DNL_OK) {
    zip_int64_t r;
    while ((r = zip_fread(f, buf, VERIFY_CHUNK)) > 0)
      ;
    if (r < 0)
      st = member_error(z, i, zip_file_get_error(f));
    zip_fclose(f);
  }
  free(buf);
  return st;
}
