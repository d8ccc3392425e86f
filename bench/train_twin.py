#!/usr/bin/python3
"""PyTorch twin of bench/bench_train.c: one training iteration (forward, main
loss + aux_weight * CE(aux), backward, SGD step with momentum and weight decay)
of the network bench_train measures, built with tests/reference/torch_segnet.py,
on random images and labels (no data loading).

Networks:
  default  the tiny network of experiments/base/synth_tiny.cfg: deep-stem dilated
           ResNet-18 with one BasicBlock per stage, width 0.25 (stem 16/16/32),
           planes 16/32/64/64, head 64, Dropout2d 0.1, aux head, 4 classes;
  --paper  the paper's: ResNet-101, head 512, Dropout2d 0.1, aux head, --classes.
The DNL block follows --whiten/--scale/--temperature (the harness's resolved
block); --nowd gives the query and key convs weight decay 0. The main loss is
CE with --class-weights, or OHEM (--ohem-thresh >= 0, --ohem-min-kept per image,
the kept pixels averaged plainly as the harness's OHEM does); the aux loss is CE.

--device cuda: the model and data on the GPU, fp32 with PyTorch's default TF32
convolutions (torch.backends.cudnn.allow_tf32 = True, matmuls without TF32);
every timed iteration ends with torch.cuda.synchronize().

Prints:
  twin threads=T batch=B crop=C median=<seconds per iteration> best=<seconds>
and with --device cuda a second line:
  twin memory peak_allocated=<bytes> peak_reserved=<bytes>
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


def build(a):
    block = dict(whiten=a.whiten, scale=a.scale == 1, temperature=a.temperature)
    if a.paper:
        return SegNet(depth=101, width=1.0, head_width=512, classes=a.classes, block="dnl",
                      dropout=0.1, aux=True, **block)
    return SegNet(depth=18, width=0.25, layers=[1, 1, 1, 1], planes=[16, 32, 64, 64],
                  head_width=64, classes=a.classes, block="dnl", dropout=0.1, aux=True, **block)


def optimiser(net, a):
    """SGD; with --nowd the block's query and key convs in a group without decay."""
    plain, nowd = [], []
    for name, p in net.named_parameters():
        in_qk = ".block.query." in name or ".block.key." in name
        (nowd if a.nowd and in_qk else plain).append(p)
    groups = [{"params": plain}]
    if nowd:
        groups.append({"params": nowd, "weight_decay": 0.0})
    return torch.optim.SGD(groups, lr=a.lr, momentum=0.9, weight_decay=5e-4)


def ohem_ce(logits, y, weight, thresh, min_kept):
    """Pixels whose true-class probability is below max(thresh, the min_kept * n-th
    smallest), CE (class-weighted per pixel) averaged over their count."""
    n, c = logits.shape[:2]
    with torch.no_grad():
        valid = y != 255
        prob = torch.softmax(logits, 1)
        p_gt = prob.gather(1, y.clamp(max=c - 1).unsqueeze(1)).squeeze(1)
        p_gt = torch.where(valid, p_gt, torch.full_like(p_gt, 2.0))
        count = int(valid.sum())
        threshold = thresh
        if count > 0:
            k = min(min_kept * n, count - 1)
            kth = torch.kthvalue(p_gt.flatten(), k + 1).values.item()
            threshold = max(kth, thresh)
        keep = valid & (p_gt < threshold)
    loss = F.cross_entropy(logits, y, weight=weight, ignore_index=255, reduction="none")
    kept = keep.sum()
    return (loss * keep).sum() / kept.clamp(min=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--paper", action="store_true")
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.04)
    ap.add_argument("--whiten", choices=["in", "ln", "none"], default="in")
    ap.add_argument("--scale", type=int, choices=[0, 1], default=1)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--nowd", action="store_true")
    ap.add_argument("--aux-weight", type=float, default=0.4)
    ap.add_argument("--class-weights", default="")
    ap.add_argument("--ohem-thresh", type=float, default=-1.0)
    ap.add_argument("--ohem-min-kept", type=int, default=100000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cuda = a.device == "cuda"
    if cuda:
        if not torch.cuda.is_available():
            sys.exit("train_twin: torch %s has no CUDA device" % torch.__version__)
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device(a.device)
    torch.manual_seed(1)
    net = build(a).to(dev)
    net.train()
    opt = optimiser(net, a)
    weight = None
    if a.class_weights:
        weight = torch.tensor([float(w) for w in a.class_weights.split(",")], device=dev)
    x = (torch.rand(a.batch, 3, a.crop, a.crop) * 250.0 - 120.0).to(dev)
    y = torch.randint(0, a.classes, (a.batch, a.crop, a.crop)).to(dev)

    def step():
        opt.zero_grad(set_to_none=False)
        main_logits, aux_logits = net(x)
        if a.ohem_thresh >= 0:
            main_loss = ohem_ce(main_logits, y, weight, a.ohem_thresh, a.ohem_min_kept)
        else:
            main_loss = F.cross_entropy(main_logits, y, weight=weight, ignore_index=255)
        loss = main_loss + a.aux_weight * F.cross_entropy(aux_logits, y, weight=weight,
                                                          ignore_index=255)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()
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
    if cuda:
        print("twin memory peak_allocated=%d peak_reserved=%d"
              % (torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()),
              flush=True)


if __name__ == "__main__":
    main()
