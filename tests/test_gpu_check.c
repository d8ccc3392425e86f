/* tools/gpu_check.sh (make gpu-check) where it can run without a GPU: the
 * no-GPU answers (one line, status 3, nothing written), its argument checks,
 * the GPU line it parses, and a fake run's log and summary with a part stopped
 * at its time limit. nvidia-smi is replaced through DNL_NVIDIA_SMI, so the
 * cases behave the same on a machine with a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[64];
static char out_text[16384], err_text[16384];

static void setup(void) { tmpdir_make(dir, sizeof dir, "gpu_check"); }
static void teardown(void) { tmpdir_remove(dir); }

TestSuite(gpu_check, .init = setup, .fini = teardown, .timeout = 120);

/* Runs "env ENV tools/gpu_check.sh ARGS" from the source tree; its outputs into
 * out_text and err_text; returns the exit status. */
static int run_check(const char *env, const char *args) {
  char cmd[2048], out[128], err[128];
  tmpdir_path(out, sizeof out, dir, "stdout.txt");
  tmpdir_path(err, sizeof err, dir, "stderr.txt");
  snprintf(cmd, sizeof cmd, "env %s tools/gpu_check.sh %s > %s 2> %s < /dev/null", env, args, out,
           err);
  const int st = system(cmd);
  cr_assert(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
  test_read_text(out, out_text, sizeof out_text);
  test_read_text(err, err_text, sizeof err_text);
  return WEXITSTATUS(st);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* A stand-in nvidia-smi printing `text` and exiting with `status`. */
static const char *fake_smi(const char *text, int status) {
  static char path[128];
  char script[1024];
  tmpdir_path(path, sizeof path, dir, "nvidia-smi");
  snprintf(script, sizeof script, "#!/bin/sh\nprintf '%%s\\n' '%s'\nexit %d\n", text, status);
  file_write_text(path, script);
  cr_assert_eq(chmod(path, 0755), 0);
  return path;
}

static void expect_no_gpu(const char *smi, const char *why) {
  char env[256], args[256], out_dir[128];
  tmpdir_path(out_dir, sizeof out_dir, dir, "out");
  snprintf(env, sizeof env, "DNL_NVIDIA_SMI=%s DNL_GPU_CHECK_FAKE=0", smi);
  snprintf(args, sizeof args, "--out %s", out_dir);
  cr_assert_eq(run_check(env, args), 3, "%s: %s", why, err_text);
  cr_assert_eq(count_lines(err_text), 1, "%s: one line expected: %s", why, err_text);
  cr_assert(strstr(err_text, "gpu-check: no GPU on this machine") && strstr(err_text, why),
            "%s", err_text);
  cr_assert_str_eq(out_text, "");
  cr_assert(!file_exists(out_dir), "%s: the output folder was made", why);
}

Test(gpu_check, no_nvidia_smi_is_one_line_and_status_3) {
  expect_no_gpu("/nonexistent/nvidia-smi", "/nonexistent/nvidia-smi not found");
}

Test(gpu_check, nvidia_smi_failing_or_finding_nothing_is_one_line) {
  expect_no_gpu(fake_smi("NVIDIA-SMI has failed because it could not communicate with the "
                         "NVIDIA driver.",
                         9),
                "exited with 9: NVIDIA-SMI has failed");
  expect_no_gpu(fake_smi("No devices were found", 6), "exited with 6: No devices were found");
}

/* The Makefile asks --no-gpu-reason first: the line on stdout, or nothing. */
Test(gpu_check, no_gpu_reason_for_the_makefile) {
  cr_assert_eq(run_check("DNL_NVIDIA_SMI=/nonexistent/nvidia-smi", "--no-gpu-reason"), 0);
  cr_assert(strstr(out_text, "no GPU on this machine") && count_lines(out_text) == 1, "%s",
               out_text);
  char env[256];
  snprintf(env, sizeof env, "DNL_NVIDIA_SMI=%s",
           fake_smi("NVIDIA H200, 9.0, 143771 MiB, 580.159.03", 0));
  cr_assert_eq(run_check(env, "--no-gpu-reason"), 0);
  cr_assert_str_eq(out_text, "", "a GPU is there: nothing to say");
  snprintf(env, sizeof env, "DNL_NVIDIA_SMI=%s", fake_smi("NVIDIA H200, [N/A], 1 MiB, 580", 0));
  cr_assert_eq(run_check(env, "--no-gpu-reason"), 0);
  cr_assert(strstr(out_text, "no usable GPU") && strstr(out_text, "'[N/A]'"), "%s", out_text);
}

Test(gpu_check, bad_arguments_are_one_line_and_status_2) {
  const char *cases[][2] = {{"--bogus", "unknown argument '--bogus'"},
                            {"--budget 5", "--budget 5: expected a whole number"},
                            {"--budget", "--budget needs"},
                            {"--parts build,nope", "unknown part 'nope'"},
                            {"--out", "--out needs a folder"}};
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(run_check("", cases[i][0]), 2, "%s: %s", cases[i][0], err_text);
    cr_assert(count_lines(err_text) == 1 && strstr(err_text, cases[i][1]), "%s: %s",
              cases[i][0], err_text);
  }
  cr_assert_eq(run_check("DNL_GPU_CHECK_FAKE=yes", ""), 2);
  cr_assert(strstr(err_text, "DNL_GPU_CHECK_FAKE=yes: expected 0 or 1"), "%s", err_text);
}

/* A fake run of one benchmark part with a 1-second limit: the part does not
 * pass (stopped at the limit, or its program is not built), the run fails,
 * and the folder holds the log and a summary that says it is no GPU result. */
Test(gpu_check, fake_run_writes_log_and_summary) {
  char out_dir[128], args[256], path[256], text[16384];
  tmpdir_path(out_dir, sizeof out_dir, dir, "out");
  snprintf(args, sizeof args, "--fake --parts bench_attention --budget 60 --out %s", out_dir);
  cr_assert_eq(run_check("DNL_GPU_CHECK_LIMIT_BENCH_ATTENTION=1 DNL_TWIN_PYTHON=false", args), 1,
               "%s%s", out_text, err_text);
  snprintf(path, sizeof path, "%s/summary.md", out_dir);
  test_read_text(path, text, sizeof text);
  cr_assert(strstr(text, "FAKE run") && strstr(text, "nothing here is a GPU result"), "%s", text);
  cr_assert(strstr(text, "| setup | ok |"), "%s", text);
  cr_assert(strstr(text, "| bench_attention | TIMEOUT |") ||
                strstr(text, "| bench_attention | FAIL |"),
            "%s", text);
  cr_assert(!strstr(text, "| ops |"), "a part that was not asked for ran: %s", text);
  cr_assert(strstr(out_text, "# gpu-check summary"), "the summary goes to stdout too: %s",
            out_text);
  snprintf(path, sizeof path, "%s/gpu-check.log", out_dir);
  test_read_text(path, text, sizeof text);
  cr_assert(strstr(text, "===== bench_attention") && strstr(text, "===== summary"), "%s", text);
}
