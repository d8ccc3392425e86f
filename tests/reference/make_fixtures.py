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


def bn_cases(f):
    """Training forward/backward from running stats 0/1, then an eval forward and
    backward on a new input with the running stats of that one update."""
    bn = torch.nn.BatchNorm2d(3, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        bn.weight.copy_(torch.randn(3) * 0.5 + 1.0)
        bn.bias.copy_(torch.randn(3) * 0.5)
    x = (torch.randn(2, 3, 5, 4) * 2.0 + 0.5).requires_grad_()
    bn.train()
    y = bn(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    g = f.create_group("bn_train")
    put(g, x=x, weight=bn.weight, bias=bn.bias, y=y, dy=dy, dx=x.grad,
        dweight=bn.weight.grad, dbias=bn.bias.grad, running_mean=bn.running_mean,
        running_var=bn.running_var)
    bn.zero_grad()
    bn.eval()
    x2 = (torch.randn(2, 3, 4, 3) * 2.0 + 0.5).requires_grad_()
    y2 = bn(x2)
    dy2 = torch.randn_like(y2)
    y2.backward(dy2)
    g = f.create_group("bn_eval")
    put(g, x=x2, y=y2, dy=dy2, dx=x2.grad, dweight=bn.weight.grad, dbias=bn.bias.grad)


def relu_case(f):
    x = torch.randn(2, 3, 4, 5, requires_grad=True)
    y = F.relu(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(f.create_group("relu"), x=x, y=y, dy=dy, dx=x.grad)


def maxpool_case(f, name, n, c, h, w, ceil_mode):
    # random values are distinct almost surely, so the argmax is unique
    x = torch.randn(n, c, h, w, requires_grad=True)
    y = F.max_pool2d(x, 3, 2, 1, ceil_mode=ceil_mode)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(f.create_group(name),
        geometry=np.array([n, c, h, w, 3, 2, 1, int(ceil_mode)], dtype=np.int32),
        x=x, y=y, dy=dy, dx=x.grad)


def resize_case(f, name, n, c, h, w, oh, ow, align_corners):
    x = torch.randn(n, c, h, w, requires_grad=True)
    y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=align_corners)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(f.create_group(name),
        geometry=np.array([n, c, h, w, oh, ow, int(align_corners)], dtype=np.int32),
        x=x, y=y, dy=dy, dx=x.grad)


def cat_softmax_cases(f):
    a = torch.randn(2, 3, 4, 5, requires_grad=True)
    b = torch.randn(2, 2, 4, 5, requires_grad=True)
    y = torch.cat([a, b], dim=1)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(f.create_group("cat"), a=a, b=b, y=y, dy=dy, da=a.grad, db=b.grad)
    x = (torch.randn(2, 5, 3, 4) * 3.0).requires_grad_()
    y = F.softmax(x, dim=1)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(f.create_group("softmax"), x=x, y=y, dy=dy, dx=x.grad)


def random_labels(n, c, h, w, ignore_fraction):
    labels = torch.randint(0, c, (n, h, w))
    labels[torch.rand(n, h, w) < ignore_fraction] = 255
    return labels


def ce_case(f, name, weighted):
    n, c, h, w = 2, 5, 4, 6
    logits = (torch.randn(n, c, h, w) * 2.0).requires_grad_()
    labels = random_labels(n, c, h, w, 0.2)
    weight = torch.rand(c) + 0.5 if weighted else None
    loss = F.cross_entropy(logits, labels, weight=weight, ignore_index=255, reduction="mean")
    loss.backward()
    g = f.create_group(name)
    put(g, logits=logits, labels=labels.to(torch.int32), loss=loss.reshape(1),
        dlogits=logits.grad)
    if weighted:
        put(g, weight=weight)


def ohem_reference(logits, labels, weight, thresh, min_kept_per_image):
    """SPEC 3 written directly in torch: rank the valid pixels by the softmax
    probability of their label, threshold = max(prob at rank min(keep, valid - 1),
    thresh), plain mean of the (weighted) per-pixel CE of pixels below it."""
    n = logits.shape[0]
    valid = labels != 255
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    prob = F.softmax(logits, dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
    ranked = torch.sort(prob[valid].detach()).values
    rank = min(min_kept_per_image * n, ranked.numel() - 1)
    threshold = max(float(ranked[rank]), thresh)
    per_pixel = F.cross_entropy(logits, labels, weight=weight, ignore_index=255,
                                reduction="none")
    chosen = valid & (prob.detach() < threshold)
    return per_pixel[chosen].mean(), threshold, int(chosen.sum())


def ohem_case(f, name, min_kept, expect_raised):
    n, c, h, w = 2, 4, 5, 6
    labels = random_labels(n, c, h, w, 0.15)
    logits = torch.randn(n, c, h, w) * 2.0
    # make about half of the pixels confident in their label so that p_gt spans 0..1
    boost = (torch.rand(n, h, w) < 0.5).float() * 4.0
    safe = torch.where(labels != 255, labels, torch.zeros_like(labels))
    logits.scatter_add_(1, safe.unsqueeze(1), boost.unsqueeze(1))
    logits.requires_grad_()
    weight = torch.rand(c) + 0.5
    loss, threshold, chosen = ohem_reference(logits, labels, weight, 0.7, min_kept)
    assert (threshold > 0.7) == expect_raised, (name, threshold)
    assert 0 < chosen < int((labels != 255).sum()), (name, chosen)
    loss.backward()
    put(f.create_group(name), logits=logits, labels=labels.to(torch.int32), weight=weight,
        min_kept=np.array([min_kept], dtype=np.int32), loss=loss.reshape(1),
        dlogits=logits.grad)


def sgd_case(f):
    """Three steps of torch.optim.SGD (momentum 0.9) with a weight-decay group and a
    no-decay group, the learning rate following PolynomialLR (power 0.9)."""
    base, wd, max_it, steps = 0.01, 0.05, 10, 3
    w_decay = torch.randn(4, 3, requires_grad=True)
    w_nodecay = torch.randn(5, requires_grad=True)
    g = f.create_group("sgd")
    put(g, w_decay0=w_decay, w_nodecay0=w_nodecay,
        hyper=np.array([base, 0.9, wd, max_it, 0.9], dtype=np.float32))
    opt = torch.optim.SGD([{"params": [w_decay], "weight_decay": wd},
                           {"params": [w_nodecay], "weight_decay": 0.0}],
                          lr=base, momentum=0.9)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=max_it, power=0.9)
    grads_d, grads_n, after_d, after_n, lrs = [], [], [], [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        w_decay.grad = torch.randn(4, 3)
        w_nodecay.grad = torch.randn(5)
        grads_d.append(w_decay.grad.clone())
        grads_n.append(w_nodecay.grad.clone())
        opt.step()
        sched.step()
        after_d.append(w_decay.detach().clone())
        after_n.append(w_nodecay.detach().clone())
    put(g, grad_decay=torch.stack(grads_d), grad_nodecay=torch.stack(grads_n),
        w_decay=torch.stack(after_d), w_nodecay=torch.stack(after_n),
        lr=np.array(lrs, dtype=np.float32))


def poly_lr_case(f):
    """Learning rates of PolynomialLR over a whole 1000-iteration schedule at a few
    iterations (float64, as the schedule itself)."""
    base, max_it = 0.02, 1000
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=max_it, power=0.9)
    at = [0, 1, 2, 250, 500, 999]
    lrs = []
    for it in range(max_it):
        if it in at:
            lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    g = f.create_group("poly_lr")
    g.create_dataset("iter", data=np.array(at, dtype=np.int32))
    g.create_dataset("lr", data=np.array(lrs, dtype=np.float64))
    g.create_dataset("setting", data=np.array([base, max_it, 0.9], dtype=np.float64))


def main():
    with h5py.File(OUT, "w") as f:
        conv_case(f, "conv_k3_s2_p1_bias", 2, 3, 9, 8, 4, 3, 2, 1, 1, True)
        conv_case(f, "conv_k3_d2_p2", 1, 4, 10, 9, 3, 3, 1, 2, 2, False)
        conv_case(f, "conv_k1_bias", 2, 5, 6, 7, 3, 1, 1, 0, 1, True)
        bn_cases(f)
        relu_case(f)
        maxpool_case(f, "maxpool_9x7_ceil", 2, 3, 9, 7, True)
        maxpool_case(f, "maxpool_8x8_ceil", 1, 2, 8, 8, True)
        maxpool_case(f, "maxpool_8x8_floor", 1, 2, 8, 8, False)
        maxpool_case(f, "maxpool_6x10_ceil", 1, 2, 6, 10, True)
        resize_case(f, "resize_up_aligned", 2, 2, 5, 7, 11, 13, True)
        resize_case(f, "resize_up_x8_aligned", 1, 2, 4, 5, 25, 33, True)
        resize_case(f, "resize_up_half_pixel", 2, 2, 5, 7, 12, 9, False)
        resize_case(f, "resize_down_aligned", 1, 3, 9, 11, 4, 6, True)
        resize_case(f, "resize_down_half_pixel", 1, 3, 9, 11, 4, 5, False)
        resize_case(f, "resize_to_one_row_aligned", 1, 2, 6, 5, 1, 3, True)
        cat_softmax_cases(f)
        ce_case(f, "ce_plain", False)
        ce_case(f, "ce_weighted", True)
        ohem_case(f, "ohem_thresh_floor", 1, False)
        ohem_case(f, "ohem_thresh_raised", 20, True)
        sgd_case(f)
        poly_lr_case(f)


if __name__ == "__main__":
    main()
