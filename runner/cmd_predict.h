/* runner predict: label images (and optionally the logits) of a checkpoint on
 * image files. */
#ifndef DNL_CMD_PREDICT_H
#define DNL_CMD_PREDICT_H

/* argv[0] is the command name; returns the process exit status. */
int cmd_predict(int argc, char **argv);

#endif
