/* Train id -> raw label value maps and label palettes (data/label_ids.h). */
#include <string.h>

#include "data/label_ids.h"
#include "tests/test_util.h"

static void raw_of(const char *name, uint8_t raw[256], dataset_info *info) {
  TRY_OK(dataset_info_get(name, info));
  TRY_OK(label_ids_raw_of_train(info, raw));
}

Test(label_ids, inverse_maps_of_every_dataset) {
  const char *const *names = dataset_names();
  for (int d = 0; names[d]; d++) {
    dataset_info info;
    uint8_t raw[256];
    raw_of(names[d], raw, &info);
    for (int t = 0; t < info.num_classes; t++)
      cr_assert_eq(info.label_map[raw[t]], t, "%s: train id %d -> raw %d -> %d", names[d], t,
                   raw[t], info.label_map[raw[t]]);
    for (int t = info.num_classes; t < 256; t++)
      cr_assert_eq(raw[t], 255, "%s: %d is not a train id", names[d], t);
  }
}

Test(label_ids, cityscapes_label_ids_and_ade20k_plus_one) {
  dataset_info info;
  uint8_t raw[256];
  raw_of("cityscapes", raw, &info);
  const uint8_t label_ids[19] = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                 23, 24, 25, 26, 27, 28, 31, 32, 33};
  cr_assert(memcmp(raw, label_ids, 19) == 0, "cityscapes train ids -> label ids");
  raw_of("ade20k", raw, &info);
  for (int t = 0; t < 150; t++)
    cr_assert_eq(raw[t], t + 1);
  raw_of("pascal_context", raw, &info);
  cr_assert(raw[0] == 1 && raw[58] == 59, "59 classes: background is not a train id");
  raw_of("pascal_context60", raw, &info);
  cr_assert(raw[0] == 0 && raw[59] == 59);
}

Test(label_ids, palettes_give_each_class_its_own_colour) {
  const char *const *names = dataset_names();
  for (int d = 0; names[d]; d++) {
    dataset_info info;
    TRY_OK(dataset_info_get(names[d], &info));
    uint8_t pal[256 * 3];
    label_ids_palette(&info, pal);
    for (int a = 0; a < info.num_classes; a++)
      for (int b = a + 1; b < info.num_classes; b++)
        cr_assert(memcmp(pal + 3 * a, pal + 3 * b, 3) != 0, "%s: classes %d and %d share a colour",
                  names[d], a, b);
  }
  dataset_info cs;
  TRY_OK(dataset_info_get("cityscapes", &cs));
  uint8_t pal[256 * 3];
  label_ids_palette(&cs, pal);
  cr_assert(pal[0] == 128 && pal[1] == 64 && pal[2] == 128, "road is purple");
}
