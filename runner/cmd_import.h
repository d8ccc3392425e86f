/* runner import: converts a PyTorch checkpoint (.pth, zip or legacy format)
 * or a safetensors file into this project's checkpoint layout, renaming the
 * tensors with a name map and optionally checking them against the network
 * a config builds. docs/pretrained.md describes it for users. */
#ifndef DNL_RUNNER_CMD_IMPORT_H
#define DNL_RUNNER_CMD_IMPORT_H

/* argv[0] is "import"; returns the process exit status (2 on bad usage). */
int cmd_import(int argc, char **argv);

#endif
