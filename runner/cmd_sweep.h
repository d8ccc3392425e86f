/* runner sweep SWEEP.cfg: expand a matrix of runs, train and evaluate each. */
#ifndef DNL_CMD_SWEEP_H
#define DNL_CMD_SWEEP_H

int cmd_sweep(int argc, char **argv);

#endif
