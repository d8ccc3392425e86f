#!/bin/bash
# make published-check: the authors' published layout at full size, once by hand
# (too slow for the test suite; the suite checks the same at a tiny size):
#  1. tests/reference/make_published_fixtures.py --full writes a ResNet-101 + DNL
#     checkpoint (nonlocalnowd, whitening ln_nostd: the cityscapes-dnl_nowd_ln row)
#     with random values as the authors' code saved it, and PyTorch's logits of a
#     769 x 769 image;
#  2. runner sweep experiments/readme.cfg --eval-only evaluates it with that row's
#     config and protocol (sliding 769 / 512 + flip) on a one-image Cityscapes
#     validation set of 1024 x 2048 (random image and labels: the mIoU means nothing);
#  3. runner import --map published --config <the row's config> converts it, and
#     runner predict (one pass, no flip) must give PyTorch's logits.
# Needs python3-torch and python3-h5py; about 300 MB in a temporary folder; tens of
# minutes on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${DNL_TWIN_PYTHON:-/usr/bin/python3}
RUNNER=$ROOT/${DNL_BIN:-bin}/runner
if ! "$PY" -c 'import torch, h5py' 2>/dev/null; then
  echo "published-check: needs torch and h5py for $PY (apt-get install -y python3-torch python3-h5py)"
  exit 1
fi
TMP=$(mktemp -d /tmp/dnl_published_check.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ROW=cityscapes-dnl_nowd_ln
mkdir -p "$TMP/ck" "$TMP/data/cityscapes/val/image" "$TMP/data/cityscapes/val/label"
"$PY" - "$TMP" <<'PYEOF'
import sys
sys.path.insert(0, "tests/reference")
import numpy as np
from make_published_fixtures import write_png
tmp = sys.argv[1]
rng = np.random.default_rng(7)

def smooth(h, w):
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 100 * np.sin(x / 37.0 + c) * np.cos(y / 53.0 - c)
                    + rng.normal(0, 20, (h, w)) for c in range(3)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)

write_png(tmp + "/img769.png", smooth(769, 769))
write_png(tmp + "/data/cityscapes/val/image/a.png", smooth(1024, 2048))
ids = np.array([7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33],
               np.uint8)
label = ids[rng.integers(0, 19, (1024 // 64, 2048 // 64))].repeat(64, 0).repeat(64, 1)
import struct, zlib
raw = b"".join(b"\x00" + label[y].tobytes() for y in range(1024))
def chunk(k, d):
    return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
open(tmp + "/data/cityscapes/val/label/a.png", "wb").write(
    b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2048, 1024, 8, 0, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PYEOF
echo "== checkpoint in the published layout (ResNet-101 + DNL, random values) and PyTorch's logits"
"$PY" tests/reference/make_published_fixtures.py --full "$TMP/ck/$ROW.pth" --family nowd \
  --whiten ln_nostd --image "$TMP/img769.png" --logits "$TMP/torch_logits.h5"
echo "== evaluation with the row's config: runner sweep experiments/readme.cfg --eval-only"
(cd "$TMP" && /usr/bin/time -v "$RUNNER" sweep "$ROOT/experiments/readme.cfg" --eval-only \
  --checkpoint-dir "$TMP/ck" --only "$ROW" --device cpu --out "$TMP/results") 2>&1 |
  grep -Ev '^\s+(Average|Exit|Socket|Signals|Swaps|File system|Page size|Voluntary|Involuntary|Major|Percent)'
CFG=$TMP/results/readme-published/$ROW.cfg
echo "== import with the row's config, predict one pass, compare with PyTorch"
"$RUNNER" import "$TMP/ck/$ROW.pth" --map published --config "$CFG" -o "$TMP/r101.h5" --quiet
(cd "$TMP" && /usr/bin/time -v "$RUNNER" predict "$CFG" --checkpoint "$TMP/r101.h5" \
  --device cpu --set eval.flip=false --out "$TMP/pred" --save-logits "$TMP/ours.h5" --quiet "$TMP/img769.png") 2>&1 |
  grep -E 'Elapsed|User time|System time|Maximum resident|Minor'
"$PY" - "$TMP" <<'PYEOF'
import sys
import h5py
import numpy as np
tmp = sys.argv[1]
ours = h5py.File(tmp + "/ours.h5")["logits/img769"][()]
ref = h5py.File(tmp + "/torch_logits.h5")["logits"][()]
rel = np.abs(ours - ref).max() / np.abs(ref).max()
agree = (ours.argmax(0) == ref.argmax(0)).mean()
print("logits vs PyTorch: largest difference %.3g of the largest logit (%.1f); argmax "
      "agrees on %.5f%% of %d pixels" % (rel, np.abs(ref).max(), 100 * agree, ref[0].size))
sys.exit(0 if rel < 1e-3 and agree > 0.999 else 1)
PYEOF
echo "published-check: passed"
