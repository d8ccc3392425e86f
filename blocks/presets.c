/* Named settings of the published results (shared/SPEC.md section 1, presets).
 * Where the published code and the paper disagree there is one preset each,
 * and the summary says which one it follows. */
#include <stdio.h>
#include <string.h>

#include "blocks/block.h"

typedef struct preset_def {
  block_preset_info info;
  const char *variant;
  block_whiten whiten;
  block_scale scale;
  bool nowd;
  float temperature;        /* Cityscapes and every other dataset */
  float temperature_ade20k; /* dataset "ade20k" */
} preset_def;

static const preset_def presets[] = {
    {{"dnl_nowd_in",
      "DNL, no scaling, Q/K without weight decay, whitening in: the paper's whitening (the "
      "published run of this row had none: dnl_nowd_in_published)"},
     "dnl", BLOCK_WHITEN_IN, BLOCK_SCALE_OFF, true, 1.0f, 1.0f},
    {{"dnl_nowd_in_published",
      "the same row as the published code ran it: its config asks for whitening 'channel', "
      "which the published block does not recognise, so no whitening"},
     "dnl", BLOCK_WHITEN_NONE, BLOCK_SCALE_OFF, true, 1.0f, 1.0f},
    {{"dnl_nowd_ln",
      "DNL, no scaling, Q/K without weight decay, whitening ln (published code; also the "
      "Pascal Context row)"},
     "dnl", BLOCK_WHITEN_LN, BLOCK_SCALE_OFF, true, 1.0f, 1.0f},
    {{"dnl_temp_in",
      "DNL, scaling with temperature 0.05 (0.1 on ade20k), whitening in, normal weight "
      "decay (published code)"},
     "dnl", BLOCK_WHITEN_IN, BLOCK_SCALE_ON, false, 0.05f, 0.1f},
    {{"nl_published",
      "plain NL baseline of the published code: scaling on, temperature 1, no whitening, "
      "no unary term"},
     "nl", BLOCK_WHITEN_NONE, BLOCK_SCALE_ON, false, 1.0f, 1.0f},
};

#define PRESET_COUNT ((int)(sizeof presets / sizeof presets[0]))

int block_preset_count(void) { return PRESET_COUNT; }

const block_preset_info *block_preset_at(int i) {
  return i >= 0 && i < PRESET_COUNT ? &presets[i].info : NULL;
}

dnl_status block_preset(const char *preset_name, const char *dataset_name, block_config *out) {
  for (int i = 0; preset_name && i < PRESET_COUNT; i++) {
    const preset_def *p = &presets[i];
    if (strcmp(p->info.name, preset_name) != 0)
      continue;
    *out = block_config_defaults();
    snprintf(out->variant, sizeof out->variant, "%s", p->variant);
    out->whiten = p->whiten;
    out->scale = p->scale;
    out->nowd = p->nowd;
    const bool ade = dataset_name && strcmp(dataset_name, "ade20k") == 0;
    out->temperature = ade ? p->temperature_ade20k : p->temperature;
    return DNL_OK;
  }
  char known[160] = "";
  for (int i = 0; i < PRESET_COUNT; i++) {
    strcat(known, i ? ", " : "");
    strcat(known, presets[i].info.name);
  }
  return dnl_error(DNL_ERR_ARG, "block preset '%s' is unknown (allowed: %s)",
                   preset_name ? preset_name : "(null)", known);
}
