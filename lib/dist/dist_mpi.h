/* The MPI implementation behind dist_open (lib/dist/dist.h), in lib/dist/dist_mpi.c:
 * compiled with MPI when the build found it (DNL_WITH_MPI), else a stub that
 * says so. */
#ifndef DNL_DIST_MPI_H
#define DNL_DIST_MPI_H

#include <stdbool.h>

#include "lib/dist/dist_comm.h"

/* Whether this build has MPI. */
bool dist_mpi_built(void);

/* Initialises MPI and fills d (rank, size, local rank, ops) for MPI_COMM_WORLD. */
dnl_status dist_mpi_open(dist *d);

#endif
