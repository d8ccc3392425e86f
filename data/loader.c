#include "data/loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shuffle of an epoch draws from a stream no sample index can reach. */
#define SHUFFLE_STREAM UINT64_MAX
#define MAX_WORKERS 64

typedef enum { SLOT_FREE, SLOT_FILLING, SLOT_READY } slot_state;

typedef struct slot {
  slot_state state;
  long k; /* batch number (counted from the start position) it holds */
  loader_batch batch;
  int *samples;
  dnl_status status;
  char msg[1024];
} slot;

typedef struct worker {
  loader *l;
  pthread_t thread;
  image img, label;
  augment_scratch aug;
  int *perm; /* the order of epoch perm_epoch */
  long perm_epoch;
} worker;

struct loader {
  loader_config cfg;
  int n;           /* dataset size */
  long bpe;        /* training: batches per epoch */
  long total;      /* evaluation: batches of this rank */
  long start_abs;  /* training: absolute batch number of the start position */
  size_t capacity; /* pixels per image a slot holds */
  int nslots, nworkers, started;
  slot *slots;
  worker *workers;
  pthread_mutex_t mu;
  pthread_cond_t can_claim, ready;
  long next_claim, next_consume;
  int held; /* slot the caller holds, -1 none */
  bool error_seen;
  atomic_bool stop;
  dnl_status failed;
  char failed_msg[1024];
};

dnl_status loader_config_init(loader_config *cfg, dataset *ds, loader_mode mode) {
  if (!ds)
    return dnl_error(DNL_ERR_ARG, "loader_config_init: no dataset");
  *cfg = (loader_config){.ds = ds, .mode = mode, .batch_size = 1, .workers = 2, .world = 1};
  return augment_defaults(dataset_get_info(ds)->name, &cfg->augment);
}

static bool is_train(const loader *l) { return l->cfg.mode == LOADER_TRAIN; }

static bool finished(const loader *l, long k) { return !is_train(l) && k >= l->total; }

static loader_pos position(const loader *l, long k) {
  if (!is_train(l))
    return (loader_pos){0, k};
  long abs = l->start_abs + k;
  return (loader_pos){abs / l->bpe, abs % l->bpe};
}

static void epoch_order(const loader *l, long epoch, int *perm) {
  rng r;
  rng_seed3(&r, l->cfg.seed, (uint64_t)epoch, SHUFFLE_STREAM);
  for (int i = 0; i < l->n; i++)
    perm[i] = i;
  for (int i = l->n - 1; i > 0; i--) {
    int j = (int)rng_int(&r, 0, i);
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static dnl_status fill_train(loader *l, worker *w, slot *s, loader_pos pos) {
  const loader_config *c = &l->cfg;
  if (w->perm_epoch != pos.epoch) {
    epoch_order(l, pos.epoch, w->perm);
    w->perm_epoch = pos.epoch;
  }
  long first = pos.batch * c->batch_size * c->world + (long)c->rank * c->batch_size;
  size_t plane = (size_t)c->augment.crop_h * c->augment.crop_w;
  s->batch.h = c->augment.crop_h;
  s->batch.w = c->augment.crop_w;
  s->batch.n = c->batch_size;
  for (int j = 0; j < c->batch_size; j++) {
    if (atomic_load(&l->stop))
      return dnl_error(DNL_ERR_INTERNAL, "loader stopped");
    int idx = w->perm[first + j];
    s->samples[j] = idx;
    rng r;
    rng_seed3(&r, c->seed, (uint64_t)pos.epoch, (uint64_t)idx);
    DNL_TRY(dataset_read(c->ds, idx, &w->img, &w->label));
    DNL_TRY(augment_train(&c->augment, &r, &w->img, &w->label,
                          s->batch.images + (size_t)j * 3 * plane,
                          s->batch.labels + (size_t)j * plane, &w->aug));
  }
  return DNL_OK;
}

static dnl_status fill_eval(loader *l, worker *w, slot *s, long k) {
  const loader_config *c = &l->cfg;
  int idx = (int)(c->rank + k * c->world);
  s->samples[0] = idx;
  DNL_TRY(dataset_read(c->ds, idx, &w->img, &w->label));
  size_t plane = (size_t)w->img.w * w->img.h;
  if (plane > l->capacity)
    return dnl_error(DNL_ERR_FORMAT, "%s: decoded to %dx%d, larger than its header said",
                     dataset_image_path(c->ds, idx), w->img.w, w->img.h);
  s->batch.n = 1;
  s->batch.h = w->img.h;
  s->batch.w = w->img.w;
  augment_normalize(&c->augment, &w->img, s->batch.images);
  for (size_t i = 0; i < plane; i++)
    s->batch.labels[i] = w->label.data[i];
  return DNL_OK;
}

static dnl_status fill_batch(loader *l, worker *w, slot *s, long k) {
  s->batch.pos = position(l, k);
  if (is_train(l))
    return fill_train(l, w, s, s->batch.pos);
  return fill_eval(l, w, s, k);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  loader *l = w->l;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!atomic_load(&l->stop) && !l->error_seen && !finished(l, l->next_claim) &&
           l->slots[l->next_claim % l->nslots].state != SLOT_FREE)
      pthread_cond_wait(&l->can_claim, &l->mu);
    if (atomic_load(&l->stop) || l->error_seen || finished(l, l->next_claim))
      break;
    long k = l->next_claim++;
    slot *s = &l->slots[k % l->nslots];
    s->state = SLOT_FILLING;
    s->k = k;
    pthread_cond_broadcast(&l->can_claim);
    pthread_mutex_unlock(&l->mu);
    dnl_status st = fill_batch(l, w, s, k);
    pthread_mutex_lock(&l->mu);
    s->status = st;
    if (st != DNL_OK) {
      snprintf(s->msg, sizeof s->msg, "%s", dnl_last_error());
      /* batches before k are all claimed already, so the caller still gets them */
      l->error_seen = true;
      pthread_cond_broadcast(&l->can_claim);
    }
    s->state = SLOT_READY;
    pthread_cond_broadcast(&l->ready);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

static dnl_status check_config(const loader_config *c) {
  if (!c->ds)
    return dnl_error(DNL_ERR_ARG, "loader: no dataset");
  if (c->mode != LOADER_TRAIN && c->mode != LOADER_EVAL)
    return dnl_error(DNL_ERR_ARG, "loader: unknown mode %d", (int)c->mode);
  if (c->workers < 1 || c->workers > MAX_WORKERS)
    return dnl_error(DNL_ERR_ARG, "loader: workers %d not in 1..%d", c->workers, MAX_WORKERS);
  if (c->prefetch < 0)
    return dnl_error(DNL_ERR_ARG, "loader: prefetch %d is negative", c->prefetch);
  if (c->world < 1 || c->rank < 0 || c->rank >= c->world)
    return dnl_error(DNL_ERR_ARG, "loader: rank %d of world %d", c->rank, c->world);
  if (c->mode == LOADER_TRAIN) {
    if (c->batch_size < 1)
      return dnl_error(DNL_ERR_ARG, "loader: batch_size %d must be >= 1", c->batch_size);
    if (c->start.epoch < 0 || c->start.batch < 0)
      return dnl_error(DNL_ERR_ARG, "loader: start position (%ld, %ld) is negative",
                       c->start.epoch, c->start.batch);
    DNL_TRY(augment_check(&c->augment));
  }
  return DNL_OK;
}

/* Evaluation slots must hold the largest image of this rank's pass. */
static dnl_status largest_image(loader *l) {
  l->capacity = 1;
  for (long k = 0; k < l->total; k++) {
    int w, h;
    DNL_TRY(dataset_image_size(l->cfg.ds, (int)(l->cfg.rank + k * l->cfg.world), &w, &h));
    if ((size_t)w * h > l->capacity)
      l->capacity = (size_t)w * h;
  }
  return DNL_OK;
}

static dnl_status plan(loader *l) {
  const loader_config *c = &l->cfg;
  l->n = dataset_size(c->ds);
  if (!is_train(l)) {
    l->total = c->rank < l->n ? (l->n - c->rank + c->world - 1) / c->world : 0;
    return largest_image(l);
  }
  long global = (long)c->batch_size * c->world;
  l->bpe = l->n / global;
  if (l->bpe == 0)
    return dnl_error(DNL_ERR_ARG,
                     "loader: %s has %d samples, fewer than one global batch of %ld "
                     "(batch %d x world %d)",
                     dataset_get_info(c->ds)->name, l->n, global, c->batch_size, c->world);
  if (c->start.batch >= l->bpe)
    return dnl_error(DNL_ERR_ARG, "loader: start batch %ld is past the %ld batches per epoch",
                     c->start.batch, l->bpe);
  l->start_abs = c->start.epoch * l->bpe + c->start.batch;
  l->capacity = (size_t)c->augment.crop_h * c->augment.crop_w;
  return DNL_OK;
}

/* A slot's image or label buffer: pinned when the config asks for it. */
static dnl_status slot_buffer(loader *l, size_t bytes, void **out) {
  if (l->cfg.pinned)
    return l->cfg.pinned->host_alloc_pinned(bytes, out);
  *out = malloc(bytes);
  return *out ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "loader: out of memory (%zu bytes)", bytes);
}

static void slot_buffer_free(loader *l, void *p) {
  if (l->cfg.pinned)
    l->cfg.pinned->host_free_pinned(p);
  else
    free(p);
}

static dnl_status allocate(loader *l) {
  int per_batch = is_train(l) ? l->cfg.batch_size : 1;
  l->nworkers = l->cfg.workers;
  l->nslots = l->cfg.prefetch > 0 ? l->cfg.prefetch : l->nworkers + 2;
  l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
  l->workers = calloc((size_t)l->nworkers, sizeof *l->workers);
  if (!l->slots || !l->workers)
    return dnl_error(DNL_ERR_NOMEM, "loader: out of memory");
  size_t pixels = (size_t)per_batch * l->capacity;
  for (int i = 0; i < l->nslots; i++) {
    slot *s = &l->slots[i];
    dnl_status st = slot_buffer(l, 3 * pixels * sizeof *s->batch.images,
                                (void **)&s->batch.images);
    if (st == DNL_OK)
      st = slot_buffer(l, pixels * sizeof *s->batch.labels, (void **)&s->batch.labels);
    if (st != DNL_OK)
      return dnl_error_context(st, "loader: %d slots of %zu pixels", l->nslots, pixels);
    s->samples = malloc((size_t)per_batch * sizeof *s->samples);
    s->batch.samples = s->samples;
    if (!s->samples)
      return dnl_error(DNL_ERR_NOMEM, "loader: out of memory for %d slots", l->nslots);
  }
  for (int i = 0; i < l->nworkers; i++) {
    worker *w = &l->workers[i];
    w->l = l;
    w->perm_epoch = -1;
    if (is_train(l) && !(w->perm = malloc((size_t)l->n * sizeof *w->perm)))
      return dnl_error(DNL_ERR_NOMEM, "loader: out of memory for the sample order");
  }
  return DNL_OK;
}

dnl_status loader_create(const loader_config *cfg, loader **out) {
  *out = NULL;
  DNL_TRY(check_config(cfg));
  loader *l = calloc(1, sizeof *l);
  if (!l)
    return dnl_error(DNL_ERR_NOMEM, "loader: out of memory");
  l->cfg = *cfg;
  l->held = -1;
  atomic_init(&l->stop, false);
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->can_claim, NULL);
  pthread_cond_init(&l->ready, NULL);
  dnl_status st = plan(l);
  if (st == DNL_OK)
    st = allocate(l);
  for (; st == DNL_OK && l->started < l->nworkers; l->started++) {
    worker *w = &l->workers[l->started];
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
      st = dnl_error(DNL_ERR_INTERNAL, "loader: cannot start worker thread %d", l->started);
  }
  if (st != DNL_OK) {
    loader_destroy(l);
    return st;
  }
  *out = l;
  return DNL_OK;
}

dnl_status loader_next(loader *l, const loader_batch **out) {
  *out = NULL;
  pthread_mutex_lock(&l->mu);
  if (l->failed != DNL_OK) {
    pthread_mutex_unlock(&l->mu);
    return dnl_error(l->failed, "%s", l->failed_msg);
  }
  if (l->held >= 0) {
    l->slots[l->held].state = SLOT_FREE;
    l->held = -1;
    pthread_cond_broadcast(&l->can_claim);
  }
  if (finished(l, l->next_consume)) {
    pthread_mutex_unlock(&l->mu);
    return DNL_OK;
  }
  int idx = (int)(l->next_consume % l->nslots);
  slot *s = &l->slots[idx];
  while (!(s->state == SLOT_READY && s->k == l->next_consume))
    pthread_cond_wait(&l->ready, &l->mu);
  if (s->status != DNL_OK) {
    loader_pos p = position(l, l->next_consume);
    l->failed = s->status;
    snprintf(l->failed_msg, sizeof l->failed_msg, "loader, epoch %ld batch %ld: %.960s", p.epoch,
             p.batch, s->msg);
    atomic_store(&l->stop, true);
    pthread_cond_broadcast(&l->can_claim);
    pthread_mutex_unlock(&l->mu);
    return dnl_error(l->failed, "%s", l->failed_msg);
  }
  l->held = idx;
  l->next_consume++;
  *out = &s->batch;
  pthread_mutex_unlock(&l->mu);
  return DNL_OK;
}

loader_pos loader_tell(loader *l) {
  pthread_mutex_lock(&l->mu);
  loader_pos p = position(l, l->next_consume);
  pthread_mutex_unlock(&l->mu);
  return p;
}

long loader_num_batches(const loader *l) { return is_train(l) ? l->bpe : l->total; }

void loader_destroy(loader *l) {
  if (!l)
    return;
  pthread_mutex_lock(&l->mu);
  atomic_store(&l->stop, true);
  pthread_cond_broadcast(&l->can_claim);
  pthread_mutex_unlock(&l->mu);
  for (int i = 0; i < l->started; i++)
    pthread_join(l->workers[i].thread, NULL);
  for (int i = 0; l->workers && i < l->nworkers; i++) {
    worker *w = &l->workers[i];
    image_free(&w->img);
    image_free(&w->label);
    augment_scratch_free(&w->aug);
    free(w->perm);
  }
  for (int i = 0; l->slots && i < l->nslots; i++) {
    slot_buffer_free(l, l->slots[i].batch.images);
    slot_buffer_free(l, l->slots[i].batch.labels);
    free(l->slots[i].samples);
  }
  free(l->slots);
  free(l->workers);
  pthread_cond_destroy(&l->can_claim);
  pthread_cond_destroy(&l->ready);
  pthread_mutex_destroy(&l->mu);
  free(l);
}
