/* Sweep stages through the programs ($DNL_BIN/runner): a backbone stage over
 * the seeds that the matrix runs start from, --only pulling in stage runs, the
 * weights handed over, bad stage declarations, a failing stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/store/results_read.h"
#include "tests/test_sweep_util.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static const char base_cfg[] =
    "seed = 1;\n"
    "threads = 1;\n"
    "model = { depth = 18; layers = [1, 1, 1, 1]; planes = [8, 8, 16, 16]; width = 0.125;\n"
    "          head_width = 16; };\n"
    "block = { variant = \"dnl\"; };\n"
    "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 2; crop = 64; workers = 1;\n"
    "         random_resize = false; brightness = 0;\n"
    "         synth = { train = 4; val = 2; size = 64; }; };\n"
    "solver = { iterations = 2; lr = 0.01; };\n"
    "loss = { ohem = false; };\n"
    "output = { log_every = 1; attention_images = 1; };\n";

/* The matrix runs train with lr 0, so their final trainable weights are the
 * ones they started from: the stage's backbone and their own head. */
static const char stages_cfg[] =
    "sweep = {\n"
    "  name = \"mini\";\n"
    "  base = \"base.cfg\";\n"
    "  set = { solver = { lr = 0.0; }; };\n"
    "  stages = (\n"
    "    { name = \"backbone\";\n"
    "      set = { block = { variant = \"none\"; }; solver = { lr = 0.01; iterations = 3; }; };\n"
    "      over = [\"seed\"]; }\n"
    "  );\n"
    "  after = \"backbone\";\n"
    "  init_only = [\"backbone.\"];\n"
    "  matrix = (\n"
    "    { key = \"block.variant\"; values = [\"none\", \"dnl\"]; },\n"
    "    { key = \"seed\"; values = [1, 2]; }\n"
    "  );\n"
    "};\n";

static void setup(char *dir, size_t len, const char *sweep_text) {
  tmpdir_make(dir, len, "stages");
  char path[512], text[2048];
  snprintf(text, sizeof text, base_cfg, dir);
  file_write_text(tmpdir_path(path, sizeof path, dir, "base.cfg"), text);
  file_write_text(tmpdir_path(path, sizeof path, dir, "mini.cfg"), sweep_text);
}

/* The matrix run's trainable backbone tensors are the stage's final ones; its
 * head (lr 0: as initialised) is not. */
static void assert_backbone_handed_over(const char *stage_ckpt, const char *run_ckpt) {
  int n = 0;
  cr_assert(sweep_test_same_group(stage_ckpt, run_ckpt, "momentum", "params", "backbone.", &n),
            "a backbone tensor differs between %s and %s", stage_ckpt, run_ckpt);
  cr_assert_gt(n, 20, "%d backbone tensors compared", n);
  cr_assert(!sweep_test_same_group(stage_ckpt, run_ckpt, "momentum", "params", "head.cls.", &n),
            "the head was taken from the stage");
}

Test(sweep_stages, backbone_stage_over_seeds, .timeout = 300) {
  char dir[256], cmd[1024], path[512], other[512], text[16384];
  setup(dir, sizeof dir, stages_cfg);
  char *out, *err;

  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --out %s/results --dry-run", dir, dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(out, "stage backbone: 2 runs (one per seed)") &&
                strstr(out, "stages/backbone-seed2") &&
                strstr(out, "weights: the final weights of stage run backbone-seed2 (only "
                            "backbone.), trained first"),
            "%s", out);

  /* --only: a selected run pulls in its stage run, and nothing else */
  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --out %s/results --only dnl-seed1", dir, dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(err, "2 runs (1 of them stage runs)"), "%s", err);
  snprintf(path, sizeof path, "%s/results/mini/stages/backbone-seed1.h5", dir);
  cr_assert(file_exists(path));
  snprintf(path, sizeof path, "%s/results/mini/stages/backbone-seed2.h5", dir);
  cr_assert(!file_exists(path));

  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --out %s/results --jobs 2", dir, dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  /* the finished stage run is reused, the other trained once, before its dependents */
  cr_assert(strstr(err, "6 runs (2 of them stage runs), 2 finished already, 4 to run"), "%s", err);
  cr_assert_eq(sweep_test_count(err, "started stage run backbone-seed2"), 1, "%s", err);
  cr_assert_eq(sweep_test_count(err, "started stage run backbone-seed1"), 0, "%s", err);
  const char *seed2 = strstr(err, "stage run backbone-seed2 finished");
  cr_assert(seed2 && strstr(err, "started dnl-seed2") > seed2 &&
                strstr(err, "started none-seed2") > seed2,
            "a run started before its stage run finished: %s", err);

  static const char *const runs[] = {"none-seed1", "none-seed2", "dnl-seed1", "dnl-seed2"};
  for (int i = 0; i < 4; i++) {
    const int seed = i % 2 + 1;
    snprintf(path, sizeof path, "%s/results/mini/%s.h5", dir, runs[i]);
    results_data d;
    TRY_OK(results_read(path, &d));
    cr_assert(d.finished, "%s: %s", runs[i], d.status);
    cr_assert_str_eq(d.sweep, "mini");
    results_data_free(&d);
    snprintf(path, sizeof path, "%s/results/mini/%s.log", dir, runs[i]);
    test_read_text(path, text, sizeof text);
    char expect[512];
    snprintf(expect, sizeof expect,
             "results/mini/stages/backbone-seed%d.ckpt (only backbone.): loaded", seed);
    cr_assert(strstr(text, expect), "%s: %s", runs[i], text);
    cr_assert(strstr(text, "network tensors outside model.init_only keep their initialisation"),
              "%s", text);
    snprintf(path, sizeof path, "%s/results/mini/stages/backbone-seed%d.ckpt", dir, seed);
    snprintf(other, sizeof other, "%s/results/mini/%s.ckpt", dir, runs[i]);
    assert_backbone_handed_over(path, other);
  }
  for (int seed = 1; seed <= 2; seed++) {
    snprintf(path, sizeof path, "%s/results/mini/stages/backbone-seed%d.h5", dir, seed);
    results_data d;
    TRY_OK(results_read(path, &d));
    cr_assert(d.finished);
    cr_assert_eq(d.seed, seed);
    cr_assert_str_eq(d.variant, "none");
    cr_assert_eq(d.train.n, 3, "trained once: %zu rows", d.train.n);
    results_data_free(&d);
  }

  /* again: nothing to do */
  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --out %s/results", dir, dir);
  cr_assert_eq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(err, "6 finished already, 0 to run"), "%s", err);
  tmpdir_remove(dir);
}

Test(sweep_stages, bad_stages_name_the_stage_and_file) {
  char dir[256], cmd[1024], path[512];
  setup(dir, sizeof dir, stages_cfg);
#define HEAD "sweep = { name = \"x\"; base = \"base.cfg\";\n"
#define AXES " matrix = ( { key = \"seed\"; values = [1, 2]; } ); };"
  static const char *const bad[][2] = {
      {HEAD
       " stages = ( { name = \"a\"; after = \"b\"; },\n { name = \"b\"; after = \"a\"; } );\n" AXES,
       "bad.cfg:2: stage \"a\": stages start from each other in a cycle: a -> b -> a"},
      {HEAD " stages = ( { name = \"a\"; after = \"a\"; } );" AXES, "cycle: a -> a"},
      {HEAD " stages = ( { name = \"a\"; after = \"bb\"; } );" AXES,
       "bad.cfg:2: stage \"a\": after = \"bb\" names no stage (stages: a)"},
      {HEAD " stages = ( { name = \"a\"; } );\n after = \"b\";" AXES,
       "bad.cfg:3: after = \"b\" names no stage (stages: a)"},
      {HEAD " after = \"b\";" AXES, "names no stage (stages: none)"},
      {HEAD " stages = ( { name = \"a\"; over = [\"sed\"]; } );" AXES,
       "stage \"a\": over names \"sed\", which is no matrix axis (axes: seed)"},
      {HEAD " stages = ( { name = \"a\"; over = [\"seed\"]; },\n"
            " { name = \"b\"; after = \"a\"; } );" AXES,
       "bad.cfg:3: stage \"b\": starts from stage \"a\", so its over must include"},
      {HEAD " stages = ( { name = \"a\"; set = { solver = { iters = 3; }; }; } );" AXES,
       "unknown config key solver.iters"},
      {HEAD " stages = ( { name = \"a\"; }, { name = \"a\"; } );" AXES,
       "stage \"a\": a second stage of that name"},
      {HEAD " stages = ( { name = \"a\"; afterr = \"b\"; } );" AXES, "unknown stage key afterr"},
      {HEAD " init_only = [\"backbone.\"];" AXES, "this sweep has no stages"},
  };
#undef HEAD
#undef AXES
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    file_write_text(tmpdir_path(path, sizeof path, dir, "bad.cfg"), bad[i][0]);
    snprintf(cmd, sizeof cmd, "runner sweep %s/bad.cfg --out %s/results", dir, dir);
    char *out, *err;
    cr_assert_neq(test_run_program(dir, cmd, &out, &err), 0, "case %zu accepted", i);
    cr_assert(strstr(err, bad[i][1]) && strstr(err, "bad.cfg"), "case %zu: %s", i, err);
    cr_assert_eq(sweep_test_count(err, "\n"), 1, "case %zu: one line: %s", i, err);
  }
  snprintf(path, sizeof path, "%s/results", dir);
  cr_assert(!file_exists(path), "nothing written for a bad sweep");
  tmpdir_remove(dir);
}

/* The stage cannot start (its model.init is missing): its dependents, and a
 * stage chained to it, are skipped with the reason and never trained. */
Test(sweep_stages, failed_stage_skips_its_dependents, .timeout = 120) {
  char dir[256], cmd[1024], path[512], text[8192];
  setup(dir, sizeof dir,
        "sweep = {\n"
        "  name = \"mini\"; base = \"base.cfg\";\n"
        "  stages = (\n"
        "    { name = \"broken\"; set = { model = { init = \"no/such/weights.h5\"; }; }; },\n"
        "    { name = \"next\"; after = \"broken\"; }\n"
        "  );\n"
        "  after = \"next\";\n"
        "  matrix = ( { values = ( { name = \"scratch\"; after = \"\"; }, { name = \"staged\"; } );"
        " } );\n"
        "};\n");
  snprintf(cmd, sizeof cmd, "runner sweep %s/mini.cfg --out %s/results", dir, dir);
  char *out, *err;
  cr_assert_neq(test_run_program(dir, cmd, &out, &err), 0, "%s", err);
  cr_assert(strstr(err, "stage run broken FAILED"), "%s", err);
  cr_assert(strstr(err, "next: skipped: stage run broken failed"), "%s", err);
  cr_assert(strstr(err, "staged: skipped: stage run next was skipped"), "%s", err);
  cr_assert(strstr(err, "1 of 4 runs failed and 2 skipped"), "%s", err);
  cr_assert(strstr(err, "scratch finished"), "a run without the stage still trains: %s", err);
  snprintf(path, sizeof path, "%s/results/mini/staged.h5", dir);
  cr_assert(!file_exists(path), "a skipped run was started");
  snprintf(path, sizeof path, "%s/results/mini/staged.log", dir);
  test_read_text(path, text, sizeof text);
  cr_assert(strstr(text, "skipped: stage run next was skipped; not started"), "%s", text);
  tmpdir_remove(dir);
}
