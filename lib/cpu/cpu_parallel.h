/* When the CPU ops open an OpenMP parallel region. */
#ifndef DNL_CPU_PARALLEL_H
#define DNL_CPU_PARALLEL_H

/* Below this many elements an op runs on one thread: a parallel region costs
 * microseconds, and far more when another process holds a core. */
#define CPU_PARALLEL_MIN 65536

#endif
