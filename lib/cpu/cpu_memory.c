#include <stdlib.h>
#include <string.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

/* as cudaMalloc: the arena hands out 256-byte aligned offsets of a block */
#define CPU_ALIGN 256

dnl_status cpu_alloc(size_t bytes, void **out) {
  size_t rounded = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
  *out = aligned_alloc(CPU_ALIGN, rounded ? rounded : CPU_ALIGN);
  if (!*out)
    return dnl_error(DNL_ERR_NOMEM, "cpu: cannot allocate %zu bytes", bytes);
  return DNL_OK;
}

void cpu_free(void *p) { free(p); }

dnl_status cpu_memcpy(void *dst, dnl_device dst_dev, const void *src, dnl_device src_dev,
                      size_t bytes) {
  if (dst_dev != DEVICE_CPU || src_dev != DEVICE_CPU)
    return dnl_error(DNL_ERR_ARG, "cpu backend: memcpy %s -> %s is not a CPU copy",
                     device_name(src_dev), device_name(dst_dev));
  if (bytes)
    memmove(dst, src, bytes);
  return DNL_OK;
}

dnl_status cpu_fill(float *x, size_t n, float value) {
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
  for (size_t i = 0; i < n; i++)
    x[i] = value;
  return DNL_OK;
}

dnl_status cpu_synchronize(void) { return DNL_OK; }
