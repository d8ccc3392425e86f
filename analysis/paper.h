/* Published mIoU (%) of the settings in the original code's README table
 * (SPEC 3), by dataset and preset. */
#ifndef DNL_ANALYSIS_PAPER_H
#define DNL_ANALYSIS_PAPER_H

#include <stdbool.h>

/* True and *miou (in %) when (dataset, preset) reproduces a published row;
 * *source is a short note on where the number comes from. */
bool paper_miou(const char *dataset, const char *preset, double *miou, const char **source);

#endif
