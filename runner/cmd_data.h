/* runner data synth | stats: write the synthetic dataset, check a dataset. */
#ifndef DNL_RUNNER_CMD_DATA_H
#define DNL_RUNNER_CMD_DATA_H

/* argv[0] is "data"; returns the process exit status (usage text on bad use). */
int cmd_data(int argc, char **argv);

#endif
