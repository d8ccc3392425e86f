/* runner train | eval | params | config: one run from a config file. */
#ifndef DNL_CMD_RUN_H
#define DNL_CMD_RUN_H

/* argv[0] is the command name; return the process exit status. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_params(int argc, char **argv);
int cmd_config(int argc, char **argv);

/* --device NAME (train, eval, predict): the --set assignment that overrides the
 * config's device, or NULL after printing why NAME is no device. */
const char *cmd_device_override(const char *cmd, const char *name);

#endif
