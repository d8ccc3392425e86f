#include "runner/cmd_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/dist/dist.h"
#include "runner/evaluate.h"
#include "runner/train.h"
#include "runner/weights_load.h"

#define MAX_SETS 64

/* Options shared by the commands: CONFIG [--set key=value]... plus per-command flags. */
typedef struct run_args {
  const char *config;
  const char *sets[MAX_SETS + 1]; /* + the --device override, last so that it wins */
  int nsets;
  const char *checkpoint, *map;
  int resume, quiet;
} run_args;

const char *cmd_device_override(const char *cmd, const char *name) {
  if (!strcmp(name, "cpu"))
    return "device=cpu";
  if (!strcmp(name, "cuda"))
    return "device=cuda";
  fprintf(stderr, "runner %s: --device %s: expected cpu or cuda\n", cmd, name);
  return NULL;
}

/* with_device: the command takes --device */
static int parse_args(int argc, char **argv, run_args *a, const char *usage, bool with_device) {
  memset(a, 0, sizeof *a);
  const char *device = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (with_device && !strcmp(arg, "--device") && i + 1 < argc) {
      if (!(device = cmd_device_override(argv[0], argv[++i])))
        return 2;
    } else if (!strcmp(arg, "--set") && i + 1 < argc) {
      if (a->nsets == MAX_SETS) {
        fprintf(stderr, "runner %s: at most %d --set options\n", argv[0], MAX_SETS);
        return 2;
      }
      a->sets[a->nsets++] = argv[++i];
    } else if (!strcmp(arg, "--checkpoint") && i + 1 < argc) {
      a->checkpoint = argv[++i];
    } else if (!strcmp(arg, "--map") && i + 1 < argc && !strcmp(argv[0], "eval")) {
      a->map = argv[++i];
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
  if (device)
    a->sets[a->nsets++] = device;
  return 0;
}

static int fail(const char *cmd, session *s) {
  fprintf(stderr, "runner %s: %s\n", cmd, dnl_last_error());
  session_close(s);
  return 1;
}

/* The failure of a command run by several ranks (mpirun). One that every rank
 * met alike is reported by rank 0, and the ranks end together once rank 0 has
 * finished its files (the launcher ends the job when a rank exits non-zero). A
 * rank's own failure is reported by that rank and ends the whole job at once:
 * the others may be waiting for it in a collective. */
static int fail_ranks(const char *cmd, session *s, dist *d, bool alike) {
  if (dist_size(d) == 1) {
    int rc = fail(cmd, s);
    dist_close(d);
    return rc;
  }
  if (!alike)
    fprintf(stderr, "runner %s: rank %d of %d: %s\n", cmd, d->rank, d->size, dnl_last_error());
  else if (d->rank == 0)
    fprintf(stderr, "runner %s: %s\n", cmd, dnl_last_error());
  session_close(s);
  if (!alike || dist_barrier(d, "the end of the failed run") != DNL_OK)
    dist_abort(d, 1);
  dist_close(d);
  return 1;
}

/* The communicator of this process (several ranks under mpirun); NULL after
 * printing why it cannot be had. */
static dist *open_ranks(const char *cmd) {
  dist *d;
  if (dist_open(&d) != DNL_OK) {
    fprintf(stderr, "runner %s: %s\n", cmd, dnl_last_error());
    return NULL;
  }
  return d;
}

int cmd_train(int argc, char **argv) {
  static const char usage[] =
      "usage: runner train CONFIG [--resume] [--quiet] [--device cpu|cuda]\n"
      "                    [--set key=value]...\n"
      "  trains and evaluates one run; results/<name>.h5 and its checkpoint\n"
      "  --resume  continue from the run's checkpoint (bit-identical on the CPU)\n"
      "  --device  run on this device instead of the config's device (cuda needs a\n"
      "            build with make CUDA=1 and a GPU; there is no fallback to the CPU)\n"
      "  mpirun -np N runner train ...  trains data-parallel on N ranks\n"
      "  (docs/distributed.md)\n";
  run_args a;
  int rc = parse_args(argc, argv, &a, usage, true);
  if (rc)
    return rc == 1 ? 0 : rc;
  dist *d = open_ranks("train");
  if (!d)
    return 1;
  session s;
  if (session_open(&s, a.config, a.sets, a.nsets) != DNL_OK)
    return fail_ranks("train", &s, d, false);
  s.ctx.dist = d->size > 1 ? d : NULL;
  train_options opt = {.resume = a.resume, .quiet = a.quiet || d->rank > 0};
  dnl_status st = train_run(&s, &opt);
  if (st != DNL_OK)
    return fail_ranks("train", &s, d, s.failed_alike);
  if (!opt.quiet)
    fprintf(stderr, "finished: %s\n", s.result_path);
  session_close(&s);
  dist_close(d);
  return 0;
}

int cmd_eval(int argc, char **argv) {
  static const char usage[] =
      "usage: runner eval CONFIG --checkpoint FILE [--map MAP] [--device cpu|cuda]\n"
      "                   [--set key=value]...\n"
      "  evaluates weights on the config's validation split (eval.mode single,\n"
      "  multiscale or sliding; e.g. --set eval.mode=multiscale --set eval.flip=true)\n"
      "  --checkpoint  a training checkpoint, a file of runner import, or a PyTorch /\n"
      "                safetensors file (the authors' models: --map published); every\n"
      "                name and shape must be the config's network\n"
      "  --map         how a PyTorch / safetensors file's names become this project's\n"
      "                (none, torchcv, torchvision, mmseg, published)\n"
      "  --device      run on this device instead of the config's device (no CPU fallback)\n";
  run_args a;
  int rc = parse_args(argc, argv, &a, usage, true);
  if (rc)
    return rc == 1 ? 0 : rc;
  if (!a.checkpoint) {
    fprintf(stderr, "runner eval: missing --checkpoint FILE\n%s", usage);
    return 2;
  }
  dist *d = open_ranks("eval");
  if (!d)
    return 1;
  weights_source ws = {.path = a.checkpoint, .config = a.config};
  if (a.map && weights_source_set_map(&ws, a.map) != DNL_OK) {
    fprintf(stderr, "runner eval: %s\n", dnl_last_error());
    return 2;
  }
  session s;
  if (session_open(&s, a.config, a.sets, a.nsets) != DNL_OK ||
      session_open_data(&s, false, true) != DNL_OK ||
      session_build_net_for_eval(&s, dataset_num_classes(s.val_ds)) != DNL_OK ||
      (ws.block = &s.cfg.net.block) == NULL || weights_load(&s.ps, &ws) != DNL_OK)
    return fail_ranks("eval", &s, d, false);
  if (ws.note[0] && d->rank == 0)
    fprintf(stderr, "note: %s\n", ws.note);
  /* under mpirun the ranks share the images; rank 0 prints */
  s.ctx.dist = d->size > 1 ? d : NULL;
  const bool lead = d->rank == 0;
  infer_opts o;
  eval_result er;
  const bool progress = !a.quiet && lead && isatty(STDERR_FILENO);
  if (eval_options(&s.cfg, &o) != DNL_OK || evaluate(&s, &o, progress, &er) != DNL_OK)
    return fail_ranks("eval", &s, d, false);
  if (!lead) {
    eval_result_free(&er);
    session_close(&s);
    dist_close(d);
    return 0;
  }
  printf("%-24s %8s\n", "class", "IoU %");
  for (int i = 0; i < s.cfg.net.classes; i++)
    printf("%-24s %8.2f\n", dataset_class_name(s.val_ds, i), 100 * er.class_iou[i]);
  printf("mIoU %.2f%%  pixel accuracy %.2f%%  (%ld images, mode %s%s)\n", 100 * er.miou,
         100 * er.pixel_acc, er.images, s.cfg.eval_mode, s.cfg.eval_flip ? " + flip" : "");
  eval_result_free(&er);
  session_close(&s);
  dist_close(d);
  return 0;
}

/* The arguments and a CPU session (session_open_host) of a command that only
 * inspects a config: -1 when the session is open, else the exit status. */
static int open_to_inspect(int argc, char **argv, const char *usage, const char *cmd, session *s) {
  run_args a;
  const int rc = parse_args(argc, argv, &a, usage, false);
  if (rc)
    return rc == 1 ? 0 : rc;
  if (session_open_host(s, a.config, a.sets, a.nsets) != DNL_OK)
    return fail(cmd, s);
  return -1;
}

int cmd_params(int argc, char **argv) {
  static const char usage[] =
      "usage: runner params CONFIG [--set key=value]...\n"
      "  lists every parameter and buffer with its shape and weight decay, and the total\n";
  session s;
  const int rc = open_to_inspect(argc, argv, usage, "params", &s);
  if (rc >= 0)
    return rc;
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
           e->kind == PARAM_BUFFER     ? "buffer"
           : e->kind == PARAM_NO_DECAY ? "no-decay"
                                       : "");
  }
  printf("trainable parameters: %zu (%d tensors incl. buffers)\n", params_count_trainable(&s.ps),
         s.ps.count);
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
  session s;
  const int rc = open_to_inspect(argc, argv, usage, "config", &s);
  if (rc >= 0)
    return rc;
  char blk[512];
  block_config rb;
  if (block_config_resolve(&s.cfg.net.block, &rb) != DNL_OK)
    return fail("config", &s);
  printf("%s", s.config_text);
  printf("# block resolves to: %s\n", block_config_format(&rb, blk, sizeof blk));
  session_close(&s);
  return 0;
}
