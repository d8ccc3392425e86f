#!/usr/bin/python3
"""Writes tests/fixtures/net.h5 from the PyTorch construction in torch_segnet.py:
- r101_dnl/names, r101_dnl/shapes: every parameter and buffer name and shape of the
  paper's ResNet-101 + DNL head + aux head for 19 classes, and the trainable count;
- tiny/...: a tiny network's state (every tensor under its name), an input, and the
  eval-mode logits, so that the C network's forward can be compared value by value.
Run from the repository root:  /usr/bin/python3 tests/reference/make_net_fixtures.py"""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_segnet import SegNet  # noqa: E402

OUT = "tests/fixtures/net.h5"


def main():
    torch.manual_seed(0)
    big = SegNet(depth=101, classes=19, block="dnl", scale=False)
    tiny = SegNet(depth=18, width=0.125, layers=[1, 1, 1, 1], head_width=16, classes=3,
                  block="dnl", whiten="in", scale=True)
    with torch.no_grad():
        for name, t in tiny.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand_like(t) + 0.5)
            else:
                t.copy_(torch.randn_like(t) * 0.3)
    tiny.eval()
    x = torch.randn(2, 3, 37, 29)
    with torch.no_grad():
        logits, _ = tiny(x)
    # training mode (batch statistics), dropout off: gradients of
    # L = sum(logits * r_main) + sum(aux * r_aux) for every parameter
    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    tiny.train()
    tiny.head.drop.p = 0.0
    tiny.aux.drop.p = 0.0
    main, aux = tiny(x)
    r_main, r_aux = torch.randn_like(main), torch.randn_like(aux)
    ((main * r_main).sum() + (aux * r_aux).sum()).backward()
    with h5py.File(OUT, "w") as f:
        g = f.create_group("r101_dnl")
        sd = [(k, v) for k, v in big.state_dict().items() if not k.endswith("num_batches_tracked")]
        g.create_dataset("names", data=np.array([k.encode() for k, _ in sd]))
        shapes = np.zeros((len(sd), 4), dtype=np.int32)
        for i, (_, v) in enumerate(sd):
            s = list(v.shape) + [0] * (4 - v.dim())
            shapes[i] = s
        g.create_dataset("shapes", data=shapes)
        g.create_dataset("trainable", data=np.int64(sum(p.numel() for p in big.parameters())))
        t = f.create_group("tiny")
        for name, v in state.items():
            if not name.endswith("num_batches_tracked"):
                t.create_dataset("state/" + name, data=v.numpy())
        for name, p in tiny.named_parameters():
            t.create_dataset("grad/" + name, data=p.grad.numpy())
        t.create_dataset("x", data=x.numpy())
        t.create_dataset("logits", data=logits.numpy())
        t.create_dataset("train_logits", data=main.detach().numpy())
        t.create_dataset("r_main", data=r_main.numpy())
        t.create_dataset("r_aux", data=r_aux.numpy())


if __name__ == "__main__":
    main()
