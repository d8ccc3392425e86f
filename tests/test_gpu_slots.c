/* Placing a sweep's cuda runs one per GPU: the GPU list from
 * CUDA_VISIBLE_DEVICES or the driver, the least-used pick, and runner sweep
 * handing each child its GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/gpu_slots.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

Test(gpu_slots, visible_devices_are_the_gpus) {
  gpu_slots g;
  gpu_slots_find(&g, "1,3", "/nonexistent");
  cr_assert_eq(g.count, 2);
  cr_assert_str_eq(g.id[0], "1");
  cr_assert_str_eq(g.id[1], "3");
  gpu_slots_find(&g, "GPU-8a1f, 2", "/nonexistent");
  cr_assert_eq(g.count, 2);
  cr_assert_str_eq(g.id[0], "GPU-8a1f");
  cr_assert_str_eq(g.id[1], "2");
  gpu_slots_find(&g, "0,,1", "/nonexistent");
  cr_assert_eq(g.count, 1, "CUDA stops at the first empty entry");
  gpu_slots_find(&g, "", "/nonexistent");
  cr_assert_eq(g.count, 0, "an empty CUDA_VISIBLE_DEVICES hides every GPU");
}

Test(gpu_slots, driver_list_when_nothing_is_set) {
  char dir[256], path[512];
  tmpdir_make(dir, sizeof dir, "gpus");
  gpu_slots g;
  gpu_slots_find(&g, NULL, dir);
  cr_assert_eq(g.count, 0);
  static const char *const pci[] = {"0000:17:00.0", "0000:65:00.0", "0000:b3:00.0"};
  for (int i = 0; i < 3; i++)
    cr_assert_eq(mkdir(tmpdir_path(path, sizeof path, dir, pci[i]), 0755), 0);
  gpu_slots_find(&g, NULL, dir);
  cr_assert_eq(g.count, 3);
  cr_assert(!strcmp(g.id[0], "0") && !strcmp(g.id[1], "1") && !strcmp(g.id[2], "2"));
  gpu_slots_find(&g, NULL, "/nonexistent");
  cr_assert_eq(g.count, 0);
  tmpdir_remove(dir);
}

Test(gpu_slots, least_used_gpu_first) {
  gpu_slots g;
  gpu_slots_find(&g, "0,1,2", NULL);
  cr_assert_eq(gpu_slots_take(&g), 0);
  cr_assert_eq(gpu_slots_take(&g), 1);
  cr_assert_eq(gpu_slots_take(&g), 2);
  cr_assert_eq(gpu_slots_take(&g), 0, "a fourth run shares the first GPU");
  gpu_slots_release(&g, 1);
  cr_assert_eq(gpu_slots_take(&g), 1, "the freed GPU is used next");
  gpu_slots_release(&g, -1); /* a run that was not placed */
  cr_assert_eq(g.running[0] + g.running[1] + g.running[2], 4);
}

/* Without a usable GPU the runs fail at once, but the sweep has already told
 * which GPU each one got. */
Test(gpu_slots, sweep_gives_each_cuda_run_its_gpu, .timeout = 120) {
  char dir[256], path[512], text[2048], cmd[1024];
  tmpdir_make(dir, sizeof dir, "gpusweep");
  snprintf(text, sizeof text,
           "device = \"cuda\";\n"
           "model = { depth = 18; layers = [1, 1, 1, 1]; planes = [8, 8, 16, 16]; width = 0.125;\n"
           "          head_width = 16; };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 2; crop = 64;\n"
           "         synth = { train = 4; val = 2; size = 64; }; };\n"
           "solver = { iterations = 2; };\n",
           dir);
  file_write_text(tmpdir_path(path, sizeof path, dir, "base.cfg"), text);
  file_write_text(tmpdir_path(path, sizeof path, dir, "gpus.cfg"),
                  "sweep = { name = \"gpus\"; base = \"base.cfg\";\n"
                  "  matrix = ( { key = \"seed\"; values = [1, 2]; } ); };\n");
  setenv("CUDA_VISIBLE_DEVICES", "4,6", 1);
  snprintf(cmd, sizeof cmd, "runner sweep %s/gpus.cfg --out %s/results --jobs 2", dir, dir);
  char *out, *err;
  cr_assert_neq(test_run_program(dir, cmd, &out, &err), 0, "cuda runs on GPUs 4 and 6?");
  cr_assert(strstr(err, "one per GPU over 2 GPUs"), "%s", err);
  cr_assert(strstr(err, "started seed1 on GPU 4") && strstr(err, "started seed2 on GPU 6"),
            "%s", err);
  tmpdir_remove(dir);
}
