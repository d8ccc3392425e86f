/* All parameters of a network in one contiguous buffer (values, gradients and
 * momentum likewise), each under its PyTorch-style name with a weight-decay
 * flag. One buffer means one all-reduce per step and trivial checkpoints.
 *
 * Use: layers call params_add() while the network is built, each handing the
 * tensor structs that will view its value and gradient; params_finalize()
 * allocates the buffers and points those views into them; params_init_values()
 * fills every value from its init rule.
 *
 * Initial values are paired across networks: each parameter draws from its own
 * random stream, keyed by (seed, parameter name), so two networks built with the
 * same seed give every parameter they share the same initial value whatever else
 * either registers, and in whatever order. */
#ifndef DNL_PARAMS_H
#define DNL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/backend.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"

#define PARAM_NAME_MAX 128

typedef enum {
  PARAM_INIT_CONST,   /* value a */
  PARAM_INIT_NORMAL,  /* N(a, b^2) */
  PARAM_INIT_UNIFORM, /* U(a, b) */
} param_init_kind;

typedef struct param_init {
  param_init_kind kind;
  float a, b;
} param_init;

typedef enum {
  PARAM_TRAINABLE = 0, /* has a gradient, updated by SGD with weight decay */
  PARAM_NO_DECAY = 1,  /* trainable, weight decay 0 ("nowd") */
  PARAM_BUFFER = 2,    /* running statistics: saved, not trained */
} param_kind;

typedef struct param_entry {
  char name[PARAM_NAME_MAX];
  int ndim;
  int shape[TENSOR_MAX_DIMS];
  size_t offset; /* in floats, into the store's buffers */
  size_t numel;
  param_kind kind;
  param_init init;
  char init_stream[PARAM_NAME_MAX]; /* name keying the init stream: its own, or the
                                       source's of params_tie_init */
  float lr_mult;                    /* learning-rate factor (1 unless set) */
  tensor *value;                    /* views set by params_finalize (grad NULL for buffers) */
  tensor *grad;
} param_entry;

typedef struct param_store {
  param_entry *entries;
  int count, capacity;
  size_t total; /* floats */
  const dnl_backend *be;
  float *values;   /* [total] */
  float *grads;    /* [total]; zero at buffer entries */
  float *momentum; /* [total] */
  bool finalized;
} param_store;

void params_init(param_store *ps);
void params_free(param_store *ps);

/* Registers a parameter; the name must be unique. grad may be NULL for buffers. */
dnl_status params_add(param_store *ps, const char *name, int ndim, const int *shape,
                      param_kind kind, param_init init, tensor *value, tensor *grad);

/* Before finalize: `name` draws its initial value from `source`'s stream, so the two
 * start equal when their shapes and init rules are (both required); they train
 * independently afterwards. */
dnl_status params_tie_init(param_store *ps, const char *name, const char *source);
/* Sets the learning-rate factor of every entry named "<prefix>." something;
 * mult must be finite and > 0. *count (may be NULL) gets how many it set. */
dnl_status params_set_lr_mult(param_store *ps, const char *prefix, float mult, int *count);

dnl_status params_finalize(param_store *ps, const dnl_backend *be);
/* Inference: the values only (grads and momentum NULL, gradient tensors
 * without data); zero_grad, sgd_step and checkpoint_save refuse such a store. */
dnl_status params_finalize_values(param_store *ps, const dnl_backend *be);
/* Fills every value from its init rule (host side, then uploads); random rules
 * draw from the entry's own stream rng_seed3(seed, PARAMS_INIT_DOMAIN,
 * rng_hash_name(name)). */
#define PARAMS_INIT_DOMAIN 0x1417
dnl_status params_init_values(param_store *ps, uint64_t seed);

/* Entry by exact name, or NULL. */
param_entry *params_find(param_store *ps, const char *name);
size_t params_count_trainable(const param_store *ps);

dnl_status params_zero_grad(param_store *ps);
/* SGD step over every trainable entry with learning rate lr * its lr_mult; weight
 * decay is 0 for PARAM_NO_DECAY. */
dnl_status params_sgd_step(param_store *ps, float lr, float momentum, float weight_decay);

/* Poly schedule: base * (1 - it / max_it)^power; iteration 0 gives base. */
double poly_lr(double base, long it, long max_it, double power);

#endif
