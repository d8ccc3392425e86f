#!/usr/bin/python3
"""Writes tests/fixtures/layers.h5: inputs, outputs and gradients of every layer,
computed once with PyTorch (Debian python3-torch) as an independent reference.

Run from the repository root:  /usr/bin/python3 tests/reference/make_fixtures.py
The tests only read the committed fixture file; they never need torch.
Each case is a group holding its inputs, parameters, the output gradient `dy`
that was back-propagated, and the results."""
import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = "tests/fixtures/layers.h5"


def put(group, **arrays):
    for name, value in arrays.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        group.create_dataset(name, data=np.asarray(value))


def conv_case(f, name, n, cin, h, w, cout, k, stride, pad, dilation, bias):
    x = torch.randn(n, cin, h, w, requires_grad=True)
    wt = (torch.randn(cout, cin, k, k) * 0.3).requires_grad_()
    b = (torch.randn(cout) * 0.3).requires_grad_() if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dilation)
    dy = torch.randn_like(y)
    y.backward(dy)
    g = f.create_group(name)
    put(g, geometry=np.array([n, cin, h, w, cout, k, stride, pad, dilation, int(bias)],
                             dtype=np.int32),
        x=x, weight=wt, y=y, dy=dy, dx=x.grad, dweight=wt.grad)
    if bias:
        put(g, bias=b, dbias=b.grad)


def main():
    with h5py.File(OUT, "w") as f:
        conv_case(f, "conv_k3_s2_p1_bias", 2, 3, 9, 8, 4, 3, 2, 1, 1, True)
        conv_case(f, "conv_k3_d2_p2", 1, 4, 10, 9, 3, 3, 1, 2, 2, False)
        conv_case(f, "conv_k1_bias", 2, 5, 6, 7, 3, 1, 1, 0, 1, True)


if __name__ == "__main__":
    main()
