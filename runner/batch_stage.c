#include "runner/batch_stage.h"

#include <string.h>

static bool on_host(const batch_stage *st) { return st->be->device == DEVICE_CPU; }

static size_t pixels(const batch_stage *st) { return (size_t)st->n * st->h * st->w; }

dnl_status batch_stage_init(batch_stage *st, const dnl_backend *be, loader *ld, int n, int h,
                            int w) {
  *st = (batch_stage){.be = be, .ld = ld, .n = n, .h = h, .w = w};
  if (n < 1 || h < 1 || w < 1)
    return dnl_error(DNL_ERR_ARG, "batch stage: batches of %d images of %dx%d", n, h, w);
  if (on_host(st))
    return DNL_OK;
  for (int i = 0; i < 2; i++) {
    dnl_status s = be->alloc(3 * pixels(st) * sizeof(float), (void **)&st->images[i]);
    if (s == DNL_OK)
      s = be->alloc(pixels(st) * sizeof(int32_t), (void **)&st->labels[i]);
    if (s != DNL_OK) {
      batch_stage_free(st);
      return dnl_error_context(s, "batch stage: two batches of %d x %dx%d on %s", n, h, w,
                               be->name);
    }
  }
  return DNL_OK;
}

void batch_stage_free(batch_stage *st) {
  if (st->be && !on_host(st)) {
    /* an upload may still be writing into a buffer */
    if (st->pending && st->be->upload_wait() != DNL_OK)
      dnl_clear_error();
    for (int i = 0; i < 2; i++) {
      st->be->free(st->images[i]);
      st->be->free(st->labels[i]);
    }
  }
  memset(st, 0, sizeof *st);
}

static dnl_status fetch(batch_stage *st, const loader_batch **out) {
  DNL_TRY(loader_next(st->ld, out));
  const loader_batch *b = *out;
  if (!b)
    return dnl_error(DNL_ERR_ARG, "batch stage: the loader has no more batches");
  if (b->n != st->n || b->h != st->h || b->w != st->w)
    return dnl_error(DNL_ERR_SHAPE, "batch stage: a batch of %d x %dx%d, expected %d x %dx%d",
                     b->n, b->h, b->w, st->n, st->h, st->w);
  return DNL_OK;
}

/* Fetches the next batch and starts its upload into the buffer not handed out. */
static dnl_status start_upload(batch_stage *st) {
  const loader_batch *b;
  DNL_TRY(fetch(st, &b));
  const int next = 1 - st->cur;
  DNL_TRY(st->be->upload_async(st->images[next], b->images, 3 * pixels(st) * sizeof(float)));
  DNL_TRY(st->be->upload_async(st->labels[next], b->labels, pixels(st) * sizeof(int32_t)));
  st->pending = b;
  return DNL_OK;
}

dnl_status batch_stage_next(batch_stage *st, staged_batch *out) {
  memset(out, 0, sizeof *out);
  if (on_host(st)) {
    const loader_batch *b;
    DNL_TRY(fetch(st, &b));
    out->images = tensor_view4(b->images, DEVICE_CPU, b->n, 3, b->h, b->w);
    out->labels = b->labels;
    out->host = b;
    return DNL_OK;
  }
  if (!st->pending)
    DNL_TRY(start_upload(st));
  DNL_TRY(st->be->upload_wait());
  st->cur = 1 - st->cur;
  out->images = tensor_view4(st->images[st->cur], st->be->device, st->n, 3, st->h, st->w);
  out->labels = st->labels[st->cur];
  out->host = st->pending;
  st->pending = NULL;
  return DNL_OK;
}

dnl_status batch_stage_prefetch(batch_stage *st) {
  if (on_host(st) || st->pending)
    return DNL_OK;
  return start_upload(st);
}

loader_pos batch_stage_tell(const batch_stage *st) {
  return st->pending ? st->pending->pos : loader_tell(st->ld);
}

size_t batch_stage_device_bytes(const batch_stage *st) {
  return on_host(st) ? 0 : 2 * pixels(st) * (3 * sizeof(float) + sizeof(int32_t));
}
