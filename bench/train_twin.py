#!/usr/bin/python3
"""PyTorch twin of bench/bench_train.c: one training iteration (forward,
1.0 * CE(main) + 0.4 * CE(aux), backward, SGD step with momentum and weight
decay) of the tiny network of experiments/base/synth_tiny.cfg, built with
tests/reference/torch_segnet.py: deep-stem dilated ResNet-18 with one
BasicBlock per stage, width 0.25 (stem 16/16/32), planes 16/32/64/64, head 64,
DNL block (whitening in, scaling on, unary term), Dropout2d 0.1, aux head,
4 classes. Random images and labels, no data loading.

Usage: train_twin.py --threads T [--batch 8 --crop 128 --warmup 3 --iters 10]
Prints:
  twin threads=T batch=B crop=C median=<seconds per iteration> best=<seconds>
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
from torch_segnet import SegNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = SegNet(depth=18, width=0.25, layers=[1, 1, 1, 1], planes=[16, 32, 64, 64],
                 head_width=64, classes=4, block="dnl", dropout=0.1, aux=True,
                 whiten="in", scale=True)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.04, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(a.batch, 3, a.crop, a.crop) * 250.0 - 120.0
    y = torch.randint(0, 4, (a.batch, a.crop, a.crop))

    def step():
        opt.zero_grad(set_to_none=False)
        main_logits, aux_logits = net(x)
        loss = (F.cross_entropy(main_logits, y, ignore_index=255)
                + 0.4 * F.cross_entropy(aux_logits, y, ignore_index=255))
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print("twin threads=%d batch=%d crop=%d median=%.6f best=%.6f"
          % (a.threads, a.batch, a.crop, statistics.median(times), min(times)), flush=True)


if __name__ == "__main__":
    main()
