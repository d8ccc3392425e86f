/* The CPU backend's side of host staging: host and device memory are the same,
 * so pinned memory is ordinary memory, uploads are copies made at once, and the
 * memory in use is the process's resident set. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/cpu/cpu_ops.h"

dnl_status cpu_host_alloc_pinned(size_t bytes, void **out) { return cpu_alloc(bytes, out); }

void cpu_host_free_pinned(void *p) { cpu_free(p); }

dnl_status cpu_upload_async(void *dst, const void *src, size_t bytes) {
  if (bytes)
    memcpy(dst, src, bytes);
  return DNL_OK;
}

dnl_status cpu_upload_wait(void) { return DNL_OK; }

dnl_status cpu_memory_usage(size_t *used, size_t *total) {
  *used = *total = 0;
  const long page = sysconf(_SC_PAGESIZE), pages = sysconf(_SC_PHYS_PAGES);
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  const int got = f ? fscanf(f, "%lu %lu", &size, &resident) : 0;
  if (f)
    fclose(f);
  if (got != 2 || page <= 0 || pages <= 0)
    return dnl_error(DNL_ERR_IO, "cpu: cannot read the resident set from /proc/self/statm");
  *used = (size_t)resident * (size_t)page;
  *total = (size_t)pages * (size_t)page;
  return DNL_OK;
}
