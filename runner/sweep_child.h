/* One run of a sweep as a child process (`runner train RUN.cfg --resume`),
 * its output appended to the run's log and watched for progress. */
#ifndef DNL_SWEEP_CHILD_H
#define DNL_SWEEP_CHILD_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "lib/core/status.h"

typedef struct sweep_child {
  pid_t pid;
  int fd; /* read end of its stdout and stderr */
  FILE *log;
  long job;
  char name[256];
  long iter, iters;
  char line[512]; /* partial line */
  size_t line_len;
  char last[512]; /* last complete line (shown when it fails) */
  double start;
  int gpu; /* its slot among the sweep's GPUs, -1 when not placed */
} sweep_child;

/* Starts argv (argv[0] "/proc/self/exe" for this program, else looked up on
 * PATH) with its output into log_path (appended); gpu: its
 * CUDA_VISIBLE_DEVICES, NULL to leave it as it is. die_with_parent: the child
 * is killed when this process dies (a worker's run must not outlive its
 * claim); without it a Ctrl-C lets the child finish its checkpoint. */
dnl_status sweep_child_start(sweep_child *c, char *const *argv, const char *log_path,
                             const char *gpu, bool die_with_parent);

/* `runner train CFG --resume --set threads=T` for sweep_child_start; the
 * strings live in buf (at least 64 bytes) and the caller's cfg_path. */
void sweep_child_train_argv(const char *cfg_path, int threads, char *buf, size_t len, char **argv);

/* Consumes what the child wrote: into its log, progress from "iter I/N".
 * false at the end of its output. */
bool sweep_child_read(sweep_child *c);

/* Reads the rest of its output, waits for it and closes its files; true when
 * it exited with status 0. */
bool sweep_child_finish(sweep_child *c);

double sweep_now(void);
void sweep_fmt_time(double seconds, char *buf, size_t len);

#endif
