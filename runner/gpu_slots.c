#include "runner/gpu_slots.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

void gpu_slots_find(gpu_slots *g, const char *visible, const char *driver_dir) {
  memset(g, 0, sizeof *g);
  if (visible) {
    /* as the CUDA runtime reads it: entries up to the first empty one */
    const char *p = visible;
    while (*p && g->count < GPU_SLOTS_MAX) {
      while (*p == ' ')
        p++;
      size_t n = strcspn(p, ", ");
      if (n == 0 || n >= sizeof g->id[0])
        break;
      snprintf(g->id[g->count++], sizeof g->id[0], "%.*s", (int)n, p);
      p += n;
      while (*p == ' ')
        p++;
      if (*p != ',')
        break;
      p++;
    }
    return;
  }
  DIR *d = opendir(driver_dir);
  if (!d)
    return;
  for (struct dirent *e; (e = readdir(d)) && g->count < GPU_SLOTS_MAX;)
    if (e->d_name[0] != '.') {
      snprintf(g->id[g->count], sizeof g->id[0], "%d", g->count);
      g->count++;
    }
  closedir(d);
}

int gpu_slots_take(gpu_slots *g) {
  int best = 0;
  for (int i = 1; i < g->count; i++)
    if (g->running[i] < g->running[best])
      best = i;
  g->running[best]++;
  return best;
}

void gpu_slots_release(gpu_slots *g, int slot) {
  if (slot >= 0 && slot < g->count && g->running[slot] > 0)
    g->running[slot]--;
}
