#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/store/checkpoint.h"
#include "lib/store/h5attr.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

/* A small network-like store: parameter i has the given name and shape. */
#define NET_MAX 8
typedef struct net_spec {
  const char *name;
  int ndim, shape[4];
  param_kind kind;
} net_spec;

typedef struct toy_net {
  param_store ps;
  tensor value[NET_MAX], grad[NET_MAX];
} toy_net;

static const net_spec base_spec[] = {
    {"backbone.prefix.conv1.weight", 4, {8, 3, 3, 3}, PARAM_TRAINABLE},
    {"backbone.prefix.bn1.weight", 1, {8}, PARAM_TRAINABLE},
    {"backbone.prefix.bn1.running_mean", 1, {8}, PARAM_BUFFER},
    {"head.block.query.weight", 4, {4, 8, 1, 1}, PARAM_NO_DECAY},
    {"head.block.gamma", 1, {1}, PARAM_TRAINABLE},
};
#define BASE_COUNT 5

static void net_build(toy_net *n, const net_spec *spec, int count, float scale, uint64_t seed) {
  params_init(&n->ps);
  for (int i = 0; i < count; i++)
    TRY_OK(params_add(&n->ps, spec[i].name, spec[i].ndim, spec[i].shape, spec[i].kind,
                      (param_init){PARAM_INIT_CONST, 0, 0}, &n->value[i], &n->grad[i]));
  TRY_OK(params_finalize(&n->ps, cpu_backend()));
  rng r;
  rng_seed(&r, seed);
  for (int i = 0; i < n->ps.count; i++) {
    const param_entry *e = &n->ps.entries[i];
    test_fill_randn(&r, n->ps.values + e->offset, e->numel, scale);
    if (e->kind != PARAM_BUFFER)
      test_fill_randn(&r, n->ps.momentum + e->offset, e->numel, scale);
  }
}

static checkpoint_meta some_meta(void) {
  checkpoint_meta m = {0};
  m.iteration = 1234;
  rng_seed(&m.rng_state, 99);
  rng_u64(&m.rng_state);
  m.loader_epoch = 3;
  m.loader_index = 517;
  m.config = "seed = 7;\nsolver = { lr = 0.01; };\n";
  return m;
}

Test(checkpoint, round_trip_is_bit_exact) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "ckpt");
  tmpdir_path(path, sizeof path, dir, "run.ckpt.h5");
  toy_net a, b;
  net_build(&a, base_spec, BASE_COUNT, 1.0f, 1);
  /* values whose bits a lossy path would change */
  a.ps.values[0] = -0.0f;
  a.ps.values[1] = 1e-41f; /* subnormal */
  a.ps.values[2] = INFINITY;
  a.ps.values[3] = nextafterf(1.0f, 2.0f);
  a.ps.momentum[5] = -1e-39f;
  checkpoint_meta m = some_meta();
  TRY_OK(checkpoint_save(path, &a.ps, &m));
  cr_assert(!file_exists("run.ckpt.h5.tmp"));

  net_build(&b, base_spec, BASE_COUNT, 5.0f, 2);
  checkpoint_meta got;
  TRY_OK(checkpoint_load(path, &b.ps, &got));
  cr_assert(memcmp(a.ps.values, b.ps.values, a.ps.total * sizeof(float)) == 0,
            "values differ after the round trip");
  cr_assert(memcmp(a.ps.momentum, b.ps.momentum, a.ps.total * sizeof(float)) == 0,
            "momentum differs after the round trip");
  cr_assert_eq(got.iteration, 1234);
  cr_assert_eq(got.loader_epoch, 3);
  cr_assert_eq(got.loader_index, 517);
  cr_assert(memcmp(got.rng_state.s, m.rng_state.s, sizeof m.rng_state.s) == 0);
  cr_assert_str_eq(got.config, m.config);
  checkpoint_meta_free(&got);

  checkpoint_meta only;
  TRY_OK(checkpoint_read_meta(path, &only));
  cr_assert_eq(only.iteration, 1234);
  checkpoint_meta_free(&only);
  params_free(&a.ps);
  params_free(&b.ps);
  tmpdir_remove(dir);
}

Test(checkpoint, buffers_have_no_momentum_and_pytorch_shapes) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "ckpt");
  tmpdir_path(path, sizeof path, dir, "c.h5");
  toy_net a;
  net_build(&a, base_spec, BASE_COUNT, 1.0f, 1);
  checkpoint_meta m = some_meta();
  TRY_OK(checkpoint_save(path, &a.ps, &m));
  h5io_array w;
  TRY_OK(h5io_read_float(path, "/params/backbone.prefix.conv1.weight", &w));
  cr_assert_eq(w.ndim, 4);
  cr_assert(w.shape[0] == 8 && w.shape[1] == 3 && w.shape[2] == 3 && w.shape[3] == 3);
  cr_assert(memcmp(w.data, a.ps.values, w.numel * sizeof(float)) == 0);
  h5io_array_free(&w);
  TRY_OK(h5io_read_float(path, "/params/backbone.prefix.bn1.running_mean", &w));
  h5io_array_free(&w);
  cr_assert_neq(h5io_read_float(path, "/momentum/backbone.prefix.bn1.running_mean", &w), DNL_OK);
  params_free(&a.ps);
  tmpdir_remove(dir);
}

Test(checkpoint, another_architecture_lists_differences_and_changes_nothing) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "ckpt");
  tmpdir_path(path, sizeof path, dir, "c.h5");
  toy_net a, b;
  net_build(&a, base_spec, BASE_COUNT, 1.0f, 1);
  checkpoint_meta m = some_meta();
  TRY_OK(checkpoint_save(path, &a.ps, &m));

  const net_spec other[] = {
      {"backbone.prefix.conv1.weight", 4, {16, 3, 3, 3}, PARAM_TRAINABLE}, /* shape differs */
      {"backbone.prefix.bn1.weight", 1, {8}, PARAM_TRAINABLE},
      {"backbone.prefix.bn1.running_mean", 1, {8}, PARAM_BUFFER},
      {"head.block.mask.weight", 4, {1, 8, 1, 1}, PARAM_TRAINABLE}, /* missing in the file */
  };
  net_build(&b, other, 4, 1.0f, 5);
  float *before = malloc(b.ps.total * sizeof(float));
  memcpy(before, b.ps.values, b.ps.total * sizeof(float));
  cr_assert_eq(checkpoint_load(path, &b.ps, NULL), DNL_ERR_SHAPE);
  const char *msg = dnl_last_error();
  cr_assert(strstr(msg, path), "%s", msg);
  cr_assert(strstr(msg, "checkpoint of another architecture"), "%s", msg);
  cr_assert(strstr(msg, "missing 1 (head.block.mask.weight [1, 8, 1, 1])"), "%s", msg);
  cr_assert(strstr(msg, "unexpected 2 (head.block.gamma [1], head.block.query.weight "
                        "[4, 8, 1, 1])"),
            "%s", msg);
  cr_assert(strstr(msg, "shape mismatch 1 (backbone.prefix.conv1.weight: checkpoint "
                        "[8, 3, 3, 3], network [16, 3, 3, 3])"),
            "%s", msg);
  cr_assert(memcmp(before, b.ps.values, b.ps.total * sizeof(float)) == 0);

  /* partial mode loads what matches and reports the rest */
  checkpoint_report rep;
  TRY_OK(checkpoint_load_partial(path, &b.ps, &rep));
  cr_assert_eq(rep.loaded.count, 2);
  cr_assert_eq(rep.missing.count, 1);
  cr_assert_eq(rep.unexpected.count, 2);
  cr_assert_eq(rep.mismatched.count, 1);
  cr_assert_str_eq(rep.mismatched.items[0].name, "backbone.prefix.conv1.weight");
  const param_entry *bn = params_find(&b.ps, "backbone.prefix.bn1.weight");
  const param_entry *bna = params_find(&a.ps, "backbone.prefix.bn1.weight");
  cr_assert(memcmp(b.ps.values + bn->offset, a.ps.values + bna->offset, 8 * sizeof(float)) == 0);
  const param_entry *conv = params_find(&b.ps, "backbone.prefix.conv1.weight");
  cr_assert(memcmp(b.ps.values + conv->offset, before + conv->offset,
                   conv->numel * sizeof(float)) == 0,
            "a mismatched entry must keep its values");
  char summary[512];
  checkpoint_report_summary(&rep, 1, summary, sizeof summary);
  cr_assert(strstr(summary, "unexpected 2 (head.block.gamma [1], ...)"), "%s", summary);
  checkpoint_report_free(&rep);
  free(before);
  params_free(&a.ps);
  params_free(&b.ps);
  tmpdir_remove(dir);
}

Test(checkpoint, full_disk_keeps_previous_checkpoint) {
  char dir[64], path[128], tmp[160];
  tmpdir_make(dir, sizeof dir, "ckpt");
  tmpdir_path(path, sizeof path, dir, "c.h5");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  toy_net a, big, check;
  net_build(&a, base_spec, BASE_COUNT, 1.0f, 1);
  checkpoint_meta m = some_meta();
  TRY_OK(checkpoint_save(path, &a.ps, &m));

  const net_spec big_spec[] = {{"w", 2, {256, 1024}, PARAM_TRAINABLE}};
  net_build(&big, big_spec, 1, 1.0f, 3);
  /* a file size limit makes writes fail as on a full disk; a child process
   * takes the limit so that the test runner's own files are not affected */
  int pipefd[2];
  cr_assert_eq(pipe(pipefd), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    struct rlimit lim = {64 * 1024, 64 * 1024};
    signal(SIGXFSZ, SIG_IGN);
    dnl_status s = setrlimit(RLIMIT_FSIZE, &lim) == 0 ? checkpoint_save(path, &big.ps, &m)
                                                      : DNL_ERR_INTERNAL;
    char msg[1024];
    snprintf(msg, sizeof msg, "%d %s", (int)s, dnl_last_error());
    ssize_t w = write(pipefd[1], msg, strlen(msg) + 1);
    _exit(w > 0 ? 0 : 1);
  }
  close(pipefd[1]);
  char msg[1024] = "";
  ssize_t got = read(pipefd[0], msg, sizeof msg - 1);
  close(pipefd[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  cr_assert(got > 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "child failed");
  cr_assert(atoi(msg) == DNL_ERR_IO, "save over the size limit: %s", msg);
  cr_assert(strstr(msg, path), "%s", msg);
  cr_assert(!file_exists(tmp), "temporary file left behind");

  net_build(&check, base_spec, BASE_COUNT, 1.0f, 9);
  TRY_OK(checkpoint_load(path, &check.ps, NULL));
  cr_assert(memcmp(a.ps.values, check.ps.values, a.ps.total * sizeof(float)) == 0);
  params_free(&a.ps);
  params_free(&big.ps);
  params_free(&check.ps);
  tmpdir_remove(dir);
}

Test(checkpoint, vanished_directory_fails_cleanly) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "ckpt");
  tmpdir_path(path, sizeof path, dir, "c.h5");
  tmpdir_remove(dir);
  toy_net a;
  net_build(&a, base_spec, BASE_COUNT, 1.0f, 1);
  checkpoint_meta m = some_meta();
  cr_assert_eq(checkpoint_save(path, &a.ps, &m), DNL_ERR_IO);
  cr_assert(strstr(dnl_last_error(), path), "%s", dnl_last_error());
  cr_assert(strstr(dnl_last_error(), "previous checkpoint is unchanged"), "%s", dnl_last_error());
  params_free(&a.ps);
}

Test(checkpoint, rejects_files_that_are_not_checkpoints) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "ckpt");
  tmpdir_path(path, sizeof path, dir, "junk.h5");
  file_write_text(path, "this is not HDF5 at all, just text\n");
  toy_net a;
  net_build(&a, base_spec, BASE_COUNT, 1.0f, 1);
  cr_assert_eq(checkpoint_load(path, &a.ps, NULL), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "not an HDF5 file"), "%s", dnl_last_error());
  tmpdir_path(path, sizeof path, dir, "other_program.h5");
  file_write_foreign_hdf5(path);
  cr_assert_eq(checkpoint_load(path, &a.ps, NULL), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "not a dnl checkpoint"), "%s", dnl_last_error());
  tmpdir_path(path, sizeof path, dir, "absent.h5");
  cr_assert_eq(checkpoint_load(path, &a.ps, NULL), DNL_ERR_IO);
  cr_assert(strstr(dnl_last_error(), "No such file"), "%s", dnl_last_error());
  params_free(&a.ps);
  tmpdir_remove(dir);
}

/* Sets the root attributes format and format_version of an HDF5 file. */
static void set_format(const char *path, const char *format, int64_t version) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert(f >= 0, "%s", path);
  TRY_OK(h5attr_write_str(f, "format", format));
  TRY_OK(h5attr_write_i64(f, "format_version", version));
  H5Fclose(f);
}

/* Files written before the head's concatenation order changed (format_version
 * 1) would load head.bottleneck.weight onto swapped input channels: resume,
 * eval and model.init refuse them, naming the file, the version and why. An
 * import without the head is unaffected. */
Test(checkpoint, refuses_files_of_the_old_head_order) {
  char dir[64], path[128];
  tmpdir_make(dir, sizeof dir, "ckpt");
  tmpdir_path(path, sizeof path, dir, "old.ckpt");
  const net_spec head[] = {{"head.bottleneck.weight", 4, {4, 12, 3, 3}, PARAM_TRAINABLE}};
  toy_net a;
  net_build(&a, head, 1, 1.0f, 1);
  checkpoint_meta m = some_meta();
  TRY_OK(checkpoint_save(path, &a.ps, &m));
  set_format(path, "dnl-checkpoint", 1);
  cr_assert_eq(checkpoint_load(path, &a.ps, NULL), DNL_ERR_FORMAT);
  const char *e = dnl_last_error();
  cr_assert(strstr(e, path) && strstr(e, "dnl-checkpoint format_version 1") &&
                strstr(e, "[layer4, block branch]") && strstr(e, "retrain"),
            "%s", e);
  checkpoint_report rep;
  cr_assert_eq(checkpoint_load_partial(path, &a.ps, &rep), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "format_version 1"), "%s", dnl_last_error());

  set_format(path, "dnl-import", 1);
  cr_assert_eq(checkpoint_load_partial(path, &a.ps, &rep), DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "runner import"), "%s", dnl_last_error());
  set_format(path, "dnl-import", 2);
  TRY_OK(checkpoint_load_partial(path, &a.ps, &rep));
  checkpoint_report_free(&rep);
  params_free(&a.ps);

  toy_net b;
  net_build(&b, base_spec, BASE_COUNT, 1.0f, 2);
  TRY_OK(checkpoint_save(path, &b.ps, &m));
  set_format(path, "dnl-import", 1);
  TRY_OK(checkpoint_load_partial(path, &b.ps, &rep));
  cr_assert_eq(rep.loaded.count, BASE_COUNT);
  checkpoint_report_free(&rep);
  params_free(&b.ps);
  tmpdir_remove(dir);
}
