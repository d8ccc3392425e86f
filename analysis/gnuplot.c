#include "analysis/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const group_colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                           "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                           "#bcbd22", "#17becf"};
#define GROUP_COLORS 10

const char *gp_group_color(int i) { return group_colors[i % GROUP_COLORS]; }

long gp_group_color_int(int i) { return strtol(gp_group_color(i) + 1, NULL, 16); }

/* A new file TMPDIR/dnl_<what>_XXXXXX (path holds 64 bytes); its descriptor or -1. */
static int make_temp(const char *what, char path[64]) {
  const char *tmp = getenv("TMPDIR");
  snprintf(path, 64, "%s/dnl_%s_XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp", what);
  return mkstemp(path);
}

dnl_status gp_write_rgb(const uint8_t *rgb, int w, int h, char path[64]) {
  int fd = make_temp("image", path);
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "cannot create an image file for gnuplot %s: %s", path,
                     strerror(errno));
  FILE *f = fdopen(fd, "wb");
  size_t n = (size_t)w * (size_t)h * 3;
  bool ok = f && fwrite(rgb, 1, n, f) == n;
  if (f ? fclose(f) != 0 : close(fd) != 0)
    ok = false;
  if (!ok) {
    unlink(path);
    return dnl_error(DNL_ERR_IO, "cannot write the image file for gnuplot %s", path);
  }
  return DNL_OK;
}

dnl_status gp_open(gp_script *s) {
  int fd = make_temp("plot", s->path);
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "cannot create a gnuplot script %s: %s", s->path,
                     strerror(errno));
  s->f = fdopen(fd, "w");
  if (!s->f) {
    close(fd);
    unlink(s->path);
    return dnl_error(DNL_ERR_IO, "%s: %s", s->path, strerror(errno));
  }
  fprintf(s->f, "set encoding utf8\n");
  return DNL_OK;
}

void gp_quote(FILE *f, const char *text) {
  fputc('\'', f);
  for (; *text; text++) {
    if (*text == '\'')
      fputc('\'', f);
    if (*text != '\n')
      fputc(*text, f);
  }
  fputc('\'', f);
}

void gp_output_both(gp_script *s, const char *base, int w, int h, const char *plot_cmd) {
  char file[4096];
  fprintf(s->f, "set terminal pngcairo noenhanced size %d,%d font 'sans,11'\nset output ", w, h);
  snprintf(file, sizeof file, "%s.png", base);
  gp_quote(s->f, file);
  fprintf(s->f, "\n%s\nset terminal svg noenhanced size %d,%d font 'sans,11' background "
                "'white'\nset output ", plot_cmd, w, h);
  snprintf(file, sizeof file, "%s.svg", base);
  gp_quote(s->f, file);
  fprintf(s->f, "\n%s\nunset output\n", plot_cmd);
}

void gp_discard(gp_script *s) {
  if (s->f)
    fclose(s->f);
  s->f = NULL;
  unlink(s->path);
}

/* Prints what gnuplot wrote to stderr (kept in path), each line prefixed with the figure;
 * *first gets the first line (for an error message). */
static void relay_messages(const char *path, const char *what, char *first, size_t len) {
  first[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (!line[0])
      continue;
    if (!first[0] && len > 0) {
      size_t n = strnlen(line, len - 1);
      memcpy(first, line, n);
      first[n] = '\0';
    }
    fprintf(stderr, "analysis: gnuplot (%s): %s\n", what, line);
  }
  fclose(f);
}

dnl_status gp_run(gp_script *s, const char *what) {
  bool write_failed = ferror(s->f) != 0;
  if (fclose(s->f) != 0)
    write_failed = true;
  s->f = NULL;
  if (write_failed) {
    unlink(s->path);
    return dnl_error(DNL_ERR_IO, "%s: cannot write the gnuplot script %s", what, s->path);
  }
  /* gnuplot's messages go to a file first, so that they reach the terminal named */
  char messages[sizeof s->path + 8];
  snprintf(messages, sizeof messages, "%s.err", s->path);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, messages, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  char *argv[] = {"gnuplot", s->path, NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, "gnuplot", &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (rc == 0 && waitpid(pid, &status, 0) < 0)
    rc = errno;
  unlink(s->path);
  char first[256];
  relay_messages(messages, what, first, sizeof first);
  unlink(messages);
  if (rc != 0)
    return dnl_error(DNL_ERR_UNSUPPORTED, "%s: cannot run gnuplot (%s; install gnuplot-nox)",
                     what, strerror(rc));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return dnl_error(DNL_ERR_IO, "%s: gnuplot failed (%s %d)%s%s", what,
                     WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                     first[0] ? ": " : "", first);
  return DNL_OK;
}
