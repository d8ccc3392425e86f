#include "runner/arch_diff.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What one side (the file or the network) has. */
typedef struct side {
  int units[4];    /* residual units per stage */
  bool bottleneck; /* backbone.layer1.0.conv3 */
  bool aux;
  int classes, head_width; /* head.cls.weight[0], head.conva.weight[0]; 0: absent */
} side;

/* The block's tensors that tell its terms apart. */
static const struct {
  const char *prefix, *what;
} block_parts[] = {
    {"head.block.query.", "a pairwise term (query / key convs)"},
    {"head.block.mask.", "a unary term (conv_mask)"},
    {"head.block.value.", "a value conv"},
    {"head.block.out.", "an output conv (use_out)"},
    {"head.block.out_norm.", "an output norm (out_bn)"},
};
#define NPARTS (int)(sizeof block_parts / sizeof block_parts[0])

static bool starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* First number of "[19, 512, 1, 1]". */
static int first_dim(const char *shape) {
  int v = 0;
  return sscanf(shape, "[%d", &v) == 1 ? v : 0;
}

static void note(side *s, const char *name, const char *shape) {
  int st, unit;
  if (sscanf(name, "backbone.layer%d.%d.", &st, &unit) == 2 && st >= 1 && st <= 4 &&
      unit + 1 > s->units[st - 1])
    s->units[st - 1] = unit + 1;
  if (starts(name, "backbone.layer1.0.conv3."))
    s->bottleneck = true;
  if (starts(name, "aux."))
    s->aux = true;
  if (!strcmp(name, "head.cls.weight"))
    s->classes = first_dim(shape);
  if (!strcmp(name, "head.conva.weight"))
    s->head_width = first_dim(shape);
}

static void note_list(side *s, const checkpoint_list *l, bool store_shape) {
  for (int i = 0; i < l->count; i++)
    note(s, l->items[i].name, store_shape ? l->items[i].store_shape : l->items[i].shape);
}

static bool has_part(const checkpoint_list *a, const checkpoint_list *b, const char *prefix) {
  const checkpoint_list *ls[2] = {a, b};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < ls[k]->count; i++)
      if (starts(ls[k]->items[i].name, prefix))
        return true;
  return false;
}

static const char *resnet_name(const side *s) {
  static const struct {
    int units[4];
    bool bottleneck;
    const char *name;
  } known[] = {{{2, 2, 2, 2}, false, "ResNet-18"},
               {{3, 4, 6, 3}, false, "ResNet-34"},
               {{3, 4, 6, 3}, true, "ResNet-50"},
               {{3, 4, 23, 3}, true, "ResNet-101"}};
  for (int i = 0; i < 4; i++)
    if (!memcmp(known[i].units, s->units, sizeof s->units) && known[i].bottleneck == s->bottleneck)
      return known[i].name;
  return NULL;
}

typedef struct text {
  char *buf;
  size_t len, used;
} text;

__attribute__((format(printf, 2, 3))) static void add(text *t, const char *fmt, ...) {
  if (t->used + 1 >= t->len)
    return;
  if (t->used)
    t->used += (size_t)snprintf(t->buf + t->used, t->len - t->used, "; ");
  va_list ap;
  va_start(ap, fmt);
  if (t->used < t->len)
    t->used += (size_t)vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
  va_end(ap);
}

/* A name the sentences above already account for. */
static bool explained(const checkpoint_report *rep, const char *name) {
  const bool headless = !has_part(&rep->loaded, &rep->mismatched, "head.") &&
                        !has_part(&rep->unexpected, &rep->unexpected, "head.");
  return starts(name, "backbone.layer") || starts(name, "aux.") || starts(name, "head.block.") ||
         !strcmp(name, "head.cls.weight") || !strcmp(name, "head.cls.bias") ||
         !strcmp(name, "head.conva.weight") || (headless && starts(name, "head."));
}

static void rest(text *t, const checkpoint_report *rep, const char *what, const checkpoint_list *l,
                 bool mismatch) {
  int n = 0;
  const checkpoint_entry *first = NULL;
  for (int i = 0; i < l->count; i++)
    if (!explained(rep, l->items[i].name) || (mismatch && starts(l->items[i].name, "backbone."))) {
      first = first ? first : &l->items[i];
      n++;
    }
  if (!n)
    return;
  if (mismatch)
    add(t, "%d tensors of other shapes, e.g. %s: file %s, network %s", n, first->name, first->shape,
        first->store_shape);
  else
    add(t, "%d tensors %s, e.g. %s %s", n, what, first->name, first->shape);
}

void arch_diff_describe(const checkpoint_report *rep, char *buf, size_t len) {
  text t = {buf, len, 0};
  if (len)
    buf[0] = '\0';
  if (!rep->missing.count && !rep->unexpected.count && !rep->mismatched.count)
    return;
  side file = {0}, net = {0};
  note_list(&file, &rep->loaded, false);
  note_list(&file, &rep->mismatched, false);
  note_list(&file, &rep->unexpected, false);
  note_list(&net, &rep->loaded, false);
  note_list(&net, &rep->mismatched, true);
  note_list(&net, &rep->missing, false);
  bool depth_differs = file.bottleneck != net.bottleneck;
  for (int s = 0; s < 4; s++)
    if (file.units[s] != net.units[s]) {
      add(&t, "layer%d: %d residual units in the file, %d in the network", s + 1, file.units[s],
          net.units[s]);
      depth_differs = true;
    }
  const char *rf = resnet_name(&file), *rn = resnet_name(&net);
  if (depth_differs && (rf || rn))
    add(&t, "backbone: %s in the file, %s in the network", rf ? rf : "another depth",
        rn ? rn : "another depth");
  if (!file.classes && !file.head_width) {
    add(&t, "head: none in the file (a backbone: for model.init, not for evaluation)");
  } else {
    if (file.classes != net.classes)
      add(&t, "classes: %d in the file, %d in the network", file.classes, net.classes);
    if (file.head_width != net.head_width)
      add(&t, "head width: %d in the file, %d in the network", file.head_width, net.head_width);
    for (int side_file = 1; side_file >= 0; side_file--) {
      char parts[400] = "";
      size_t n = 0;
      for (int i = 0; i < NPARTS; i++) {
        const bool both = has_part(&rep->loaded, &rep->mismatched, block_parts[i].prefix);
        const bool here = side_file
                              ? has_part(&rep->unexpected, &rep->unexpected, block_parts[i].prefix)
                              : has_part(&rep->missing, &rep->missing, block_parts[i].prefix);
        if (!both && here && n < sizeof parts)
          n += (size_t)snprintf(parts + n, sizeof parts - n, "%s%s", n ? ", " : "",
                                block_parts[i].what);
      }
      if (n)
        add(&t, "block: in the %s only: %s", side_file ? "file" : "network", parts);
    }
  }
  for (int i = 0; i < rep->mismatched.count; i++)
    if (starts(rep->mismatched.items[i].name, "head.block.")) {
      add(&t, "block: %s is %s in the file, %s in the network", rep->mismatched.items[i].name,
          rep->mismatched.items[i].shape, rep->mismatched.items[i].store_shape);
      break;
    }
  if (file.aux != net.aux)
    add(&t, "auxiliary head (aux.*): in the %s only (model.aux)", file.aux ? "file" : "network");
  rest(&t, rep, "missing from the file", &rep->missing, false);
  rest(&t, rep, "the network does not have", &rep->unexpected, false);
  rest(&t, rep, "", &rep->mismatched, true);
}
