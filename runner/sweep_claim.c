#include "runner/sweep_claim.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A takeover token older than this belongs to a worker that died while
 * taking over; it no longer blocks the others. */
#define TOKEN_LIFETIME 30.0

double sweep_wall_time(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void sweep_claim_init(sweep_claim *c, const char *run, int attempt) {
  memset(c, 0, sizeof *c);
  snprintf(c->run, sizeof c->run, "%s", run);
  if (gethostname(c->host, sizeof c->host - 1) != 0)
    snprintf(c->host, sizeof c->host, "unknown");
  c->pid = (long)getpid();
  c->started = c->heartbeat = sweep_wall_time();
  c->attempt = attempt;
}

void sweep_claim_path(const char *dir, const char *name, bool stage, const char *ext, char *out,
                      size_t len) {
  snprintf(out, len, "%s/claims/%s%s%s", dir, stage ? "stages/" : "", name, ext);
}

bool sweep_claim_stale(const sweep_claim *c, double timeout) {
  return sweep_wall_time() - c->heartbeat > timeout;
}

static int format_claim(const sweep_claim *c, char *buf, size_t len) {
  return snprintf(buf, len,
                  "dnl-claim 1\nrun %s\nhost %s\npid %ld\nstarted %.3f\nheartbeat %.3f\n"
                  "attempt %d\niteration %ld/%ld\n",
                  c->run, c->host, c->pid, c->started, c->heartbeat, c->attempt, c->iter, c->iters);
}

/* The claim's text in a new file of a name no other process uses. */
static dnl_status write_temp(const char *path, const sweep_claim *c, char *tmp, size_t len) {
  static unsigned serial;
  snprintf(tmp, len, "%s.tmp.%s.%ld.%u", path, c->host, (long)getpid(), serial++);
  char text[1024];
  int n = format_claim(c, text, sizeof text);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "%s: cannot write a claim (%s)", tmp, strerror(errno));
  bool ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
  int err = errno;
  if (close(fd) != 0 || !ok) {
    unlink(tmp);
    return dnl_error(DNL_ERR_IO, "%s: cannot write a claim (%s)", tmp, strerror(err));
  }
  return DNL_OK;
}

dnl_status sweep_claim_create(const char *path, const sweep_claim *c, bool *got) {
  char tmp[1600];
  DNL_TRY(write_temp(path, c, tmp, sizeof tmp));
  *got = link(tmp, path) == 0;
  int err = errno;
  if (!*got && err != EEXIST) {
    /* NFS: a link whose reply was lost reports an error though it was made */
    struct stat st;
    *got = stat(tmp, &st) == 0 && st.st_nlink == 2;
    if (!*got) {
      unlink(tmp);
      return dnl_error(DNL_ERR_IO, "%s: cannot create the claim (%s)", path, strerror(err));
    }
  }
  unlink(tmp);
  return DNL_OK;
}

static bool parse_claim(char *text, sweep_claim *c, char *why, size_t len) {
  memset(c, 0, sizeof *c);
  int seen = 0;
  bool magic = false;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *value = strchr(line, ' ');
    if (!value)
      continue;
    *value++ = '\0';
    char *end = NULL;
    if (!strcmp(line, "dnl-claim")) {
      magic = !strcmp(value, "1");
    } else if (!strcmp(line, "run")) {
      snprintf(c->run, sizeof c->run, "%s", value);
      seen |= 1;
    } else if (!strcmp(line, "host")) {
      snprintf(c->host, sizeof c->host, "%s", value);
      seen |= 2;
    } else if (!strcmp(line, "pid")) {
      c->pid = strtol(value, &end, 10);
      seen |= *end ? 0 : 4;
    } else if (!strcmp(line, "started")) {
      c->started = strtod(value, &end);
      seen |= *end ? 0 : 8;
    } else if (!strcmp(line, "heartbeat")) {
      c->heartbeat = strtod(value, &end);
      seen |= *end ? 0 : 16;
    } else if (!strcmp(line, "attempt")) {
      c->attempt = (int)strtol(value, NULL, 10);
    } else if (!strcmp(line, "iteration")) {
      sscanf(value, "%ld/%ld", &c->iter, &c->iters);
    }
  }
  if (!magic)
    snprintf(why, len, "no 'dnl-claim 1' line");
  else if (seen != 31)
    snprintf(why, len, "run, host, pid, started or heartbeat missing or not a number");
  return magic && seen == 31;
}

dnl_status sweep_claim_read(const char *path, sweep_claim *c, char *text, size_t len,
                            bool *exists) {
  memset(c, 0, sizeof *c);
  text[0] = '\0';
  *exists = false;
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT)
      return DNL_OK;
    return dnl_error(DNL_ERR_IO, "%s: cannot read the claim (%s)", path, strerror(errno));
  }
  size_t n = fread(text, 1, len - 1, f);
  text[n] = '\0';
  fclose(f);
  *exists = true;
  char copy[1024], why[128];
  snprintf(copy, sizeof copy, "%s", text);
  if (!parse_claim(copy, c, why, sizeof why))
    return dnl_error(DNL_ERR_FORMAT, "%s: not a claim file (%s)", path, why);
  return DNL_OK;
}

static bool same_owner(const sweep_claim *a, const sweep_claim *b) {
  /* started went through the file's 3 decimals */
  return a->pid == b->pid && fabs(a->started - b->started) < 2e-3 && !strcmp(a->host, b->host) &&
         !strcmp(a->run, b->run);
}

/* Whether the file at path is still claim c. */
static bool holds(const char *path, const sweep_claim *c) {
  sweep_claim now;
  char text[1024];
  bool exists;
  dnl_status st = sweep_claim_read(path, &now, text, sizeof text, &exists);
  if (st != DNL_OK)
    dnl_clear_error();
  return st == DNL_OK && exists && same_owner(&now, c);
}

dnl_status sweep_claim_refresh(const char *path, sweep_claim *c, bool *held) {
  *held = holds(path, c);
  if (!*held)
    return DNL_OK;
  c->heartbeat = sweep_wall_time();
  char tmp[1600];
  DNL_TRY(write_temp(path, c, tmp, sizeof tmp));
  if (rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    return dnl_error(DNL_ERR_IO, "%s: cannot refresh the claim (%s)", path, strerror(err));
  }
  return DNL_OK;
}

dnl_status sweep_claim_release(const char *path, const sweep_claim *c) {
  if (holds(path, c) && unlink(path) != 0 && errno != ENOENT)
    return dnl_error(DNL_ERR_IO, "%s: cannot remove the claim (%s)", path, strerror(errno));
  return DNL_OK;
}

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

dnl_status sweep_claim_take_over(const char *path, const char *seen_text, const sweep_claim *c,
                                 bool *got) {
  *got = false;
  char token[1600];
  snprintf(token, sizeof token, "%s.takeover-%016llx", path, (unsigned long long)fnv1a(seen_text));
  int fd = open(token, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0 && errno == EEXIST) {
    struct stat st;
    if (stat(token, &st) == 0 && sweep_wall_time() - (double)st.st_mtime > TOKEN_LIFETIME)
      unlink(token); /* the next round tries again */
    return DNL_OK;
  }
  if (fd < 0)
    return dnl_error(DNL_ERR_IO, "%s: cannot create (%s)", token, strerror(errno));
  close(fd);
  /* the claim must still be the stale one that was seen */
  char text[1024] = "";
  FILE *f = fopen(path, "r");
  if (f) {
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
  }
  dnl_status st = DNL_OK;
  if (f && !strcmp(text, seen_text)) {
    if (unlink(path) != 0 && errno != ENOENT)
      st = dnl_error(DNL_ERR_IO, "%s: cannot remove the stale claim (%s)", path, strerror(errno));
    if (st == DNL_OK)
      st = sweep_claim_create(path, c, got);
  }
  unlink(token);
  return st;
}
