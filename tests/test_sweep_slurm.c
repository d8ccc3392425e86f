/* runner sweep --slurm on a real one-node Slurm started on this machine
 * (tests/slurm_local.sh: Debian's slurmctld, slurmd, slurm-client and munge,
 * installed by make test-deps): a sweep with a stage as two dependent array
 * jobs, then a run stopped by SIGTERM through its batch shell, requeued, and
 * resumed bit-identically. Skipped, saying why, where the daemons cannot
 * start (not root, packages missing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/store/results_read.h"
#include "tests/test_sweep_util.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[256];
static bool started;

static void stop_cluster(void) {
  if (started)
    sweep_test_sh("tests/slurm_local.sh stop %s/cluster > /dev/null 2>&1", dir);
  started = false;
  if (dir[0])
    tmpdir_remove(dir);
  dir[0] = '\0';
}

/* The shell prefix that points Slurm's commands at this cluster. */
#define CONF "export SLURM_CONF=%s/cluster/slurm.conf; cd %s && "

static void wait_drained(const char *name, int seconds) {
  for (int i = 0; i < seconds * 5; i++) {
    if (sweep_test_sh(CONF "test -z \"$(squeue -h -n dnl-%s)\"", dir, dir, name) == 0)
      return;
    usleep(200000);
  }
  cr_assert_fail("the jobs of sweep %s did not drain within %d s", name, seconds);
}

static bool finished(const char *path) {
  results_data d;
  if (results_read(path, &d) != DNL_OK) {
    dnl_clear_error();
    return false;
  }
  bool done = d.finished;
  results_data_free(&d);
  return done;
}

Test(sweep_slurm, real_one_node_slurm, .timeout = 240, .fini = stop_cluster) {
  if (geteuid() != 0)
    cr_skip_test("needs root to start munged, slurmctld and slurmd");
  tmpdir_make(dir, sizeof dir, "slurm");
  chmod(dir, 0755); /* munged runs as user munge and needs to reach its folder */
  char path[600], text[65536];
  if (sweep_test_sh("tests/slurm_local.sh start %s/cluster > %s/start.out 2>&1", dir, dir) != 0) {
    snprintf(path, sizeof path, "%s/start.out", dir);
    test_read_text(path, text, sizeof text);
    text[strcspn(text, "\n")] = '\0';
    stop_cluster();
    cr_skip_test("cannot start a one-node Slurm here: %s", text);
  }
  started = true;
  sweep_test_base(dir, 2, 0);

  /* a stage over the seeds, then the runs that start from it: two arrays */
  snprintf(path, sizeof path, "%s/mini.cfg", dir);
  file_write_text(path, "sweep = { name = \"mini\"; base = \"base.cfg\";\n"
                        "  stages = ( { name = \"backbone\"; set = { block = { variant = "
                        "\"none\"; }; }; over = [\"seed\"]; } );\n"
                        "  after = \"backbone\"; init_only = [\"backbone.\"];\n"
                        "  matrix = ( { key = \"block.variant\"; values = [\"none\", \"dnl\"]; },\n"
                        "             { key = \"seed\"; values = [1, 2]; } ); };\n");
  int rc = sweep_test_sh(CONF "$R sweep mini.cfg --slurm --max-parallel 2 --threads 1 "
                              "--claim-timeout 10 > submit.out 2>&1",
                         dir, dir);
  snprintf(path, sizeof path, "%s/submit.out", dir);
  test_read_text(path, text, sizeof text);
  cr_assert_eq(rc, 0, "%s", text);
  cr_assert(strstr(text, ": 2 stage runs (") && strstr(text, ": 4 runs, after job "), "%s", text);
  wait_drained("mini", 90);
  static const char *const runs[] = {"stages/backbone-seed1",
                                     "stages/backbone-seed2",
                                     "none-seed1",
                                     "none-seed2",
                                     "dnl-seed1",
                                     "dnl-seed2"};
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/results/mini/%s.h5", dir, runs[i]);
    cr_assert(finished(path), "%s did not finish", runs[i]);
  }
  cr_assert_eq(sweep_test_sh(CONF "cat results/mini/slurm/*.out > tasks.out", dir, dir), 0);
  snprintf(path, sizeof path, "%s/tasks.out", dir);
  test_read_text(path, text, sizeof text);
  cr_assert_eq(sweep_test_count(text, "\nclaimed "), 6, "%s", text);
  cr_assert_eq(sweep_test_count(text, "\nclaimed stages/"), 2, "%s", text);
  cr_assert_eq(sweep_test_sh(CONF "$R sweep mini.cfg --status > status.out 2>&1", dir, dir), 0);
  snprintf(path, sizeof path, "%s/status.out", dir);
  test_read_text(path, text, sizeof text);
  cr_assert(strstr(text, "6 runs in results/mini/: 6 finished") &&
                strstr(text, "Slurm: no job named dnl-mini in the queue"),
            "%s", text);

  /* --requeue: SIGTERM to the batch shell (as before a time limit) stops the
   * run with a checkpoint, the task requeues itself and resumes */
  sweep_test_base(dir, 40, 5);
  snprintf(path, sizeof path, "%s/one.cfg", dir);
  file_write_text(path, "sweep = { name = \"one\"; base = \"base.cfg\";\n"
                        "  matrix = ( { key = \"seed\"; values = [4]; } ); };\n");
  cr_assert_eq(
      sweep_test_sh(CONF "$R sweep one.cfg --out ref --threads 1 > ref.out 2>&1", dir, dir), 0);
  cr_assert_eq(sweep_test_sh(CONF "$R sweep one.cfg --slurm --requeue --threads 1 > sub2.out "
                                  "2>&1",
                             dir, dir),
               0);
  snprintf(path, sizeof path, "%s/results/one/seed4.log", dir);
  bool midway = false;
  for (int i = 0; i < 600 && !midway; i++) {
    if (file_exists(path)) {
      test_read_text(path, text, sizeof text);
      midway = strstr(text, " iter 10/") != NULL;
    }
    if (!midway)
      usleep(50000);
  }
  cr_assert(midway, "the run never reached iteration 10");
  cr_assert_eq(sweep_test_sh(CONF "job=$(awk '{print $2; exit}' results/one/slurm/one.jobs); "
                                  "scancel --batch --signal=TERM ${job}_0 && "
                                  "for i in $(seq 100); do "
                                  "  case \"$(squeue -h -j $job -o %%T)\" in PENDING*) "
                                  "    scontrol update JobId=${job}_0 StartTime=now; exit 0;; "
                                  "  esac; sleep 0.1; done; exit 1",
                             dir, dir),
               0, "the task was not requeued");
  wait_drained("one", 90);
  cr_assert_eq(sweep_test_sh(CONF "cat results/one/slurm/*.out > tasks2.out", dir, dir), 0);
  snprintf(path, sizeof path, "%s/tasks2.out", dir);
  test_read_text(path, text, sizeof text);
  cr_assert(strstr(text, "interrupted seed4 at iteration") &&
                strstr(text, "claimed seed4 (resumes from its checkpoint)") &&
                strstr(text, "finished seed4"),
            "%s", text);
  char ref[600], got[600];
  snprintf(ref, sizeof ref, "%s/ref/one/seed4.ckpt", dir);
  snprintf(got, sizeof got, "%s/results/one/seed4.ckpt", dir);
  int n = 0;
  cr_assert(sweep_test_same_group(ref, got, "params", "params", "", &n) && n > 30,
            "the requeued run's weights differ from an uninterrupted run's");
  cr_assert(sweep_test_same_group(ref, got, "momentum", "momentum", "", &n),
            "the requeued run's momentum differs from an uninterrupted run's");
}
