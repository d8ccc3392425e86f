/* Predictions written in a dataset's own terms: the raw label value of each
 * train id (the inverse of dataset_info.label_map), and a colour palette for
 * label images of train ids. */
#ifndef DNL_DATA_LABEL_IDS_H
#define DNL_DATA_LABEL_IDS_H

#include <stdint.h>

#include "data/dataset.h"

/* raw[t] = the raw label value that maps to train id t (Cityscapes: label id,
 * ADE20K: t + 1); 255 for values that are not train ids, and raw[255] = 255.
 * Fails, naming the dataset, when a train id has no raw value. */
dnl_status label_ids_raw_of_train(const dataset_info *info, uint8_t raw[256]);

/* 256 RGB triples for train ids: the synthetic dataset's label colours, the
 * official Cityscapes colours, or for other datasets distinct colours spread
 * over the cube; ignore (255) is white. */
void label_ids_palette(const dataset_info *info, uint8_t palette[256 * 3]);

#endif
