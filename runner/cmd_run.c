#include "runner/cmd_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/checkpoint.h"
#include "runner/evaluate.h"
#include "runner/train.h"

#define MAX_SETS 64

/* Options shared by the commands: CONFIG [--set key=value]... plus per-command flags. */
typedef struct run_args {
  const char *config;
  const char *sets[MAX_SETS];
  int nsets;
  const char *checkpoint;
  int resume, quiet;
} run_args;

static int parse_args(int argc, char **argv, run_args *a, const char *usage) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--set") && i + 1 < argc) {
      if (a->nsets == MAX_SETS) {
        fprintf(stderr, "runner %s: at most %d --set options\n", argv[0], MAX_SETS);
        return 2;
      }
      a->sets[a->nsets++] = argv[++i];
    } else if (!strcmp(arg, "--checkpoint") && i + 1 < argc) {
      a->checkpoint = argv[++i];
    } else if (!strcmp(arg, "--resume")) {
      a->resume = 1;
    } else if (!strcmp(arg, "--quiet")) {
      a->quiet = 1;
    } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      printf("%s", usage);
      return 1;
    } else if (arg[0] == '-' || a->config) {
      fprintf(stderr, "runner %s: unexpected argument '%s'\n%s", argv[0], arg, usage);
      return 2;
    } else {
      a->config = arg;
    }
  }
  if (!a->config) {
    fprintf(stderr, "runner %s: missing the config file\n%s", argv[0], usage);
    return 2;
  }
  return 0;
}

static int fail(const char *cmd, session *s) {
  fprintf(stderr, "runner %s: %s\n", cmd, dnl_last_error());
  session_close(s);
  return 1;
}

int cmd_train(int argc, char **argv) {
  static const char usage[] =
      "usage: runner train CONFIG [--resume] [--quiet] [--set key=value]...\n"
      "  trains and evaluates one run; results/<name>.h5 and its checkpoint\n"
      "  --resume  continue from the run's checkpoint (bit-identical on the CPU)\n";
  run_args a;
  int rc = parse_args(argc, argv, &a, usage);
  if (rc)
    return rc == 1 ? 0 : rc;
  session s;
  if (session_open(&s, a.config, a.sets, a.nsets) != DNL_OK)
    return fail("train", &s);
  train_options opt = {.resume = a.resume, .quiet = a.quiet};
  dnl_status st = train_run(&s, &opt);
  if (st != DNL_OK)
    return fail("train", &s);
  if (!a.quiet)
    fprintf(stderr, "finished: %s\n", s.result_path);
  session_close(&s);
  return 0;
}

int cmd_eval(int argc, char **argv) {
  static const char usage[] =
      "usage: runner eval CONFIG --checkpoint FILE [--set key=value]...\n"
      "  evaluates a checkpoint on the config's validation split (eval.mode single,\n"
      "  multiscale or sliding; e.g. --set eval.mode=multiscale --set eval.flip=true)\n";
  run_args a;
  int rc = parse_args(argc, argv, &a, usage);
  if (rc)
    return rc == 1 ? 0 : rc;
  if (!a.checkpoint) {
    fprintf(stderr, "runner eval: missing --checkpoint FILE\n%s", usage);
    return 2;
  }
  session s;
  if (session_open(&s, a.config, a.sets, a.nsets) != DNL_OK ||
      session_open_data(&s, false, true) != DNL_OK ||
      session_build_net(&s, dataset_num_classes(s.val_ds)) != DNL_OK ||
      checkpoint_load(a.checkpoint, &s.ps, NULL) != DNL_OK)
    return fail("eval", &s);
  infer_opts o;
  eval_result er;
  if (eval_options(&s.cfg, &o) != DNL_OK || evaluate(&s, &o, !a.quiet, &er) != DNL_OK)
    return fail("eval", &s);
  printf("%-24s %8s\n", "class", "IoU %");
  for (int i = 0; i < s.cfg.net.classes; i++)
    printf("%-24s %8.2f\n", dataset_class_name(s.val_ds, i), 100 * er.class_iou[i]);
  printf("mIoU %.2f%%  pixel accuracy %.2f%%  (%ld images, mode %s%s)\n", 100 * er.miou,
         100 * er.pixel_acc, er.images, s.cfg.eval_mode, s.cfg.eval_flip ? " + flip" : "");
  eval_result_free(&er);
  session_close(&s);
  return 0;
}

int cmd_params(int argc, char **argv) {
  static const char usage[] =
      "usage: runner params CONFIG [--set key=value]...\n"
      "  lists every parameter and buffer with its shape and weight decay, and the total\n";
  run_args a;
  int rc = parse_args(argc, argv, &a, usage);
  if (rc)
    return rc == 1 ? 0 : rc;
  session s;
  if (session_open(&s, a.config, a.sets, a.nsets) != DNL_OK)
    return fail("params", &s);
  dataset_info info;
  if (dataset_info_get(s.cfg.dataset, &info) != DNL_OK)
    return fail("params", &s);
  s.cfg.net.classes = info.num_classes;
  if (segnet_init(&s.net, &s.ps, &s.cfg.net) != DNL_OK)
    return fail("params", &s);
  s.net_ready = true;
  for (int i = 0; i < s.ps.count; i++) {
    const param_entry *e = &s.ps.entries[i];
    char shape[64];
    tensor t = {.ndim = e->ndim};
    for (int d = 0; d < e->ndim; d++)
      t.shape[d] = e->shape[d];
    printf("%-48s %-20s %s\n", e->name, tensor_shape_str(&t, shape, sizeof shape),
           e->kind == PARAM_BUFFER ? "buffer" : e->kind == PARAM_NO_DECAY ? "no-decay" : "");
  }
  printf("trainable parameters: %zu (%d tensors incl. buffers)\n",
         params_count_trainable(&s.ps), s.ps.count);
  session_close(&s);
  return 0;
}

int cmd_config(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "--keys")) {
    const cfg_schema *sc = run_config_schema();
    for (size_t i = 0; i < sc->count; i++)
      printf("%-28s %s\n", sc->keys[i].path, sc->keys[i].help);
    return 0;
  }
  static const char usage[] =
      "usage: runner config CONFIG [--set key=value]...   validate and print the resolved config\n"
      "       runner config --keys                        list every key\n";
  run_args a;
  int rc = parse_args(argc, argv, &a, usage);
  if (rc)
    return rc == 1 ? 0 : rc;
  session s;
  if (session_open(&s, a.config, a.sets, a.nsets) != DNL_OK)
    return fail("config", &s);
  char blk[512];
  block_config rb;
  if (block_config_resolve(&s.cfg.net.block, &rb) != DNL_OK)
    return fail("config", &s);
  printf("%s", s.config_text);
  printf("# block resolves to: %s\n", block_config_format(&rb, blk, sizeof blk));
  session_close(&s);
  return 0;
}
