#include "runner/sweep_child.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double sweep_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void sweep_fmt_time(double s, char *buf, size_t len) {
  long v = (long)(s + 0.5);
  if (v >= 3600)
    snprintf(buf, len, "%ldh%02ldm", v / 3600, (v / 60) % 60);
  else
    snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
}

void sweep_child_train_argv(const char *cfg_path, int threads, char *buf, size_t len, char **argv) {
  snprintf(buf, len, "threads=%d", threads);
  argv[0] = "/proc/self/exe";
  argv[1] = "train";
  argv[2] = (char *)cfg_path;
  argv[3] = "--resume";
  argv[4] = "--set";
  argv[5] = buf;
  argv[6] = NULL;
}

dnl_status sweep_child_start(sweep_child *c, char *const *argv, const char *log_path,
                             const char *gpu, bool die_with_parent) {
  int fds[2];
  if (pipe(fds) != 0)
    return dnl_error(DNL_ERR_IO, "sweep: pipe: %s", strerror(errno));
  c->log = fopen(log_path, "a");
  if (!c->log) {
    close(fds[0]);
    close(fds[1]);
    return dnl_error(DNL_ERR_IO, "%s: cannot write the log (%s)", log_path, strerror(errno));
  }
  fflush(NULL); /* nothing buffered is written twice by the child */
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    fclose(c->log);
    close(fds[0]);
    close(fds[1]);
    return dnl_error(DNL_ERR_IO, "sweep: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    if (die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent)
        _exit(127);
    }
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    if (gpu)
      setenv("CUDA_VISIBLE_DEVICES", gpu, 1);
    if (!strcmp(argv[0], "/proc/self/exe"))
      execv(argv[0], argv);
    else
      execvp(argv[0], argv);
    fprintf(stderr, "runner sweep: cannot start %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  c->pid = pid;
  c->fd = fds[0];
  c->line_len = 0;
  c->last[0] = '\0';
  c->iter = 0;
  c->start = sweep_now();
  return DNL_OK;
}

bool sweep_child_read(sweep_child *c) {
  char buf[4096];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR)
    return true;
  if (n <= 0)
    return false;
  fwrite(buf, 1, (size_t)n, c->log);
  fflush(c->log);
  for (ssize_t i = 0; i < n; i++) {
    char ch = buf[i];
    if (ch == '\n' || ch == '\r') {
      c->line[c->line_len] = '\0';
      if (c->line_len) {
        memcpy(c->last, c->line, c->line_len + 1);
        const char *p = strstr(c->line, " iter ");
        long it, total;
        if (p && sscanf(p, " iter %ld/%ld", &it, &total) == 2) {
          c->iter = it;
          c->iters = total;
        }
      }
      c->line_len = 0;
    } else if (c->line_len + 1 < sizeof c->line) {
      c->line[c->line_len++] = ch;
    }
  }
  return true;
}

bool sweep_child_finish(sweep_child *c) {
  while (sweep_child_read(c))
    ;
  int status = 0;
  while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
    ;
  close(c->fd);
  fclose(c->log);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
