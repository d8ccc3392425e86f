#!/usr/bin/python3
"""PyTorch twin of the context block measured by bench/bench_attention.c: the
DNL block of shared/SPEC.md section 1 (whitening in, scaling on, unary term,
gamma), N = 1, written the way the published PyTorch code computes it (bmm and
a softmax over the materialised P x P logits), forward + backward by autograd.

Usage: attention_twin.py --threads T --sizes 33,65,97 [--channels 512 --inner 256
       --repeats 3]
Prints one line per size (best of the repeats after two warm-up steps):
  twin size=S seconds=<wall fwd+bwd> cpu_seconds=<process CPU> rss_extra_bytes=<peak RSS
  growth of the first step>

With --device cuda: the pairwise attention alone on the GPU, materialised the
same way (q, k [1, inner, P], v [1, inner, P], scale 1/sqrt(inner), fp32 with
TF32 off), forward + backward by autograd, timed between synchronisations:
  twin_cuda device=<name>
  twin_cuda size=S seconds=<best fwd+bwd> peak_bytes=<torch.cuda.max_memory_allocated
  over the first step, inputs included>
or "twin_cuda unavailable: <why>" and exit status 3 when torch has no GPU.
"""
import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F


def rss_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss():
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def block(x, p, inner):
    n, c, h, w = x.shape
    q = F.conv2d(x, p["query.weight"], p["query.bias"]).flatten(2)
    k = F.conv2d(x, p["key.weight"], p["key.bias"]).flatten(2)
    v = F.conv2d(x, p["value.weight"]).flatten(2)
    q = q - q.mean(dim=2, keepdim=True)
    k = k - k.mean(dim=2, keepdim=True)
    logits = torch.bmm(q.transpose(1, 2), k) / math.sqrt(inner)
    attn = torch.softmax(logits, dim=2)
    pair = torch.bmm(v, attn.transpose(1, 2))
    u = torch.softmax(F.conv2d(x, p["mask.weight"], p["mask.bias"]).flatten(2), dim=2)
    unary = torch.bmm(v, u.transpose(1, 2))
    z = p["gamma"] * pair + unary
    return x + z.view(n, c, h, w)


def params(c, inner):
    def conv(cout, cin):
        return (torch.randn(cout, cin, 1, 1) * 0.05).requires_grad_()

    return {
        "query.weight": conv(inner, c), "query.bias": torch.zeros(inner, requires_grad=True),
        "key.weight": conv(inner, c), "key.bias": torch.zeros(inner, requires_grad=True),
        "value.weight": conv(c, c),
        "mask.weight": conv(1, c), "mask.bias": torch.zeros(1, requires_grad=True),
        "gamma": torch.ones(1, requires_grad=True),
    }


def step(x, dy, p, inner):
    y = block(x, p, inner)
    y.backward(dy)
    for t in list(p.values()) + [x]:
        t.grad = None


def attention_step(q, k, v, dout, scale):
    logits = torch.bmm(q.transpose(1, 2), k) * scale
    attn = torch.softmax(logits, dim=2)
    out = torch.bmm(v, attn.transpose(1, 2))
    out.backward(dout)
    for t in (q, k, v):
        t.grad = None


def cuda_main(a):
    if not torch.cuda.is_available():
        print(f"twin_cuda unavailable: torch {torch.__version__} sees no CUDA device", flush=True)
        return 3
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    print(f"twin_cuda device={torch.cuda.get_device_name(dev)}", flush=True)
    torch.manual_seed(0)
    scale = 1.0 / math.sqrt(a.inner)
    for s in (int(v) for v in a.sizes.split(",")):
        p = s * s
        q, k, v = (torch.randn(1, a.inner, p, device=dev).requires_grad_() for _ in range(3))
        dout = torch.randn(1, a.inner, p, device=dev)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        attention_step(q, k, v, dout, scale)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        attention_step(q, k, v, dout, scale)
        best = math.inf
        for _ in range(a.repeats):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            attention_step(q, k, v, dout, scale)
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        print(f"twin_cuda size={s} seconds={best:.6f} peak_bytes={peak}", flush=True)
        del q, k, v, dout
        torch.cuda.empty_cache()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--channels", type=int, default=512)
    ap.add_argument("--inner", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.device == "cuda":
        sys.exit(cuda_main(a))
    if a.threads is None:
        ap.error("--threads is required with --device cpu")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    p = params(a.channels, a.inner)
    for s in (int(v) for v in a.sizes.split(",")):
        x = torch.randn(1, a.channels, s, s).requires_grad_()
        dy = torch.randn(1, a.channels, s, s)
        reset_peak_rss()
        before = rss_bytes("VmRSS")
        step(x, dy, p, a.inner)
        extra = rss_bytes("VmHWM") - before
        step(x, dy, p, a.inner)
        wall, cpu = [], []
        for _ in range(a.repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            step(x, dy, p, a.inner)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        print(f"twin size={s} seconds={min(wall):.4f} cpu_seconds={min(cpu):.4f} "
              f"rss_extra_bytes={extra}", flush=True)


if __name__ == "__main__":
    main()
