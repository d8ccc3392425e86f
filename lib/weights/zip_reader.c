#include "lib/weights/zip_reader.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EOCD_SIZE 22
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const uint8_t *p) { return (uint32_t)u16(p) | (uint32_t)u16(p + 2) << 16; }
static uint64_t u64(const uint8_t *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

/* Whether [off, off + n) lies inside a buffer of len bytes. */
static bool inside(uint64_t off, uint64_t n, size_t len) { return off <= len && n <= len - off; }

bool zip_sniff(const uint8_t *buf, size_t len) { return len >= 4 && u32(buf) == SIG_LOCAL; }

uint32_t zip_crc32(const uint8_t *p, size_t n) {
  uint32_t table[256]; /* cheap next to any entry worth checking */
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* The end-of-central-directory record: its offset, searched backwards over the
 * longest possible archive comment. */
static dnl_status find_eocd(const zip_archive *z, size_t *at) {
  if (z->len < EOCD_SIZE)
    return dnl_error(DNL_ERR_FORMAT, "%s: zip archive of %zu bytes is truncated", z->path,
                     z->len);
  size_t lowest = z->len > EOCD_SIZE + 0xffff ? z->len - EOCD_SIZE - 0xffff : 0;
  for (size_t i = z->len - EOCD_SIZE + 1; i-- > lowest;) {
    if (u32(z->buf + i) == SIG_EOCD && i + EOCD_SIZE + u16(z->buf + i + 20) == z->len) {
      *at = i;
      return DNL_OK;
    }
  }
  return dnl_error(DNL_ERR_FORMAT,
                   "%s: no zip end record (the file is truncated or not a zip archive)", z->path);
}

/* Where the central directory lies and how many entries it has, from the
 * classic end record or, when that one is saturated, the zip64 record. */
static dnl_status read_directory_bounds(const zip_archive *z, size_t eocd, uint64_t *count,
                                        uint64_t *cd_size, uint64_t *cd_off) {
  const uint8_t *e = z->buf + eocd;
  *count = u16(e + 10);
  *cd_size = u32(e + 12);
  *cd_off = u32(e + 16);
  if (u16(e + 4) != 0 || u16(e + 6) != 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: multi-part zip archives are not supported", z->path);
  bool saturated = *count == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu;
  if (eocd >= 20 && u32(e - 20) == SIG_LOCATOR64) {
    uint64_t off64 = u64(e - 20 + 8);
    if (!inside(off64, 56, eocd - 20) || u32(z->buf + off64) != SIG_EOCD64)
      return dnl_error(DNL_ERR_FORMAT, "%s: broken zip64 end record", z->path);
    const uint8_t *e64 = z->buf + off64;
    *count = u64(e64 + 32);
    *cd_size = u64(e64 + 40);
    *cd_off = u64(e64 + 48);
  } else if (saturated) {
    return dnl_error(DNL_ERR_FORMAT, "%s: zip end record needs a zip64 record that is missing",
                     z->path);
  }
  if (!inside(*cd_off, *cd_size, eocd))
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: zip central directory (offset %llu, %llu bytes) lies outside the file",
                     z->path, (unsigned long long)*cd_off, (unsigned long long)*cd_size);
  if (*count > *cd_size / CENTRAL_SIZE)
    return dnl_error(DNL_ERR_FORMAT, "%s: zip claims %llu entries in %llu directory bytes",
                     z->path, (unsigned long long)*count, (unsigned long long)*cd_size);
  return DNL_OK;
}

/* Replaces saturated 32-bit fields by their zip64 extra field values. */
static dnl_status apply_zip64_extra(const zip_archive *z, zip_entry *en, const uint8_t *extra,
                                    size_t n, bool need_size, bool need_csize, bool need_off) {
  size_t i = 0;
  while (i + 4 <= n) {
    uint16_t id = u16(extra + i), sz = u16(extra + i + 2);
    if (i + 4 + sz > n)
      break;
    if (id == 0x0001) {
      const uint8_t *p = extra + i + 4;
      size_t need = 8u * ((size_t)need_size + need_csize + need_off);
      if (sz < need)
        return dnl_error(DNL_ERR_FORMAT, "%s: entry %s: short zip64 extra field", z->path,
                         en->name);
      if (need_size)
        en->size = u64(p), p += 8;
      if (need_csize)
        en->csize = u64(p), p += 8;
      if (need_off)
        en->local_offset = u64(p);
      return DNL_OK;
    }
    i += 4 + (size_t)sz;
  }
  return dnl_error(DNL_ERR_FORMAT, "%s: entry %s needs a zip64 extra field that is missing",
                   z->path, en->name);
}

static dnl_status read_central_entry(const zip_archive *z, size_t *pos, size_t end,
                                     zip_entry *en) {
  if (!inside(*pos, CENTRAL_SIZE, end) || u32(z->buf + *pos) != SIG_CENTRAL)
    return dnl_error(DNL_ERR_FORMAT, "%s: broken zip central directory at byte %zu", z->path,
                     *pos);
  const uint8_t *h = z->buf + *pos;
  size_t nlen = u16(h + 28), xlen = u16(h + 30), clen = u16(h + 32);
  if (!inside(*pos + CENTRAL_SIZE, nlen + xlen + clen, end))
    return dnl_error(DNL_ERR_FORMAT, "%s: zip directory entry at byte %zu runs past the directory",
                     z->path, *pos);
  en->name = malloc(nlen + 1);
  if (!en->name)
    return dnl_error(DNL_ERR_NOMEM, "%s: zip entry name", z->path);
  memcpy(en->name, h + CENTRAL_SIZE, nlen);
  en->name[nlen] = '\0';
  en->method = u16(h + 10);
  en->crc = u32(h + 16);
  en->csize = u32(h + 20);
  en->size = u32(h + 24);
  en->local_offset = u32(h + 42);
  en->verified = false;
  bool ns = en->size == 0xffffffffu, nc = en->csize == 0xffffffffu,
       no = en->local_offset == 0xffffffffu;
  if (ns || nc || no)
    DNL_TRY(apply_zip64_extra(z, en, h + CENTRAL_SIZE + nlen, xlen, ns, nc, no));
  *pos += CENTRAL_SIZE + nlen + xlen + clen;
  return DNL_OK;
}

dnl_status zip_open(zip_archive *z, const uint8_t *buf, size_t len, const char *path) {
  memset(z, 0, sizeof *z);
  z->buf = buf;
  z->len = len;
  z->path = path;
  size_t eocd = 0;
  uint64_t count = 0, cd_size = 0, cd_off = 0;
  DNL_TRY(find_eocd(z, &eocd));
  DNL_TRY(read_directory_bounds(z, eocd, &count, &cd_size, &cd_off));
  z->entries = calloc(count ? count : 1, sizeof *z->entries);
  if (!z->entries)
    return dnl_error(DNL_ERR_NOMEM, "%s: %llu zip entries", path, (unsigned long long)count);
  size_t pos = cd_off, end = cd_off + cd_size;
  for (uint64_t i = 0; i < count; i++) {
    dnl_status s = read_central_entry(z, &pos, end, &z->entries[z->count]);
    if (s != DNL_OK) {
      free(z->entries[z->count].name);
      zip_close(z);
      return s;
    }
    z->count++;
  }
  return DNL_OK;
}

void zip_close(zip_archive *z) {
  for (int i = 0; i < z->count; i++)
    free(z->entries[i].name);
  free(z->entries);
  memset(z, 0, sizeof *z);
}

zip_entry *zip_find(zip_archive *z, const char *name) {
  for (int i = 0; i < z->count; i++)
    if (!strcmp(z->entries[i].name, name))
      return &z->entries[i];
  return NULL;
}

dnl_status zip_entry_data(zip_archive *z, zip_entry *e, const uint8_t **data, size_t *size) {
  if (e->method != 0)
    return dnl_error(DNL_ERR_UNSUPPORTED,
                     "%s: zip entry %s is compressed (method %u); PyTorch stores entries "
                     "uncompressed, so re-save the file with torch.save",
                     z->path, e->name, e->method);
  if (e->csize != e->size)
    return dnl_error(DNL_ERR_FORMAT, "%s: stored zip entry %s has sizes %llu and %llu", z->path,
                     e->name, (unsigned long long)e->csize, (unsigned long long)e->size);
  if (!inside(e->local_offset, LOCAL_SIZE, z->len) || u32(z->buf + e->local_offset) != SIG_LOCAL)
    return dnl_error(DNL_ERR_FORMAT, "%s: zip entry %s: no local header at byte %llu", z->path,
                     e->name, (unsigned long long)e->local_offset);
  const uint8_t *h = z->buf + e->local_offset;
  size_t nlen = u16(h + 26), xlen = u16(h + 28);
  uint64_t start = e->local_offset + LOCAL_SIZE + nlen + xlen;
  if (nlen != strlen(e->name) || memcmp(h + LOCAL_SIZE, e->name, nlen) != 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: zip entry %s: local header names another file",
                     z->path, e->name);
  if (!inside(start, e->size, z->len))
    return dnl_error(DNL_ERR_FORMAT,
                     "%s: zip entry %s: %llu bytes at byte %llu run past the end of the file "
                     "(%zu bytes): truncated?",
                     z->path, e->name, (unsigned long long)e->size, (unsigned long long)start,
                     z->len);
  if (!e->verified) {
    uint32_t crc = zip_crc32(z->buf + start, e->size);
    if (crc != e->crc)
      return dnl_error(DNL_ERR_FORMAT, "%s: zip entry %s is corrupt (CRC-32 %08x, expected %08x)",
                       z->path, e->name, crc, e->crc);
    e->verified = true;
  }
  *data = z->buf + start;
  *size = (size_t)e->size;
  return DNL_OK;
}
