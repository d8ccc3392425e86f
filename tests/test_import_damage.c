/* Weight files damaged in one known way each: zip archives whose directory,
 * local headers or methods were edited (read through libzip), and safetensors
 * headers that are not what the format describes (parsed by jansson). Each
 * must be refused when the file is opened, with one line that names the file
 * and what is wrong. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/weights/weight_file.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[256], path[512];

static void setup(void) {
  tmpdir_make(dir, sizeof dir, "import_damage");
  tmpdir_path(path, sizeof path, dir, "damaged.pth");
}

static void teardown(void) { tmpdir_remove(dir); }

TestSuite(import_damage, .init = setup, .fini = teardown, .timeout = 60);

/* Writes buf to path, opens it and checks the one-line error. */
static void expect_error(const unsigned char *buf, size_t len, const char *needle) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(buf, 1, len, f), len);
  fclose(f);
  weight_file wf;
  dnl_status s = weight_file_open(path, &wf);
  if (s == DNL_OK)
    weight_file_close(&wf);
  cr_assert_neq(s, DNL_OK, "opened, expected an error with '%s'", needle);
  const char *msg = dnl_last_error();
  cr_assert(strstr(msg, path), "'%s' does not name the file", msg);
  cr_assert(strstr(msg, needle), "'%s' lacks '%s'", msg, needle);
  cr_assert_null(strchr(msg, '\n'), "'%s' is more than one line", msg);
}

/* ---- zip ---- */

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v) {
  put16(p, (uint16_t)v);
  put16(p + 2, (uint16_t)(v >> 16));
}

typedef struct zip_fixture {
  unsigned char *buf;
  size_t len;
  size_t eocd;    /* end of central directory record */
  size_t cd;      /* central directory */
  size_t zip64;   /* zip64 end record, or 0 */
  size_t central; /* directory entry of the member looked for */
  size_t local;   /* its local header */
} zip_fixture;

/* strided_zip.pth with the records of member `name` located. */
static zip_fixture load_zip(const char *name) {
  zip_fixture z = {0};
  FILE *f = fopen(fixture_path("import/strided_zip.pth"), "rb");
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  z.len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  z.buf = malloc(z.len);
  cr_assert_eq(fread(z.buf, 1, z.len, f), z.len);
  fclose(f);
  for (size_t i = z.len - 22; i > 0 && !z.eocd; i--)
    if (!memcmp(z.buf + i, "PK\5\6", 4))
      z.eocd = i;
  cr_assert(z.eocd, "no end record");
  z.cd = get32(z.buf + z.eocd + 16);
  for (size_t i = z.cd; i + 4 <= z.eocd && !z.zip64; i++)
    if (!memcmp(z.buf + i, "PK\6\6", 4))
      z.zip64 = i;
  for (size_t at = z.cd; at + 46 <= z.eocd && !memcmp(z.buf + at, "PK\1\2", 4);) {
    size_t nlen = z.buf[at + 28] | z.buf[at + 29] << 8;
    size_t xlen = z.buf[at + 30] | z.buf[at + 31] << 8;
    size_t clen = z.buf[at + 32] | z.buf[at + 33] << 8;
    if (nlen == strlen(name) && !memcmp(z.buf + at + 46, name, nlen)) {
      z.central = at;
      z.local = get32(z.buf + at + 42);
    }
    at += 46 + nlen + xlen + clen;
  }
  cr_assert(z.central, "no member %s", name);
  cr_assert(!memcmp(z.buf + z.local, "PK\3\4", 4));
  return z;
}

Test(import_damage, zip_central_directory_cut_short) {
  zip_fixture z = load_zip("strided_zip/data/1");
  /* the directory's size, in the classic and the zip64 end record, is 10 bytes
   * short: its last entry runs past it */
  uint32_t size = get32(z.buf + z.eocd + 12);
  put32(z.buf + z.eocd + 12, size - 10);
  if (z.zip64)
    put32(z.buf + z.zip64 + 40, size - 10);
  expect_error(z.buf, z.len, "zip");
  free(z.buf);
}

Test(import_damage, zip_local_header_offset_points_elsewhere) {
  zip_fixture z = load_zip("strided_zip/data/1");
  put32(z.buf + z.central + 42, (uint32_t)z.local + 7);
  expect_error(z.buf, z.len,
               "zip entry strided_zip/data/1: its local header is missing or does not match the "
               "central directory");
  put32(z.buf + z.central + 42, (uint32_t)z.len + 1000);
  expect_error(z.buf, z.len, "zip entry strided_zip/data/1: its local header is missing");
  free(z.buf);
}

Test(import_damage, zip_member_compressed_where_stored_is_expected) {
  zip_fixture z = load_zip("strided_zip/data/1");
  /* deflate in both headers, so that they agree */
  put16(z.buf + z.central + 10, 8);
  put16(z.buf + z.local + 8, 8);
  expect_error(z.buf, z.len,
               "zip entry strided_zip/data/1 is compressed (method 8); PyTorch stores entries "
               "uncompressed");
  free(z.buf);
}

Test(import_damage, zip_member_stored_with_a_compressed_size) {
  zip_fixture z = load_zip("strided_zip/data/1");
  /* a stored member whose stored size is not its size, as compressed data
   * marked stored would have: in both headers, so that they agree */
  uint32_t csize = get32(z.buf + z.central + 20) - 16;
  put32(z.buf + z.central + 20, csize);
  put32(z.buf + z.local + 18, csize);
  expect_error(z.buf, z.len, "stored zip entry strided_zip/data/1 has sizes 464 and 480");
  free(z.buf);
}

Test(import_damage, zip_member_data_changed_fails_the_crc) {
  zip_fixture z = load_zip("strided_zip/data/1");
  size_t nlen = z.buf[z.local + 26] | z.buf[z.local + 27] << 8;
  size_t xlen = z.buf[z.local + 28] | z.buf[z.local + 29] << 8;
  z.buf[z.local + 30 + nlen + xlen + 100] ^= 1;
  expect_error(z.buf, z.len, "zip entry strided_zip/data/1 is corrupt (its CRC-32 does not match)");
  free(z.buf);
}

/* ---- safetensors ---- */

/* A safetensors file: header length, header, data_len zero bytes. */
static void expect_header_error(const char *header, size_t data_len, const char *needle) {
  size_t n = strlen(header), len = 8 + n + data_len;
  unsigned char *buf = calloc(1, len);
  uint64_t n64 = n;
  memcpy(buf, &n64, 8);
  memcpy(buf + 8, header, n);
  expect_error(buf, len, needle);
  free(buf);
}

#define ENTRY(off) "{\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": " off "}"

Test(import_damage, safetensors_written_right_opens) {
  /* the template the cases below damage */
  const char *h = "{\"a\": " ENTRY("[0, 24]") ", \"b\": " ENTRY("[24, 48]") "}";
  FILE *f = fopen(path, "wb");
  uint64_t n = strlen(h);
  unsigned char zeros[48] = {0};
  fwrite(&n, 8, 1, f);
  fwrite(h, 1, n, f);
  fwrite(zeros, 1, sizeof zeros, f);
  fclose(f);
  weight_file wf;
  TRY_OK(weight_file_open(path, &wf));
  cr_assert_eq(wf.tensors.count, 2);
  cr_assert_str_eq(wf.tensors.items[0].name, "a");
  weight_file_close(&wf);
}

Test(import_damage, safetensors_header_not_an_object) {
  expect_header_error("[" ENTRY("[0, 24]") "]", 24,
                      "the header is an array, expected a JSON object");
}

Test(import_damage, safetensors_nested_wrong_types) {
  expect_header_error("{\"a\": [1, 2]}", 0, "entry 'a' is an array, expected a tensor description");
  expect_header_error("{\"a\": {\"dtype\": 32, \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
                      "a: \"dtype\" is an integer, expected a string");
  expect_header_error("{\"a\": {\"dtype\": \"F32\", \"shape\": {\"n\": 2}, \"data_offsets\": "
                      "[0, 8]}}",
                      8, "a: \"shape\" is an object, expected an array of sizes");
  expect_header_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, \"3\"], \"data_offsets\": "
                      "[0, 24]}}",
                      24, "a: shape[1] is a string, expected a non-negative integer");
  expect_header_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3.0], \"data_offsets\": "
                      "[0, 24]}}",
                      24, "a: shape[1] is a real number, expected a non-negative integer");
  expect_header_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, -3], \"data_offsets\": "
                      "[0, 24]}}",
                      24, "a: shape[1] is negative");
  expect_header_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": "
                      "[0, [24]]}}",
                      24, "a: data_offsets[1] is an array, expected a non-negative integer");
  expect_header_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3]}}", 24,
                      "a: header entry has no \"data_offsets\" (expected [begin, end])");
  expect_header_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0]}}", 24,
                      "a: data_offsets has 1 values, expected [begin, end]");
}

Test(import_damage, safetensors_huge_header_length) {
  unsigned char buf[64] = {0};
  uint64_t n = (uint64_t)1 << 40;
  memcpy(buf, &n, 8);
  memcpy(buf + 8, "{\"a\": 1}", 8);
  expect_error(buf, sizeof buf,
               "safetensors header of 1099511627776 bytes does not fit the file "
               "(64 bytes)");
}

Test(import_damage, safetensors_offsets_out_of_range_or_overlapping) {
  expect_header_error("{\"a\": " ENTRY("[0, 24]") ", \"b\": " ENTRY("[24, 48]") "}", 40,
                      "b: data_offsets [24, 48] outside the 40 data bytes: truncated?");
  expect_header_error("{\"a\": " ENTRY("[24, 0]") "}", 24,
                      "a: data_offsets [24, 0] outside the 24 data bytes");
  expect_header_error("{\"a\": " ENTRY("[0, 20]") "}", 24, "a: 20 bytes for 6 elements of float32");
  expect_header_error("{\"a\": " ENTRY("[0, 24]") ", \"b\": " ENTRY("[16, 40]") "}", 48,
                      "a (data bytes [0, 24)) and b ([16, 40)) overlap");
}

Test(import_damage, safetensors_json_errors) {
  expect_header_error("{\"a\": }", 0, "safetensors header: JSON byte");
  expect_header_error("{\"a\": " ENTRY("[0, 24]") ", \"a\": " ENTRY("[24, 48]") "}", 48,
                      "duplicate object key");
  /* nesting deeper than jansson's limit */
  size_t depth = 5000;
  char *deep = malloc(2 * depth + 16);
  strcpy(deep, "{\"a\": ");
  memset(deep + 6, '[', depth);
  memset(deep + 6 + depth, ']', depth);
  strcpy(deep + 6 + 2 * depth, "}");
  expect_header_error(deep, 0, "maximum parsing depth reached");
  free(deep);
  /* 1.5 MB of empty objects: more memory than any tensor list of its size */
  size_t count = 1u << 19;
  char *many = malloc(4 * count + 16);
  strcpy(many, "{\"a\": [");
  size_t at = strlen(many);
  for (size_t i = 0; i < count; i++, at += 3)
    memcpy(many + at, i ? ",{}" : " {}", 3);
  strcpy(many + at, "]}");
  expect_header_error(many, 0, "too many small values");
  free(many);
}
