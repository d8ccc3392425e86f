#!/usr/bin/python3
"""Writes tests/fixtures/blocks.h5: outputs and gradients of the context block
(shared/SPEC.md section 1) for every preset and a few option combinations, and
of the instance / layer norm layers, computed once with PyTorch (Debian
python3-torch) as an independent reference. Computation in float64 from float32
inputs; everything is stored as float32.

Run from the repository root:  /usr/bin/python3 tests/reference/make_block_fixtures.py
The tests only read the committed fixture file; they never need torch.

Block case group "<case>": x [N, C, H, W], dy, y, dx, params/<leaf> and
grads/<leaf> under the parameter names without the prefix ("query.weight"),
queries (flat positions of sample 1), pair_maps [len(queries), H*W] and
unary_map [H*W] of sample 1. tests/test_blocks.c lists the cases with the
block options each one stands for; keep the two lists in step."""
import math

import h5py
import numpy as np
import torch
import torch.nn.functional as F

OUT = "tests/fixtures/blocks.h5"
N, C, H, W = 2, 8, 5, 7
INNER = C // 2
QUERIES = [0, 17, 34]

# case -> block options (None: option absent); presets as block_preset resolves them
CASES = {
    "preset_dnl_nowd_in": dict(pairwise=True, unary=True, whiten="in", scale=False),
    "preset_dnl_nowd_in_published": dict(pairwise=True, unary=True, whiten="none", scale=False),
    "preset_dnl_nowd_ln": dict(pairwise=True, unary=True, whiten="ln", scale=False),
    "preset_dnl_temp_in_cityscapes": dict(pairwise=True, unary=True, whiten="in", scale=True,
                                          temperature=0.05),
    "preset_dnl_temp_in_ade20k": dict(pairwise=True, unary=True, whiten="in", scale=True,
                                      temperature=0.1),
    "preset_nl_published": dict(pairwise=True, unary=False, whiten="none", scale=True),
    "pairwise_ln": dict(pairwise=True, unary=False, whiten="ln", scale=True),
    "unary_out_conv_ln": dict(pairwise=False, unary=True, out_conv=True, out_norm="ln"),
    "dnl_out_conv_bn": dict(pairwise=True, unary=True, whiten="in", scale=True, out_conv=True,
                            out_norm="bn"),
    "dnl_out_norm_in": dict(pairwise=True, unary=True, whiten="ln", scale=False,
                            out_norm="in"),
    # dnl_shared: the unary logits from the query's mean and the whitened key
    "dnl_shared_in": dict(pairwise=True, unary="shared", whiten="in", scale=True),
    "dnl_shared_temp": dict(pairwise=True, unary="shared", whiten="in", scale=True,
                            temperature=0.06),
    "dnl_shared_ln_out_conv_bn": dict(pairwise=True, unary="shared", whiten="ln", scale=False,
                                      out_conv=True, out_norm="bn"),
}


def f32(t):
    return t.detach().to(torch.float32).numpy()


def randn(*shape, scale=1.0):
    """float32 draws, so that the float64 computation starts from stored values"""
    return (torch.randn(*shape) * scale).to(torch.float32).to(torch.float64)


def make_params(opt):
    cv = INNER if opt.get("out_conv") else C
    p = {"value.weight": randn(cv, C, 1, 1, scale=0.3)}
    if opt["pairwise"]:
        for name in ("query", "key"):
            p[name + ".weight"] = randn(INNER, C, 1, 1, scale=0.3)
            p[name + ".bias"] = randn(INNER, scale=0.3)
        p["gamma"] = randn(1, scale=0.5) + 1.0
    if opt["unary"] is True:
        p["mask.weight"] = randn(1, C, 1, 1, scale=0.5)
        p["mask.bias"] = randn(1, scale=0.3)
    if opt.get("out_conv"):
        p["out.weight"] = randn(C, INNER, 1, 1, scale=0.3)
    if opt.get("out_norm"):
        p["out_norm.weight"] = randn(C, scale=0.2) + 1.0
        p["out_norm.bias"] = randn(C, scale=0.2)
    return p


def whiten(t, mode):
    """t [N, C', P] -> (the whitened t, the mean it subtracted or None)"""
    if mode == "in":
        mean = t.mean(dim=2, keepdim=True)  # [N, C', 1]
    elif mode == "ln":
        mean = t.mean(dim=(1, 2), keepdim=True)  # [N, 1, 1]
    else:
        return t, None
    return t - mean, mean


def shared_unary_logits(q_mean, k, s):
    """The published code's with_unary (NonLocal2d_bn): the query's whitening mean
    (expanded over the channels for ln) against the whitened key, [N, 1, P]; scaled
    by s as SPEC 1 writes it (the published code leaves the unary logits unscaled)."""
    if q_mean.shape[1] == 1:
        q_mean = q_mean.expand(-1, k.shape[1], -1)
    return s * torch.bmm(q_mean.transpose(1, 2), k)


def block(x, p, opt):
    """SPEC 1: returns out, the pairwise attention [N, P, P] and the unary map [N, P]"""
    n, c, h, w = x.shape
    v = F.conv2d(x, p["value.weight"]).flatten(2)  # [N, cv, P]
    z = torch.zeros_like(v)
    attn = unary = None
    if opt["pairwise"]:
        q, q_mean = whiten(F.conv2d(x, p["query.weight"], p["query.bias"]).flatten(2),
                           opt["whiten"])
        k, _ = whiten(F.conv2d(x, p["key.weight"], p["key.bias"]).flatten(2), opt["whiten"])
        s = 1.0 / (math.sqrt(INNER) * opt.get("temperature", 1.0)) if opt["scale"] else 1.0
        attn = torch.softmax(s * torch.einsum("nci,ncj->nij", q, k), dim=2)
        z = z + p["gamma"] * torch.einsum("ncj,nij->nci", v, attn)
    if opt["unary"] == "shared":
        unary = torch.softmax(shared_unary_logits(q_mean, k, s), dim=2)
        z = z + torch.bmm(v, unary.permute(0, 2, 1))
    elif opt["unary"]:
        unary = torch.softmax(F.conv2d(x, p["mask.weight"], p["mask.bias"]).flatten(2), dim=2)
        z = z + (v * unary).sum(dim=2, keepdim=True)
    z = z.reshape(n, -1, h, w)
    if opt.get("out_conv"):
        z = F.conv2d(z, p["out.weight"])
    norm = opt.get("out_norm")
    if norm == "bn":
        z = F.batch_norm(z, None, None, p["out_norm.weight"], p["out_norm.bias"], training=True,
                         eps=1e-5)
    elif norm == "in":
        z = F.instance_norm(z, weight=p["out_norm.weight"], bias=p["out_norm.bias"], eps=1e-5)
    elif norm == "ln":
        z = F.layer_norm(z, z.shape[1:], eps=1e-5)
        z = z * p["out_norm.weight"].view(1, -1, 1, 1) + p["out_norm.bias"].view(1, -1, 1, 1)
    return x + z, attn, unary.squeeze(1) if unary is not None else None


def block_case(f, name, opt):
    x = randn(N, C, H, W).requires_grad_()
    p = {k: v.requires_grad_() for k, v in make_params(opt).items()}
    y, attn, unary = block(x, p, opt)
    dy = randn(*y.shape)
    y.backward(dy)
    g = f.create_group(name)
    for key, val in (("x", x), ("dy", dy), ("y", y), ("dx", x.grad)):
        g.create_dataset(key, data=f32(val))
    for leaf, val in p.items():
        g.create_dataset("params/" + leaf, data=f32(val))
        g.create_dataset("grads/" + leaf, data=f32(val.grad))
    g.create_dataset("queries", data=np.array(QUERIES, dtype=np.int32))
    if attn is not None:
        g.create_dataset("pair_maps", data=f32(attn[1, QUERIES, :]))
    if unary is not None:
        g.create_dataset("unary_map", data=f32(unary[1]))


def norm_case(f, name, kind):
    x = randn(2, 3, 4, 5).requires_grad_()
    wt = (randn(3, scale=0.3) + 1.0).requires_grad_()
    b = randn(3, scale=0.3).requires_grad_()
    if kind == "in":
        y = F.instance_norm(x, weight=wt, bias=b, eps=1e-5)
    else:
        y = F.layer_norm(x, x.shape[1:], eps=1e-5) * wt.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)
    dy = randn(*y.shape)
    y.backward(dy)
    g = f.create_group(name)
    for key, val in (("x", x), ("weight", wt), ("bias", b), ("y", y), ("dy", dy),
                     ("dx", x.grad), ("dweight", wt.grad), ("dbias", b.grad)):
        g.create_dataset(key, data=f32(val))


def main():
    torch.manual_seed(0)
    with h5py.File(OUT, "w") as f:
        for name, opt in CASES.items():
            block_case(f, name, opt)
        norm_case(f, "norm_in", "in")
        norm_case(f, "norm_ln", "ln")


if __name__ == "__main__":
    main()
