#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config/cfg.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static const char *const whiten_choices[] = {"none", "in", "ln", NULL};
static const cfg_key keys[] = {
    {"seed", CFG_INT, 0, 1e9, NULL, "seed"},
    {"solver", CFG_GROUP, 1, 0, NULL, "solver"},
    {"solver.lr", CFG_FLOAT, 0, 10, NULL, "lr"},
    {"solver.nesterov", CFG_BOOL, 1, 0, NULL, "nesterov"},
    {"block", CFG_GROUP, 1, 0, NULL, "block"},
    {"block.whiten", CFG_STRING, 1, 0, whiten_choices, "whitening"},
    {"eval", CFG_GROUP, 1, 0, NULL, "eval"},
    {"eval.scales", CFG_FLOAT_ARRAY, 0.1, 4, NULL, "scales"},
};
static const cfg_schema schema = {keys, sizeof keys / sizeof keys[0]};

static dnl_status check(const char *text) {
  config_t c;
  dnl_status s = cfg_parse_string(&c, text, "test.cfg");
  if (s == DNL_OK)
    s = cfg_validate(&c, &schema);
  config_destroy(&c);
  return s;
}

Test(cfg, accepts_valid_config_and_reads_values) {
  config_t c;
  TRY_OK(cfg_parse_string(&c, "seed = 3; solver = { lr = 1; }; eval = { scales = [0.5, 1.0]; };",
                          "t"));
  TRY_OK(cfg_validate(&c, &schema));
  cr_assert_eq(cfg_get_int(&c, "seed", 0), 3);
  cr_assert_float_eq(cfg_get_float(&c, "solver.lr", 0), 1.0, 1e-12);
  cr_assert_eq(cfg_get_bool(&c, "solver.nesterov", true), true);
  double sc[4];
  cr_assert_eq(cfg_get_float_array(&c, "eval.scales", sc, 4), 2);
  cr_assert_float_eq(sc[0], 0.5, 1e-12);
  config_destroy(&c);
}

Test(cfg, rejects_unknown_key_with_line) {
  cr_assert_eq(check("seed = 1;\nsolver = {\n  lrr = 0.1;\n};"), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), ":3: unknown key solver.lrr"), "%s", dnl_last_error());
}

Test(cfg, rejects_wrong_type_range_and_choice) {
  cr_assert_eq(check("seed = \"one\";"), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "seed has the wrong type, expected an integer"), "%s",
            dnl_last_error());
  cr_assert_eq(check("solver = { lr = 11.0; };"), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "out of range"), "%s", dnl_last_error());
  cr_assert_eq(check("block = { whiten = \"bn\"; };"), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "expected one of: none, in, ln"), "%s", dnl_last_error());
  cr_assert_eq(check("eval = { scales = [0.5, 9.0]; };"), DNL_ERR_ARG);
  cr_assert_eq(check("solver = 3;"), DNL_ERR_ARG);
}

Test(cfg, parse_error_names_file_and_line) {
  config_t c;
  cr_assert_eq(cfg_parse_string(&c, "seed = 1;\nsolver = { lr = ; };", "bad.cfg"),
               DNL_ERR_FORMAT);
  cr_assert(strstr(dnl_last_error(), "bad.cfg:2:"), "%s", dnl_last_error());
  config_destroy(&c);
}

Test(cfg, include_and_override) {
  char dir[] = "/tmp/dnl_cfg_XXXXXX";
  cr_assert(mkdtemp(dir));
  char base[256], top[256];
  snprintf(base, sizeof base, "%s/base.cfg", dir);
  snprintf(top, sizeof top, "%s/top.cfg", dir);
  FILE *f = fopen(base, "w");
  fputs("solver = { lr = 0.5; };\n", f);
  fclose(f);
  f = fopen(top, "w");
  fputs("@include \"base.cfg\"\nseed = 7;\n", f);
  fclose(f);
  config_t c;
  TRY_OK(cfg_load(&c, top));
  TRY_OK(cfg_validate(&c, &schema));
  cr_assert_float_eq(cfg_get_float(&c, "solver.lr", 0), 0.5, 1e-12);
  config_t v;
  TRY_OK(cfg_parse_string(&v, "x = \"ln\"; y = [1.0, 2.0];", "v"));
  TRY_OK(cfg_set_from(&c, "block.whiten", config_lookup(&v, "x")));
  TRY_OK(cfg_set_from(&c, "eval.scales", config_lookup(&v, "y")));
  TRY_OK(cfg_validate(&c, &schema));
  cr_assert_str_eq(cfg_get_string(&c, "block.whiten", ""), "ln");
  char *text;
  TRY_OK(cfg_to_string(&c, &text));
  cr_assert(strstr(text, "whiten = \"ln\""), "%s", text);
  free(text);
  config_destroy(&v);
  config_destroy(&c);
  unlink(base), unlink(top), rmdir(dir);
}

Test(cfg, missing_file_is_an_error) {
  config_t c;
  cr_assert_eq(cfg_load(&c, "/nonexistent/x.cfg"), DNL_ERR_IO);
  cr_assert(strstr(dnl_last_error(), "/nonexistent/x.cfg"));
  config_destroy(&c);
}

/* A base that names its own file, or any cycle of bases, is refused naming the
 * cycle (it crashed); the config can be destroyed afterwards; a chain works. */
Test(cfg, base_cycle_is_refused_naming_it) {
  char dir[128], a[256], b[256], self[256], top[256];
  tmpdir_make(dir, sizeof dir, "cfg_base");
  tmpdir_path(a, sizeof a, dir, "a.cfg");
  tmpdir_path(b, sizeof b, dir, "b.cfg");
  tmpdir_path(self, sizeof self, dir, "self.cfg");
  tmpdir_path(top, sizeof top, dir, "top.cfg");
  file_write_text(self, "base = \"self.cfg\";\nseed = 1;\n");
  file_write_text(a, "base = \"b.cfg\";\n");
  file_write_text(b, "base = \"a.cfg\";\nseed = 2;\n");
  file_write_text(top, "base = \"a.cfg\";\n");
  config_t c;
  cr_assert_eq(cfg_load_layered(&c, self, &schema), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "config bases form a cycle") &&
                strstr(dnl_last_error(), "self.cfg -> ") &&
                strstr(dnl_last_error() + strlen(dnl_last_error()) - 8, "self.cfg"),
            "%s", dnl_last_error());
  config_destroy(&c);
  cr_assert_eq(cfg_load_layered(&c, top, &schema), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "a.cfg -> ") && strstr(dnl_last_error(), "b.cfg -> "),
            "%s", dnl_last_error());
  config_destroy(&c);
  file_write_text(b, "seed = 2;\n");
  TRY_OK(cfg_load_layered(&c, top, &schema));
  int seed = 0;
  cr_assert(config_lookup_int(&c, "seed", &seed) && seed == 2);
  config_destroy(&c);
  tmpdir_remove(dir);
}
