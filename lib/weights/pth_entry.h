/* An entry next to the tensors of a PyTorch checkpoint, as plain data: the
 * authors' checkpoints carry their run's configuration beside the weights
 * (torchcv's RunnerHelper.save_net saves {'config_dict', 'state_dict',
 * 'runner_state'}). Reads the object pickle of an opened file once more,
 * through the public zip and pickle readers; no tensor data is touched. */
#ifndef DNL_PTH_ENTRY_H
#define DNL_PTH_ENTRY_H

#include "lib/core/status.h"
#include "lib/weights/pickle.h"
#include "lib/weights/weight_file.h"

/* *out: the value under `key` of the file's top-level dict, or NULL when the
 * file is not a PyTorch checkpoint of a dict or has no such key. The value lives
 * in doc (pickle_doc_init before, pickle_doc_free after). */
dnl_status pth_read_entry(const weight_file *wf, pickle_doc *doc, const char *key,
                          const pk_value **out);

#endif
