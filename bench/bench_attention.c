/* The context block's forward + backward on the CPU with the fused and the
 * reference attention kernels, next to the same block in PyTorch.
 *
 * Block: dnl (whitening in, scaling on, unary term, gamma 1), C = 512,
 * C' = 256, N = 1, at P = 33x33, 65x65, 97x97. Time: best of REPEATS steps
 * after two warm-up steps, the two kernels' steps alternating so that both
 * meet the same load on a shared machine; wall seconds and the process's CPU
 * seconds (all threads), the latter less disturbed by other processes.
 * Memory, three ways:
 *  - attention: bytes the kernel keeps from forward to backward plus its
 *    largest workspace (counted, exact);
 *  - block: the step's arena peak plus the layer workspace (counted);
 *  - RSS: growth of the peak resident size over the first step, with fresh
 *    buffers (the peak is reset through /proc/self/clear_refs).
 * PyTorch: bench/attention_twin.py through /usr/bin/python3 when torch
 * imports, with as many threads as OpenMP gives us, the block written as the
 * published code does (bmm + softmax over the materialised P x P logits).
 * Targets: fused attention memory at 97x97 at least 10x below the
 * reference's, fused time no worse than the reference at 97x97 and no slower
 * than PyTorch. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocks/block.h"
#include "lib/layers/attention.h"

#define REPEATS 3
#define CHANNELS 512
#define INNER 256
#define TWIN "bench/attention_twin.py"

static const int sizes[] = {33, 65, 97};
#define SIZE_COUNT 3

typedef struct result {
  double seconds, cpu_seconds;
  size_t attention_bytes, block_bytes;
  long rss_growth; /* bytes; -1 when unknown */
} result;

static double clock_seconds(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* VmRSS / VmHWM of this process in bytes, -1 when unreadable. */
static long status_bytes(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  char line[256];
  long kb = -1;
  const size_t len = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, len) == 0 && line[len] == ':') {
      kb = strtol(line + len + 1, NULL, 10);
      break;
    }
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

static bool reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f)
    return false;
  const bool ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}

static void fill_random(float *x, size_t n, rng *r, float scale) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)rng_normal(r) * scale;
}

typedef struct bench_block {
  param_store ps;
  arena act;
  layer_ctx ctx;
  rng r;
  const block_ops *ops;
  block *b;
  tensor x, dy, dx;
} bench_block;

static dnl_status bench_setup(bench_block *k, int size, bool fused) {
  const dnl_backend *be = cpu_backend();
  params_init(&k->ps);
  rng_seed(&k->r, 1);
  DNL_TRY(arena_init(&k->act, be, 0));
  layer_ctx_init(&k->ctx, be, &k->act, &k->r);
  k->ctx.training = true;
  block_config cfg = block_config_defaults();
  cfg.channels = CHANNELS;
  cfg.inner = INNER;
  cfg.fused = fused;
  DNL_TRY(block_lookup(cfg.variant, &k->ops));
  DNL_TRY(k->ops->create(&cfg, &k->ps, "head.block", &k->b));
  DNL_TRY(params_finalize(&k->ps, be));
  DNL_TRY(params_init_values(&k->ps, &k->r));
  fill_random(k->ps.values, k->ps.total, &k->r, 0.05f);
  params_find(&k->ps, "head.block.gamma")->value->data[0] = 1.0f;
  const int shape[4] = {1, CHANNELS, size, size};
  DNL_TRY(tensor_alloc(&k->x, DEVICE_CPU, 4, shape));
  DNL_TRY(tensor_alloc(&k->dy, DEVICE_CPU, 4, shape));
  DNL_TRY(tensor_alloc(&k->dx, DEVICE_CPU, 4, shape));
  fill_random(k->x.data, tensor_numel(&k->x), &k->r, 1.0f);
  fill_random(k->dy.data, tensor_numel(&k->dy), &k->r, 1.0f);
  return DNL_OK;
}

static void bench_free(bench_block *k) {
  if (k->b)
    k->ops->destroy(k->b);
  tensor_free(&k->x), tensor_free(&k->dy), tensor_free(&k->dx);
  layer_ctx_free(&k->ctx);
  arena_free(&k->act);
  params_free(&k->ps);
}

static dnl_status bench_step(bench_block *k) {
  arena_reset(&k->act);
  DNL_TRY(params_zero_grad(&k->ps));
  memset(k->dx.data, 0, tensor_numel(&k->dx) * sizeof(float));
  tensor y;
  DNL_TRY(k->ops->forward(k->b, &k->ctx, &k->x, &y));
  return k->ops->backward(k->b, &k->ctx, &k->x, &k->dy, &k->dx);
}

/* The first step with fresh buffers: RSS growth and counted bytes. */
static dnl_status first_step(bench_block *k, result *res) {
  const bool rss_ok = reset_peak_rss();
  const long before = status_bytes("VmRSS");
  DNL_TRY(bench_step(k));
  res->rss_growth = rss_ok && before >= 0 ? status_bytes("VmHWM") - before : -1;
  res->block_bytes = k->act.peak + k->ctx.ws_size;
  return bench_step(k); /* warm-up in the consolidated arena */
}

static dnl_status timed_step(bench_block *k, result *res) {
  const double w0 = clock_seconds(CLOCK_MONOTONIC);
  const double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  DNL_TRY(bench_step(k));
  const double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
  const double wall = clock_seconds(CLOCK_MONOTONIC) - w0;
  res->seconds = wall < res->seconds ? wall : res->seconds;
  res->cpu_seconds = cpu < res->cpu_seconds ? cpu : res->cpu_seconds;
  return DNL_OK;
}

/* Reference (kernel 0) and fused (kernel 1) at one size. */
static dnl_status measure(int size, result res[2]) {
  bench_block k[2];
  memset(k, 0, sizeof k);
  dnl_status st = DNL_OK;
  for (int f = 0; f < 2 && st == DNL_OK; f++) {
    res[f] = (result){.seconds = 1e30, .cpu_seconds = 1e30};
    st = bench_setup(&k[f], size, f == 1);
    if (st == DNL_OK)
      st = first_step(&k[f], &res[f]);
    const attention_shape s = {.n = 1, .p = size * size, .d = INNER, .dv = CHANNELS};
    res[f].attention_bytes = pairwise_attention_bytes(cpu_backend(), &s, f == 1);
  }
  for (int r = 0; r < REPEATS && st == DNL_OK; r++)
    for (int f = 0; f < 2 && st == DNL_OK; f++)
      st = timed_step(&k[f], &res[f]);
  bench_free(&k[0]), bench_free(&k[1]);
  if (st != DNL_OK)
    return dnl_error_context(st, "bench_attention %dx%d", size, size);
  return DNL_OK;
}

/* Runs the PyTorch twin; false (with the reason printed) when it cannot. */
static bool run_twin(int threads, result twin[SIZE_COUNT]) {
  if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    printf("pytorch: not measured (/usr/bin/python3 cannot import torch)\n");
    return false;
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --threads %d --repeats %d --sizes %d,%d,%d",
           TWIN, threads, REPEATS, sizes[0], sizes[1], sizes[2]);
  FILE *p = popen(cmd, "r");
  if (!p) {
    printf("pytorch: not measured (cannot run %s)\n", TWIN);
    return false;
  }
  char line[256];
  int got = 0;
  while (fgets(line, sizeof line, p)) {
    int size;
    double seconds, cpu;
    long rss;
    if (sscanf(line, "twin size=%d seconds=%lf cpu_seconds=%lf rss_extra_bytes=%ld", &size,
               &seconds, &cpu, &rss) != 4)
      continue;
    for (int i = 0; i < SIZE_COUNT; i++)
      if (sizes[i] == size) {
        twin[i] = (result){.seconds = seconds, .cpu_seconds = cpu, .rss_growth = rss};
        got++;
      }
  }
  const int rc = pclose(p);
  if (rc != 0 || got != SIZE_COUNT) {
    printf("pytorch: not measured (%s exited with %d after %d of %d sizes)\n", TWIN, rc, got,
           SIZE_COUNT);
    return false;
  }
  return true;
}

static double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

static void print_row(int size, const char *kernel, const result *r, bool counted) {
  printf("%3dx%-3d %5d  %-9s %8.3f %8.3f", size, size, size * size, kernel, r->seconds,
         r->cpu_seconds);
  if (counted)
    printf(" %12.1f %10.1f", mib((double)r->attention_bytes), mib((double)r->block_bytes));
  else
    printf(" %12s %10s", "-", "-");
  if (r->rss_growth >= 0)
    printf(" %10.1f\n", mib((double)r->rss_growth));
  else
    printf(" %10s\n", "-");
  fflush(stdout);
}

int main(void) {
  const int threads = omp_get_max_threads();
  printf("bench_attention: dnl block (whiten in, scale, unary) C=%d C'=%d N=1, forward + "
         "backward, CPU, %d threads; seconds: best of %d (wall, process CPU); memory in "
         "MiB\n",
         CHANNELS, INNER, threads, REPEATS);
  printf("%-7s %5s  %-9s %8s %8s %12s %10s %10s\n", "size", "P", "kernel", "wall", "cpu",
         "attention", "block", "RSS growth");
  result ref[SIZE_COUNT], fus[SIZE_COUNT], twin[SIZE_COUNT];
  for (int i = 0; i < SIZE_COUNT; i++) {
    result both[2];
    if (measure(sizes[i], both) != DNL_OK) {
      fprintf(stderr, "bench_attention: %s\n", dnl_last_error());
      return 1;
    }
    ref[i] = both[0], fus[i] = both[1];
    print_row(sizes[i], "reference", &ref[i], true);
    print_row(sizes[i], "fused", &fus[i], true);
  }
  const bool have_twin = run_twin(threads, twin);
  for (int i = 0; have_twin && i < SIZE_COUNT; i++)
    print_row(sizes[i], "pytorch", &twin[i], false);

  const int last = SIZE_COUNT - 1;
  const double mem_ratio = (double)ref[last].attention_bytes / (double)fus[last].attention_bytes;
  printf("targets at %dx%d:\n", sizes[last], sizes[last]);
  printf("  fused attention memory %.1fx below the reference's (target >= 10x): %s\n", mem_ratio,
         mem_ratio >= 10.0 ? "met" : "MISSED");
  printf("  fused / reference time: wall %.2f, cpu %.2f (target <= 1): %s\n",
         fus[last].seconds / ref[last].seconds, fus[last].cpu_seconds / ref[last].cpu_seconds,
         fus[last].seconds <= ref[last].seconds ? "met" : "MISSED");
  if (have_twin)
    for (int i = 0; i < SIZE_COUNT; i++)
      printf("  %dx%d: fused / pytorch time: wall %.2f, cpu %.2f (target <= 1): %s\n",
             sizes[i], sizes[i], fus[i].seconds / twin[i].seconds,
             fus[i].cpu_seconds / twin[i].cpu_seconds,
             fus[i].seconds <= twin[i].seconds ? "met" : "MISSED");
  return 0;
}
