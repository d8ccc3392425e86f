#include "runner/attention_stats.h"

#include <stdbool.h>
#include <stdlib.h>

#define IGNORE 255

void labels_downsample(const uint8_t *label, int H, int W, uint8_t *out, int h, int w) {
  for (int y = 0; y < h; y++) {
    int sy = (int)(((long)y * H + H / 2) / h);
    if (sy >= H)
      sy = H - 1;
    for (int x = 0; x < w; x++) {
      int sx = (int)(((long)x * W + W / 2) / w);
      if (sx >= W)
        sx = W - 1;
      out[y * w + x] = label[(size_t)sy * W + sx];
    }
  }
}

static bool on_boundary(const uint8_t *label, int h, int w, int y, int x) {
  const uint8_t l = label[y * w + x];
  const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
  for (int k = 0; k < 4; k++) {
    int ny = y + dy[k], nx = x + dx[k];
    if (ny < 0 || ny >= h || nx < 0 || nx >= w)
      continue;
    uint8_t m = label[ny * w + nx];
    if (m != IGNORE && m != l)
      return true;
  }
  return false;
}

void unary_boundary_mass(const float *map, const uint8_t *label, int h, int w, double *mass,
                         double *share) {
  double total = 0, on = 0;
  long valid = 0, boundary = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      if (label[y * w + x] == IGNORE)
        continue;
      valid++;
      total += map[y * w + x];
      if (on_boundary(label, h, w, y, x)) {
        boundary++;
        on += map[y * w + x];
      }
    }
  *mass = total > 0 ? on / total : 0.0;
  *share = valid ? (double)boundary / (double)valid : 0.0;
}

dnl_status pairwise_region_mass(const float *map, const uint8_t *label, int h, int w, int query,
                                double *mass, double *share) {
  *mass = *share = 0.0;
  if (query < 0 || query >= h * w)
    return dnl_error(DNL_ERR_ARG, "attention stats: query %d outside the %dx%d map", query, h, w);
  const uint8_t l = label[query];
  if (l == IGNORE)
    return DNL_OK;
  int *stack = malloc((size_t)h * w * sizeof *stack);
  uint8_t *seen = calloc((size_t)h * w, 1);
  if (!stack || !seen) {
    free(stack);
    free(seen);
    return dnl_error(DNL_ERR_NOMEM, "attention stats: %dx%d flood fill", h, w);
  }
  int top = 0;
  stack[top++] = query;
  seen[query] = 1;
  double in = 0, total = 0;
  long region = 0;
  while (top) {
    int p = stack[--top];
    region++;
    in += map[p];
    int y = p / w, x = p % w;
    const int ny[4] = {y - 1, y + 1, y, y}, nx[4] = {x, x, x - 1, x + 1};
    for (int k = 0; k < 4; k++) {
      if (ny[k] < 0 || ny[k] >= h || nx[k] < 0 || nx[k] >= w)
        continue;
      int q = ny[k] * w + nx[k];
      if (!seen[q] && label[q] == l) {
        seen[q] = 1;
        stack[top++] = q;
      }
    }
  }
  long valid = 0;
  for (int i = 0; i < h * w; i++)
    if (label[i] != IGNORE) {
      valid++;
      total += map[i];
    }
  *mass = total > 0 ? in / total : 0.0;
  *share = valid ? (double)region / (double)valid : 0.0;
  free(stack);
  free(seen);
  return DNL_OK;
}

void unary_cue_mass(const float *map, const uint8_t *label, int h, int w, double *mass,
                    double *share) {
  double total = 0, on = 0;
  long n = 0;
  for (int i = 0; i < h * w; i++) {
    total += map[i];
    if (label[i] == IGNORE) {
      on += map[i];
      n++;
    }
  }
  *mass = total > 0 ? on / total : 0;
  *share = h * w > 0 ? (double)n / (h * w) : 0;
}
