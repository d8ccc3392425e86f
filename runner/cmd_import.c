#include "runner/cmd_import.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/checkpoint.h"
#include "lib/weights/weight_import.h"
#include "runner/arch_diff.h"
#include "runner/model_init.h"
#include "runner/published_block.h"
#include "runner/session.h"

#define MAX_SETS 64

static const char usage[] =
    "usage: runner import FILE -o OUT.h5 [--map none|torchcv|torchvision|mmseg|published]\n"
    "                     [--config CONFIG [--set key=value]... [--skip-mismatched]] [--quiet]\n"
    "  converts a PyTorch checkpoint (torch.save, zip or legacy format) or a safetensors\n"
    "  file into this project's checkpoint layout, for the run config's model.init or\n"
    "  for runner eval / predict --checkpoint\n"
    "  --map              how the file's names become this project's: torchcv, torchvision\n"
    "                     and mmseg for ImageNet backbones, published for the authors' full\n"
    "                     models (SPEC 7), none to keep the names as they are; without\n"
    "                     --map the names must be this project's (a hint names the map)\n"
    "  --config           check names and shapes against the network CONFIG builds;\n"
    "                     a shape mismatch is an error unless --skip-mismatched leaves\n"
    "                     those tensors out; with --map published any difference is\n"
    "                     (depth, classes, the block's terms, ...)\n"
    "  docs/pretrained.md describes the formats, the maps and the checks\n";

typedef struct import_args {
  const char *file, *out, *config;
  const char *sets[MAX_SETS];
  int nsets;
  name_map map;
  bool map_given, skip_mismatched, quiet;
} import_args;

static int parse_args(int argc, char **argv, import_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if ((!strcmp(arg, "-o") || !strcmp(arg, "--out")) && has_value) {
      a->out = argv[++i];
    } else if (!strcmp(arg, "--map") && has_value) {
      if (name_map_parse(argv[++i], &a->map) != DNL_OK) {
        fprintf(stderr, "runner import: %s\n", dnl_last_error());
        return 2;
      }
      a->map_given = true;
    } else if (!strcmp(arg, "--config") && has_value) {
      a->config = argv[++i];
    } else if (!strcmp(arg, "--set") && has_value) {
      if (a->nsets == MAX_SETS) {
        fprintf(stderr, "runner import: at most %d --set options\n", MAX_SETS);
        return 2;
      }
      a->sets[a->nsets++] = argv[++i];
    } else if (!strcmp(arg, "--skip-mismatched")) {
      a->skip_mismatched = true;
    } else if (!strcmp(arg, "--quiet")) {
      a->quiet = true;
    } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      printf("%s", usage);
      return 1;
    } else if (arg[0] == '-' || a->file) {
      fprintf(stderr, "runner import: unexpected argument '%s'\n%s", arg, usage);
      return 2;
    } else {
      a->file = arg;
    }
  }
  if (!a->file || !a->out) {
    fprintf(stderr, "runner import: %s\n%s", a->file ? "missing -o OUT.h5" : "missing the FILE",
            usage);
    return 2;
  }
  if ((a->nsets || a->skip_mismatched) && !a->config) {
    fprintf(stderr, "runner import: --set and --skip-mismatched need --config\n%s", usage);
    return 2;
  }
  return 0;
}

static void print_plan(const weight_file *wf, const import_plan *p) {
  printf("%s: %s, %d tensors%s%s%s", wf->path, wf->format, wf->tensors.count,
         wf->container[0] ? " under '" : "", wf->container, wf->container[0] ? "'" : "");
  if (wf->ignored)
    printf(" (%d non-tensor entries ignored)", wf->ignored);
  printf("; %d mapped, %d dropped\n", p->n_kept, p->n_dropped);
  int counters = 0;
  for (int i = 0; i < p->n_dropped; i++) {
    const wtensor *t = p->dropped[i].src;
    const char *tail = strrchr(t->name, '.');
    if (!strcmp(tail ? tail + 1 : t->name, "num_batches_tracked")) {
      counters++; /* one per BN layer: counted, not listed */
      continue;
    }
    char shape[96];
    printf("  dropped     %s %s %s: %s\n", t->name, wtensor_shape_str(t, shape, sizeof shape),
           wdtype_name(t->dtype), p->dropped[i].why);
  }
  if (counters)
    printf("  dropped     %d BN step counters (*.num_batches_tracked)\n", counters);
}

/* --config: compares with the network, drops mismatches when asked. */
static dnl_status check_config(const import_args *a, const weight_file *wf, import_plan *p) {
  session s;
  dnl_status st = session_open_host(&s, a->config, a->sets, a->nsets);
  dataset_info info;
  if (st == DNL_OK)
    st = dataset_info_get(s.cfg.dataset, &info);
  if (st == DNL_OK) {
    s.cfg.net.classes = info.num_classes;
    st = segnet_init(&s.net, &s.ps, &s.cfg.net);
    s.net_ready = st == DNL_OK;
  }
  checkpoint_report rep;
  if (st == DNL_OK)
    st = import_plan_compare(p, &s.ps, &rep);
  if (st != DNL_OK) {
    session_close(&s);
    return dnl_error_context(st, "--config %s", a->config);
  }
  printf("against %s: %d loaded, %d missing, %d unexpected, %d mismatched\n", a->config,
         rep.loaded.count, rep.missing.count, rep.unexpected.count, rep.mismatched.count);
  if (!a->quiet)
    model_init_print_report(stdout, &rep, true);
  /* a full model of the authors' code must be the config's network, block included */
  const bool full_model = a->map == NAME_MAP_PUBLISHED;
  char block_diff[600] = "", note[400] = "";
  if (full_model)
    st = published_block_check(wf, &s.cfg.net.block, block_diff, sizeof block_diff, note,
                               sizeof note);
  if (note[0])
    printf("note: %s\n", note);
  const bool differs = rep.missing.count || rep.unexpected.count || rep.mismatched.count;
  if (st == DNL_OK && full_model && !a->skip_mismatched && (differs || block_diff[0])) {
    char diff[1500] = "";
    if (differs)
      arch_diff_describe(&rep, diff, sizeof diff);
    st = dnl_error(DNL_ERR_SHAPE, "%s does not fit the network of %s: %s%s%s", a->file,
                   a->config, diff, diff[0] && block_diff[0] ? "; " : "", block_diff);
  } else if (st == DNL_OK && rep.mismatched.count && !a->skip_mismatched) {
    const checkpoint_entry *m = &rep.mismatched.items[0];
    st = dnl_error(DNL_ERR_SHAPE,
                   "%s: %d tensors do not fit the network of %s, e.g. %s: file %s, network %s "
                   "(--skip-mismatched leaves them out)",
                   a->file, rep.mismatched.count, a->config, m->name, m->shape, m->store_shape);
  }
  for (int i = 0; st == DNL_OK && i < rep.mismatched.count; i++)
    for (int k = 0; k < p->n_kept; k++)
      if (!strcmp(p->kept[k].name, rep.mismatched.items[i].name)) {
        import_plan_drop(p, k, "shape differs from the network's (--skip-mismatched)");
        break;
      }
  checkpoint_report_free(&rep);
  session_close(&s);
  return st;
}

/* Without --map: the names must be this project's (else a hint or the maps tried). */
static dnl_status detect_map(const weight_file *wf, name_map *map) {
  const char **names = calloc((size_t)wf->tensors.count + 1, sizeof *names);
  if (!names)
    return dnl_error(DNL_ERR_NOMEM, "%s: %d names", wf->path, wf->tensors.count);
  for (int i = 0; i < wf->tensors.count; i++)
    names[i] = wf->tensors.items[i].name;
  dnl_status s = name_map_detect(wf->path, names, wf->tensors.count, map);
  free(names);
  return s;
}

int cmd_import(int argc, char **argv) {
  import_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc)
    return rc == 1 ? 0 : rc;
  weight_file wf;
  import_plan plan = {0};
  dnl_status st = weight_file_open(a.file, &wf);
  if (st == DNL_OK && !a.map_given)
    st = detect_map(&wf, &a.map);
  if (st == DNL_OK)
    st = import_plan_build(&wf, a.map, &plan);
  if (st == DNL_OK && !a.quiet)
    print_plan(&wf, &plan);
  if (st == DNL_OK && a.config)
    st = check_config(&a, &wf, &plan);
  if (st == DNL_OK && plan.n_kept == 0)
    st = dnl_error(DNL_ERR_ARG, "%s: no tensor left to write (see the dropped list; --map?)",
                   a.file);
  if (st == DNL_OK)
    st = import_write(&plan, &wf, a.map, a.out);
  if (st == DNL_OK)
    printf("wrote %s: %d tensors (map %s)\n", a.out, plan.n_kept, name_map_str(a.map));
  import_plan_free(&plan);
  if (wf.path)
    weight_file_close(&wf);
  if (st != DNL_OK) {
    fprintf(stderr, "runner import: %s (nothing written to %s)\n", dnl_last_error(), a.out);
    return 1;
  }
  return 0;
}
