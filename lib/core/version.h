#ifndef DNL_VERSION_H
#define DNL_VERSION_H

/* The git commit the programs were built from ("unknown" outside a checkout). */
const char *dnl_version(void);

#endif
