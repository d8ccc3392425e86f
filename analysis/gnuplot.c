#include "analysis/gnuplot.h"

#include <errno.h>
#include <stdbool.h>
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

dnl_status gp_open(gp_script *s) {
  const char *tmp = getenv("TMPDIR");
  snprintf(s->path, sizeof s->path, "%s/dnl_plot_XXXXXX",
           tmp && strlen(tmp) < 40 ? tmp : "/tmp");
  int fd = mkstemp(s->path);
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

dnl_status gp_run(gp_script *s, const char *what) {
  bool write_failed = ferror(s->f) != 0;
  if (fclose(s->f) != 0)
    write_failed = true;
  s->f = NULL;
  if (write_failed) {
    unlink(s->path);
    return dnl_error(DNL_ERR_IO, "%s: cannot write the gnuplot script %s", what, s->path);
  }
  char *argv[] = {"gnuplot", s->path, NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
  int status = 0;
  if (rc == 0 && waitpid(pid, &status, 0) < 0)
    rc = errno;
  unlink(s->path);
  if (rc != 0)
    return dnl_error(DNL_ERR_UNSUPPORTED, "%s: cannot run gnuplot (%s; install gnuplot-nox)",
                     what, strerror(rc));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return dnl_error(DNL_ERR_IO, "%s: gnuplot failed (%s %d)", what,
                     WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  return DNL_OK;
}
