/* A miniature sweep end to end through the programs ($DNL_BIN/runner and
 * $DNL_BIN/analysis): 2 variants x 2 seeds of a few iterations on a small
 * synthetic dataset; the result files, skip and resume, the plots, the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/synth.h"
#include "lib/store/results_read.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static const char base_cfg[] =
    "seed = 1;\n"
    "threads = 1;\n"
    "model = { depth = 18; layers = [1, 1, 1, 1]; planes = [8, 8, 16, 16]; width = 0.125;\n"
    "          head_width = 16; };\n"
    "block = { variant = \"dnl\"; };\n"
    "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 2; crop = 96; workers = 1;\n"
    "         random_resize = false; brightness = 0;\n"
    "         synth = { train = 8; val = 3; size = 96; }; };\n"
    "solver = { iterations = 4; lr = 0.01; };\n"
    "loss = { ohem = false; };\n"
    "output = { log_every = 2; checkpoint_every = 2; attention_images = 2; };\n";

static const char sweep_cfg[] = "sweep = {\n"
                                "  name = \"mini\";\n"
                                "  base = \"base.cfg\";\n"
                                "  matrix = (\n"
                                "    { key = \"block.variant\"; values = [\"none\", \"dnl\"]; },\n"
                                "    { key = \"seed\"; values = [1, 2]; }\n"
                                "  );\n"
                                "};\n";

static const char *const runs[] = {"none-seed1", "none-seed2", "dnl-seed1", "dnl-seed2"};

static void setup(char *dir, size_t len) {
  tmpdir_make(dir, len, "sweep");
  char path[512], text[2048];
  snprintf(text, sizeof text, base_cfg, dir);
  file_write_text(tmpdir_path(path, sizeof path, dir, "base.cfg"), text);
  file_write_text(tmpdir_path(path, sizeof path, dir, "mini.cfg"), sweep_cfg);
}

Test(sweep, miniature_sweep_end_to_end, .timeout = 300) {
  char dir[256], cmd[1024], path[512];
  setup(dir, sizeof dir);
  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --out %s/results --jobs 2 --quiet", dir, dir);
  char *out, *err;
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "sweep failed: %s", err);

  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/results/mini/%s.h5", dir, runs[i]);
    results_data d;
    TRY_OK(results_read(path, &d));
    cr_assert(d.finished, "%s: status %s", runs[i], d.status);
    cr_assert_str_eq(d.sweep, "mini");
    cr_assert_str_eq(d.variant, i < 2 ? "none" : "dnl");
    cr_assert_eq(d.seed, i % 2 + 1);
    cr_assert_eq(d.train.n, 2, "%s: %zu training rows", runs[i], d.train.n);
    cr_assert_eq(d.train.iter[1], 4);
    cr_assert_eq(d.eval.n, 1);
    cr_assert(d.eval.miou[0] >= 0.0 && d.eval.miou[0] <= 1.0);
    cr_assert_eq(d.num_classes, SYNTH_CLASSES);
    cr_assert(strstr(d.config, "iterations = 4"), "resolved config stored");
    cr_assert_eq(d.attention.present, i >= 2, "attention maps only with a block");
    if (i >= 2) {
      cr_assert_eq(d.attention.a, 2);
      cr_assert_not_null(d.attention.pairwise);
      cr_assert_not_null(d.attention.unary);
      cr_assert_not_null(d.attention.unary_boundary_mass);
      cr_assert_not_null(d.attention.pairwise_same_region_mass);
    }
    results_data_free(&d);
  }

  /* again: everything is skipped */
  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --out %s/results", dir, dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(err, "4 finished already, 0 to run"), "%s", err);

  /* an interrupted run (result says running) resumes from its checkpoint */
  snprintf(path, sizeof path, "%s/results/mini/dnl-seed2.h5", dir);
  unlink(path);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(err, "3 finished already, 1 to run"), "%s", err);
  snprintf(path, sizeof path, "%s/results/mini/dnl-seed2.log", dir);
  char log[8192];
  FILE *f = fopen(path, "r");
  cr_assert(f);
  log[fread(log, 1, sizeof log - 1, f)] = '\0';
  fclose(f);
  cr_assert(strstr(log, "resuming dnl-seed2 at iteration 4"), "%s", log);

  /* plots and table */
  snprintf(cmd, sizeof cmd, "analysis plot %s/results/mini/*.h5 -o %s/plots", dir, dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  static const char *const figures[] = {
      "loss.png", "miou.png", "final_miou.png", "class_iou.png", "attention_dnl-seed1.png",
      "index.md"};
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/plots/%s", dir, figures[i]);
    cr_assert(file_exists(path), "missing %s", path);
  }
  snprintf(path, sizeof path, "%s/plots/final_miou.png", dir);
  test_assert_png(path, 960, 600);
  snprintf(cmd, sizeof cmd, "analysis table %s/results/mini/*.h5", dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "| none | synth-global |") && strstr(out, "| dnl | synth-global |"), "%s",
            out);
  cr_assert(strstr(out, "| 2 |"), "two seeds per group: %s", out);
  tmpdir_remove(dir);
}

Test(sweep, bad_sweep_files_name_the_key) {
  char dir[256], cmd[1024], path[512];
  setup(dir, sizeof dir);
  static const char *const bad[][2] = {
      {"sweep = { name = \"x\"; base = \"base.cfg\"; matrix = ( { key = \"blok.variant\"; "
       "values = [\"nl\"]; } ); };",
       "unknown config key blok.variant"},
      {"sweep = { name = \"x\"; base = \"base.cfg\"; matrix = ( { key = \"seed\"; values = []; "
       "} ); };",
       "empty values for seed"},
      {"sweep = { name = \"x\"; base = \"base.cfg\"; matrix = ( ); };", "non-empty"},
      {"sweep = { name = \"x\"; base = \"base.cfg\"; set = { solver = { iters = 3; }; }; "
       "matrix = ( { key = \"seed\"; values = [1]; } ); };",
       "unknown config key solver.iters"},
      {"seed = 1;", "no sweep = { ... } group"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    file_write_text(tmpdir_path(path, sizeof path, dir, "bad.cfg"), bad[i][0]);
    snprintf(cmd, sizeof cmd, "runner sweep %s/bad.cfg --out %s/results", dir, dir);
    char *out, *err;
    cr_assert_neq(test_run_program(dir, cmd, &out, &err), 0, "case %zu accepted", i);
    cr_assert(strstr(err, bad[i][1]) && strstr(err, "bad.cfg"), "case %zu: %s", i, err);
  }
  snprintf(path, sizeof path, "%s/results", dir);
  cr_assert(!file_exists(path), "nothing written for a bad sweep");
  tmpdir_remove(dir);
}

Test(sweep, dry_run_lists_runs_with_settings_and_costs) {
  char dir[256], cmd[1024];
  setup(dir, sizeof dir);
  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --dry-run --gpus 2 --only 'dnl*'", dir);
  char *out, *err;
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "dnl-seed1") && strstr(out, "dnl-seed2") && !strstr(out, "none-seed1"),
            "%s", out);
  cr_assert(strstr(out, "variant=dnl") && strstr(out, "params ") && strstr(out, "GFLOP") &&
                strstr(out, "MB") && strstr(out, "per GPU (1 images each on 2 GPUs)"),
            "%s", out);
  tmpdir_remove(dir);
}

Test(sweep, a_value_that_names_its_group_keeps_that_label, .timeout = 120) {
  char dir[256], path[512], cmd[1024];
  setup(dir, sizeof dir);
  file_write_text(tmpdir_path(path, sizeof path, dir, "named.cfg"),
                  "sweep = { name = \"named\"; base = \"base.cfg\"; matrix = (\n"
                  "  { values = ( { name = \"a\"; data = { synth = { cue = \"match\"; }; }; },\n"
                  "               { name = \"b\"; } ); },\n"
                  "  { values = ( { name = \"x\"; block = { variant = \"none\"; };\n"
                  "                 output = { label = \"baseline\"; }; } ); } ); };\n");
  snprintf(cmd, sizeof cmd, "runner sweep %s/named.cfg --out %s/results --only a-x --quiet", dir,
           dir);
  char *out, *err;
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  char text[8192];
  test_read_text(tmpdir_path(path, sizeof path, dir, "results/named/a-x.cfg"), text, sizeof text);
  cr_assert(strstr(text, "label = \"baseline\";"), "%s", text);
  tmpdir_remove(dir);
}
