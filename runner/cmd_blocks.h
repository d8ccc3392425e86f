/* runner blocks: the context block variants, options and presets. */
#ifndef DNL_CMD_BLOCKS_H
#define DNL_CMD_BLOCKS_H

/* argv[0] is "blocks". Returns the process exit status. */
int cmd_blocks(int argc, char **argv);

#endif
