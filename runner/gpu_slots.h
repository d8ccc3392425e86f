/* GPUs for the runs of a sweep (runner sweep --jobs N): runs on the cuda
 * device are spread one per GPU, each child seeing only its GPU through
 * CUDA_VISIBLE_DEVICES (the backend then uses its first device). */
#ifndef DNL_GPU_SLOTS_H
#define DNL_GPU_SLOTS_H

#define GPU_SLOTS_MAX 64

typedef struct gpu_slots {
  int count;
  char id[GPU_SLOTS_MAX][64]; /* the CUDA_VISIBLE_DEVICES value of each GPU */
  int running[GPU_SLOTS_MAX]; /* runs placed on each */
} gpu_slots;

/* The GPUs this process may use: the entries of visible (the value of
 * CUDA_VISIBLE_DEVICES: indices or UUIDs, comma-separated; NULL when unset),
 * else indices 0..n-1 for the n GPUs the NVIDIA driver lists in driver_dir
 * (/proc/driver/nvidia/gpus); none when neither says. */
void gpu_slots_find(gpu_slots *g, const char *visible, const char *driver_dir);

/* The GPU with the fewest runs (the first on ties), counting one more run. */
int gpu_slots_take(gpu_slots *g);
void gpu_slots_release(gpu_slots *g, int slot);

#endif
