/* Train ids: the class indices 0 .. num_classes - 1 that every dataset's raw
 * label values are mapped to, and the value of pixels that count for nothing.
 * Below both the dataset interface (data/dataset.h) and the per-dataset specs
 * (data/dataset_spec.h). */
#ifndef DNL_DATA_TRAIN_IDS_H
#define DNL_DATA_TRAIN_IDS_H

/* ignored by the loss and the metrics */
#define DATASET_IGNORE 255

#endif
