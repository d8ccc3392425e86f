"""An independent PyTorch construction of the network of shared/SPEC.md section 2
(deep-stem dilated ResNet, head around the context block, auxiliary head) and of
the context block of section 1. Used to produce test fixtures (parameter names,
count, forward values) and as the PyTorch twin of the benchmarks."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled(c, width):
    return max(1, int(c * width + 0.5))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, dil_first, dil):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, dil_first, dil_first, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        idt = x if self.downsample is None else self.downsample(x)
        return F.relu(h + idt)


class Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, dil_first, dil):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, dil_first, dil_first, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, dil, dil, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        idt = x if self.downsample is None else self.downsample(x)
        return F.relu(h + idt)


class Stem(nn.Module):
    def __init__(self, width):
        super().__init__()
        c = [scaled(64, width), scaled(64, width), scaled(128, width)]
        self.conv1 = nn.Conv2d(3, c[0], 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c[0])
        self.conv2 = nn.Conv2d(c[0], c[1], 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c[1])
        self.conv3 = nn.Conv2d(c[1], c[2], 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c[2])
        self.out = c[2]

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        return F.max_pool2d(x, 3, 2, 1, ceil_mode=True)


DEPTHS = {18: (Basic, [2, 2, 2, 2]), 34: (Basic, [3, 4, 6, 3]),
          50: (Bottleneck, [3, 4, 6, 3]), 101: (Bottleneck, [3, 4, 23, 3])}


class Backbone(nn.Module):
    """planes: per-stage planes overriding the width-scaled 64/128/256/512
    (as model.planes does in the harness)."""

    def __init__(self, depth, width=1.0, layers=None, planes=None):
        super().__init__()
        block, base = DEPTHS[depth]
        layers = layers or base
        self.prefix = Stem(width)
        cin = self.prefix.out
        strides, dil_first, dil_rest = [1, 2, 1, 1], [1, 1, 1, 2], [1, 1, 2, 4]
        self.out_ch = []
        for s in range(4):
            p = planes[s] if planes else scaled([64, 128, 256, 512][s], width)
            units = []
            for b in range(layers[s]):
                units.append(block(cin, p, strides[s] if b == 0 else 1,
                                   dil_first[s] if b == 0 else dil_rest[s], dil_rest[s]))
                cin = p * block.expansion
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*units))
            self.out_ch.append(cin)

    def forward(self, x):
        x = self.prefix(x)
        x = self.layer1(x)
        x = self.layer2(x)
        l3 = self.layer3(x)
        return l3, self.layer4(l3)


class DNLBlock(nn.Module):
    """SPEC 1, with switches for every variant. out = x + gamma*pair + unary."""

    def __init__(self, c, pairwise=True, unary=True, whiten="in", scale=True, temperature=1.0):
        super().__init__()
        ci = c // 2
        self.pairwise, self.unary, self.whiten = pairwise, unary, whiten
        self.s = 1.0 / (math.sqrt(ci) * temperature) if scale else 1.0
        if pairwise:
            self.query = nn.Conv2d(c, ci, 1)
            self.key = nn.Conv2d(c, ci, 1)
            self.gamma = nn.Parameter(torch.zeros(1))
        self.value = nn.Conv2d(c, c, 1, bias=False)
        if unary:
            self.mask = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        v = self.value(x).flatten(2)  # n c p
        z = torch.zeros_like(v)
        if self.pairwise:
            q = self.query(x).flatten(2)
            k = self.key(x).flatten(2)
            if self.whiten == "in":
                q = q - q.mean(2, keepdim=True)
                k = k - k.mean(2, keepdim=True)
            elif self.whiten == "ln":
                q = q - q.mean((1, 2), keepdim=True)
                k = k - k.mean((1, 2), keepdim=True)
            a = torch.softmax(self.s * torch.bmm(q.transpose(1, 2), k), dim=2)  # n p p
            z = z + self.gamma * torch.bmm(v, a.transpose(1, 2))
        if self.unary:
            u = torch.softmax(self.mask(x).flatten(2), dim=2)  # n 1 p
            z = z + torch.bmm(v, u.transpose(1, 2))  # n c 1, broadcast
        return x + z.view(n, c, h, w)


class Head(nn.Module):
    def __init__(self, cin, width, classes, block, dropout):
        super().__init__()
        self.conva = nn.Conv2d(cin, width, 3, padding=1, bias=False)
        self.conva_bn = nn.BatchNorm2d(width)
        self.block = block
        self.convb = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.convb_bn = nn.BatchNorm2d(width)
        self.bottleneck = nn.Conv2d(width + cin, width, 3, padding=1, bias=False)
        self.bottleneck_bn = nn.BatchNorm2d(width)
        self.drop = nn.Dropout2d(dropout)
        self.cls = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        a = F.relu(self.conva_bn(self.conva(x)))
        z = self.block(a) if self.block is not None else a
        b = F.relu(self.convb_bn(self.convb(z)))
        h = F.relu(self.bottleneck_bn(self.bottleneck(torch.cat([x, b], 1))))
        return self.cls(self.drop(h))


class Aux(nn.Module):
    def __init__(self, cin, width, classes, dropout):
        super().__init__()
        self.conv = nn.Conv2d(cin, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.drop = nn.Dropout2d(dropout)
        self.cls = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        return self.cls(self.drop(F.relu(self.bn(self.conv(x)))))


class SegNet(nn.Module):
    def __init__(self, depth=101, width=1.0, layers=None, head_width=512, classes=19,
                 block="dnl", dropout=0.1, aux=True, planes=None, **block_args):
        super().__init__()
        self.backbone = Backbone(depth, width, layers, planes)
        blk = None
        if block == "dnl":
            blk = DNLBlock(head_width, **block_args)
        elif block == "nl":
            blk = DNLBlock(head_width, unary=False, whiten="none", **block_args)
        self.head = Head(self.backbone.out_ch[3], head_width, classes, blk, dropout)
        self.aux = Aux(self.backbone.out_ch[2], head_width, classes, dropout) if aux else None

    def forward(self, x):
        l3, l4 = self.backbone(x)
        size = x.shape[2:]
        out = F.interpolate(self.head(l4), size, mode="bilinear", align_corners=True)
        if self.aux is None or not self.training:
            return out, None
        return out, F.interpolate(self.aux(l3), size, mode="bilinear", align_corners=True)
