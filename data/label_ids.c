#include "data/label_ids.h"

#include <string.h>

#include "data/synth.h"

dnl_status label_ids_raw_of_train(const dataset_info *info, uint8_t raw[256]) {
  memset(raw, DATASET_IGNORE, 256);
  bool found[256] = {false};
  /* the smallest raw value of each train id (every dataset here has exactly one) */
  for (int v = 255; v >= 0; v--) {
    const int t = info->label_map[v];
    if (t != DATASET_IGNORE && info->label_known[v]) {
      raw[t] = (uint8_t)v;
      found[t] = true;
    }
  }
  for (int t = 0; t < info->num_classes; t++)
    if (!found[t])
      return dnl_error(DNL_ERR_INTERNAL, "%s: train id %d has no raw label value", info->name,
                       t);
  return DNL_OK;
}

/* Cityscapes' own colours of train ids 0..18 (road, sidewalk, ... bicycle). */
static const uint8_t cityscapes_colours[19][3] = {
    {128, 64, 128}, {244, 35, 232}, {70, 70, 70},   {102, 102, 156}, {190, 153, 153},
    {153, 153, 153}, {250, 170, 30}, {220, 220, 0},  {107, 142, 35},  {152, 251, 152},
    {70, 130, 180}, {220, 20, 60},  {255, 0, 0},    {0, 0, 142},     {0, 0, 70},
    {0, 60, 100},   {0, 80, 100},   {0, 0, 230},    {119, 11, 32},
};

/* Spreads the bits of v over the three channels, high bits first, so that
 * neighbouring ids get clearly different colours. */
static void spread_colour(int v, uint8_t rgb[3]) {
  rgb[0] = rgb[1] = rgb[2] = 0;
  for (int bit = 0; bit < 8; bit++)
    for (int ch = 0; ch < 3; ch++)
      if (v & (1 << (3 * bit + ch)))
        rgb[ch] |= (uint8_t)(0x80 >> bit);
}

void label_ids_palette(const dataset_info *info, uint8_t palette[256 * 3]) {
  if (!strcmp(info->name, "synth")) {
    memcpy(palette, synth_palette(), 256 * 3);
    return;
  }
  for (int v = 0; v < 256; v++)
    spread_colour(v + 1, palette + 3 * v);
  if (!strcmp(info->name, "cityscapes"))
    memcpy(palette, cityscapes_colours, sizeof cityscapes_colours);
  memset(palette + 3 * DATASET_IGNORE, 255, 3);
}
