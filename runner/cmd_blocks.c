/* runner blocks: lists the block variants with their summaries and the options
 * each takes, and every preset with the config it resolves to (all options). */
#include "runner/cmd_blocks.h"

#include <stdio.h>
#include <string.h>

#include "blocks/block.h"

/* datasets whose presets may differ (block_preset reads the name) */
static const char *const datasets[] = {"cityscapes", "ade20k", "pascal_context"};
#define DATASET_COUNT 3

static void print_options(void) {
  printf("options (block section keys; 'auto' = the variant's choice):\n"
         "  channels     C, the block's width (the network sets it to its head width)\n"
         "  inner        C' of query/key (and value with out_conv); 0 = C/2\n"
         "  whiten       auto | none | in | ln   (nl: none; pairwise: in, ln; dnl: none, "
         "in, ln)\n"
         "  temperature  > 0, default 1; s = 1 / (sqrt(C') * temperature) with scale on\n"
         "  scale        auto | on | off         (auto: on for nl, pairwise, dnl)\n"
         "  nowd         false | true            Q and K convs without weight decay\n"
         "  out_conv     false | true            1x1 C' -> C conv on Z\n"
         "  out_norm     none | bn | in | ln     norm on Z before the residual\n"
         "  fused        true | false            fused attention kernel or the "
         "materialised reference\n"
         "  qk_init_std  >= 0, default 0.01      std of the query and key weights\n"
         "  qk_tied      false | true            key weight starts equal to the query "
         "weight (same draw)\n"
         "  v_init_std   >= 0, default 0.01      std of the value weight\n"
         "  v_init_kaiming false | true          value std sqrt(2 / C), overriding "
         "v_init_std\n"
         "  gamma_init   default 0               gamma's initial value\n"
         "  mask_init_std >= 0, default 0.01     std of the unary mask weight\n"
         "  lr_mult      > 0, default 1          learning-rate factor of every block "
         "parameter\n"
         "options a variant has no use for must stay at their defaults (unary: whiten, "
         "scale, temperature, nowd, fused, qk_init_std, qk_tied, gamma_init, and inner "
         "without out_conv; nl, pairwise: mask_init_std; none: all)\n\n");
}

static int print_variants(void) {
  printf("variants:\n");
  for (int i = 0; i < block_count(); i++) {
    const block_ops *ops = block_at(i);
    block_config cfg = block_config_defaults(), r;
    snprintf(cfg.variant, sizeof cfg.variant, "%s", ops->name);
    if (block_config_resolve(&cfg, &r) != DNL_OK) {
      fprintf(stderr, "runner blocks: %s\n", dnl_last_error());
      return 1;
    }
    char text[512];
    printf("  %-10s %s\n", ops->name, ops->summary);
    const char *maps = ops->has_pairwise ? (ops->has_unary ? "pairwise + unary" : "pairwise")
                                         : (ops->has_unary ? "unary" : "none");
    printf("             attention maps: %s\n             defaults: %s\n", maps,
           block_config_format(&r, text, sizeof text));
  }
  printf("\n");
  return 0;
}

static int print_presets(void) {
  printf("presets (resolved with channels = 512):\n");
  for (int i = 0; i < block_preset_count(); i++) {
    const block_preset_info *p = block_preset_at(i);
    printf("  %s\n    %s\n", p->name, p->summary);
    char text[DATASET_COUNT][512];
    for (int d = 0; d < DATASET_COUNT; d++) {
      block_config cfg, r;
      if (block_preset(p->name, datasets[d], &cfg) != DNL_OK ||
          block_config_resolve(&cfg, &r) != DNL_OK) {
        fprintf(stderr, "runner blocks: preset %s: %s\n", p->name, dnl_last_error());
        return 1;
      }
      block_config_format(&r, text[d], sizeof text[d]);
    }
    /* one line per distinct resolution, naming the datasets it holds for */
    for (int d = 0; d < DATASET_COUNT; d++) {
      bool seen = false;
      for (int e = 0; e < d; e++)
        seen = seen || strcmp(text[e], text[d]) == 0;
      if (seen)
        continue;
      printf("    ");
      for (int e = d, first = 1; e < DATASET_COUNT; e++)
        if (strcmp(text[e], text[d]) == 0) {
          printf("%s%s", first ? "" : ", ", datasets[e]);
          first = 0;
        }
      printf(": %s\n", text[d]);
    }
  }
  return 0;
}

int cmd_blocks(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    fprintf(stderr, "usage: runner blocks   (takes no arguments)\n");
    return 2;
  }
  print_options();
  if (print_variants() != 0)
    return 1;
  return print_presets();
}
