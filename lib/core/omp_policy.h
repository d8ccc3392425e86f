/* How the harness's OpenMP threads wait between parallel regions.
 *
 * libgomp's default lets idle threads spin for a long time (300000 rounds);
 * on a small machine they then steal the cores from OpenBLAS and the loader
 * threads (training 3x slower, measured), while a purely passive policy puts
 * them to sleep after every region, and a training step runs hundreds of
 * short regions back to back (13% slower than a short spin on the tiny model,
 * measured). So the programs wait passively after a short spin: WAIT_SPINCOUNT
 * rounds (a few tens of microseconds). libgomp reads these variables when it
 * loads, before main, so a program restarts itself once with them set, unless
 * the user chose a policy. */
#ifndef DNL_OMP_POLICY_H
#define DNL_OMP_POLICY_H

/* Restarts the program (argv) with the policy unless OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT is set; returns when nothing was to do or the restart failed
 * (the program then runs under libgomp's default, only slower). */
void omp_policy_reexec(char **argv);

/* The policy in force, e.g. "passive, spin 10000" or "libgomp default". */
const char *omp_policy_describe(void);

#endif
