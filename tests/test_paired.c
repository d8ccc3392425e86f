/* Paired comparisons: for one seed, two networks that differ only in the block
 * start every parameter they share from the same value, and draw the same
 * dropout masks (issue 18, docs/blocks.md "Paired initial values"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runner/session.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

static char dir[64], cfg_path[128];

static void setup(void) {
  tmpdir_make(dir, sizeof dir, "paired");
  tmpdir_path(cfg_path, sizeof cfg_path, dir, "tiny.cfg");
  char text[1024];
  snprintf(text, sizeof text,
           "seed = 3;\n"
           "model = { depth = 18; layers = [1, 1, 1, 1]; width = 0.25;\n"
           "          planes = [8, 16, 16, 16]; head_width = 16; dropout = 0.1; aux = true; };\n"
           "data = { dataset = \"synth\"; root = \"%s/synth\"; batch = 2; crop = 32; };\n"
           "output = { dir = \"%s/res\"; };\n",
           dir, dir);
  file_write_text(cfg_path, text);
}
static void teardown(void) { tmpdir_remove(dir); }

TestSuite(paired, .init = setup, .fini = teardown, .timeout = 60);

/* The tiny network of the config with that variant and seed, values initialised. */
static void open_net(session *s, const char *variant, int seed) {
  char v[64], sd[32];
  snprintf(v, sizeof v, "block.variant=%s", variant);
  snprintf(sd, sizeof sd, "seed=%d", seed);
  const char *sets[2] = {v, sd};
  TRY_OK(session_open(s, cfg_path, sets, 2));
  TRY_OK(session_build_net(s, 4));
}

static bool is_block(const char *name) { return strncmp(name, "head.block.", 11) == 0; }

/* Every parameter of a that b has too: bit-identical values (same == true) or
 * not all equal in any random one (same == false). Returns how many it compared. */
static int compare_shared(session *a, session *b, bool same) {
  int shared = 0;
  for (int i = 0; i < a->ps.count; i++) {
    const param_entry *e = &a->ps.entries[i];
    const param_entry *f = params_find(&b->ps, e->name);
    if (!f)
      continue;
    cr_assert_eq(e->numel, f->numel, "%s: shape differs", e->name);
    const bool equal = memcmp(e->value->data, f->value->data, e->numel * sizeof(float)) == 0;
    if (same)
      cr_assert(equal, "%s differs between %s and %s", e->name, a->cfg.net.block.variant,
                b->cfg.net.block.variant);
    else if (e->init.kind != PARAM_INIT_CONST)
      cr_assert(!equal, "%s: seeds %ld and %ld give the same values", e->name, a->cfg.seed,
                b->cfg.seed);
    shared++;
  }
  return shared;
}

Test(paired, shared_parameters_start_equal_whatever_the_block) {
  static const char *const variants[] = {"none", "nl", "unary", "pairwise", "dnl", "dnl_shared"};
  enum { NV = sizeof variants / sizeof variants[0] };
  session s[NV];
  for (int v = 0; v < NV; v++)
    open_net(&s[v], variants[v], 3);
  const int outside = compare_shared(&s[0], &s[4], true); /* none has no block parameter */
  cr_assert_gt(outside, 40, "only %d shared parameters", outside);
  cr_assert(params_find(&s[0].ps, "head.cls.weight") && params_find(&s[0].ps, "aux.cls.weight") &&
            params_find(&s[0].ps, "head.bottleneck.weight"));
  for (int a = 0; a < NV; a++)
    for (int b = a + 1; b < NV; b++)
      compare_shared(&s[a], &s[b], true);
  /* the block's own parameters too: nl's query is dnl's query */
  cr_assert_eq(compare_shared(&s[1], &s[4], true),
               outside + 6); /* query, key (+bias), value, gamma */
  int block_params = 0;
  for (int i = 0; i < s[4].ps.count; i++)
    block_params += is_block(s[4].ps.entries[i].name);
  cr_assert_eq(block_params, 8, "dnl: %d block parameters", block_params);
  /* dnl_shared has exactly pairwise's parameters, with the same values */
  cr_assert_eq(compare_shared(&s[5], &s[3], true), s[5].ps.count);
  cr_assert_eq(s[5].ps.count, s[3].ps.count);
  for (int v = 0; v < NV; v++)
    session_close(&s[v]);
}

Test(paired, another_seed_gives_other_values) {
  session a, b;
  open_net(&a, "dnl", 3);
  open_net(&b, "nl", 4);
  cr_assert_gt(compare_shared(&a, &b, false), 40);
  session_close(&a);
  session_close(&b);
}

/* The block draws no dropout mask, so the head's and the auxiliary head's masks
 * (one draw per sample and channel each, from the session's dropout stream)
 * are the same with any block. */
Test(paired, dropout_masks_do_not_depend_on_the_block) {
  static const char *const variants[] = {"none", "dnl", "dnl_shared"};
  float *masks[3][2];
  size_t counts[2] = {0};
  for (int v = 0; v < 3; v++) {
    session s;
    open_net(&s, variants[v], 3);
    s.ctx.training = true;
    rng r;
    rng_seed(&r, 9);
    tensor x = test_randn4(&r, 2, 3, 32, 32, 1.0f), logits, aux;
    for (int step = 0; step < 2; step++) { /* the second step's masks follow the first's */
      arena_reset(&s.act);
      TRY_OK(segnet_forward(&s.net, &s.ctx, &x, &logits, &aux));
    }
    /* the block's term sizes through the network: published init, gamma 0 */
    block_term_sizes t[2];
    TRY_OK(segnet_block_term_sizes(&s.net, &s.ctx, t));
    for (int i = 0; i < 2; i++)
      cr_assert(v == 0 ? isnan(t[i].gamma) && isnan(t[i].unary)
                       : t[i].gamma == 0.0f && t[i].pairwise == 0.0f && t[i].unary > 0.0f,
                "%s: term sizes %g %g %g", variants[v], (double)t[i].gamma, (double)t[i].pairwise,
                (double)t[i].unary);
    const tensor *m[2] = {&s.net.head.drop.scale, &s.net.aux.drop.scale};
    for (int k = 0; k < 2; k++) {
      cr_assert(s.net.head.drop.applied && s.net.aux.drop.applied);
      counts[k] = tensor_numel(m[k]);
      masks[v][k] = malloc(counts[k] * sizeof(float));
      memcpy(masks[v][k], m[k]->data, counts[k] * sizeof(float));
    }
    tensor_free(&x);
    session_close(&s);
  }
  for (int k = 0; k < 2; k++) {
    cr_assert_eq(counts[k], (size_t)2 * 16);
    int dropped = 0;
    for (size_t i = 0; i < counts[k]; i++)
      dropped += masks[0][k][i] == 0.0f;
    for (int v = 1; v < 3; v++)
      cr_assert(memcmp(masks[0][k], masks[v][k], counts[k] * sizeof(float)) == 0,
                "%s mask of %s differs from none's", k ? "aux" : "head", variants[v]);
    cr_assert_lt(dropped, (int)counts[k], "every channel dropped");
  }
  for (int v = 0; v < 3; v++)
    free(masks[v][0]), free(masks[v][1]);
}
