"""The module tree of the authors' segmentation code (the torchcv fork behind the
paper's README table, shared/SPEC.md section 7), rebuilt so that its state_dict
has the published names and Sequential indices:

  backbone.prefix.{conv1,bn1,conv2,bn2,conv3,bn3}.*, backbone.layer{1..4}.{b}.*
  nlm.conva.0 (conv), nlm.conva.1.0 (BN of Sequential(BN, ReLU)), nlm.ctb.*,
  nlm.convb.0 / .1.0, nlm.bottleneck.0 / .1.0 / .3 (classifier; .2 is Dropout2d),
  dsn.0.conv, dsn.0.bn_relu.0, dsn.2 (classifier; dsn.1 is Dropout2d).

Both block families of the published rows:
  - NonLocalNowd (model `nonlocalnowd`: rows nowd_in, nowd_ln, Pascal Context):
    never scales the logits, whitens only for the whiten types it recognises
    (`in_nostd`: mean over positions; `ln_nostd`: mean over all entries; the
    published configs' ["channel"] is not one: no whitening);
  - NonLocalBN (model `nonlocalbn`: temp_in rows and the plain NL baseline):
    scales by 1 / (sqrt(C') * temperature), `channel` = mean over positions.
Both add the unary branch (conv_mask on the block input, `with_gc`) and V has no
bias. Layer4's channels come first in the head's concatenation (torch.cat([x, output], 1)).

Widths are parameters so that a tiny network has the same tree: the original
hard-codes the bottleneck's 512 outputs and the head's inter width = layer4 / 4."""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


def bn_relu(c):
    return nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, dil_first, dil):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, dil_first, dil_first, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride != 1 or cin != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class DeepBaseDilatedResNet(nn.Module):
    """deepbase_resnet{50,101}_dilated8: 3x3 deep stem, layer3 dilation 2 (its first
    3x3 conv stride 1, dilation 1), layer4 dilation 4 (first 3x3 conv dilation 2),
    projections stride 1."""

    def __init__(self, layers, stem=(64, 64, 128), planes=(64, 128, 256, 512)):
        super().__init__()
        self.prefix = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, stem[0], 3, 2, 1, bias=False)),
            ("bn1", nn.BatchNorm2d(stem[0])), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(stem[0], stem[1], 3, 1, 1, bias=False)),
            ("bn2", nn.BatchNorm2d(stem[1])), ("relu2", nn.ReLU()),
            ("conv3", nn.Conv2d(stem[1], stem[2], 3, 1, 1, bias=False)),
            ("bn3", nn.BatchNorm2d(stem[2])), ("relu3", nn.ReLU())]))
        self.maxpool = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
        cin = stem[2]
        strides, dil_first, dil_rest = (1, 2, 1, 1), (1, 1, 1, 2), (1, 1, 2, 4)
        for s in range(4):
            units = []
            for b in range(layers[s]):
                units.append(Bottleneck(cin, planes[s], strides[s] if b == 0 else 1,
                                        dil_first[s] if b == 0 else dil_rest[s], dil_rest[s]))
                cin = planes[s] * 4
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*units))
        self.num_features = cin

    def forward(self, x):
        x = self.maxpool(self.prefix(x))
        x = self.layer1(x)
        x = self.layer2(x)
        l3 = self.layer3(x)
        return l3, self.layer4(l3)


class NonLocalNowd(nn.Module):
    """model/seg/ops/nonlocal_block_nowd.py with use_out = out_bn = False,
    downsample = False, with_nl = with_gc = True, nowd = ["nl"]."""

    def __init__(self, inplanes, planes, whiten_type):
        super().__init__()
        self.conv_value = nn.Conv2d(inplanes, inplanes, 1, bias=False)
        self.conv_query = nn.Conv2d(inplanes, planes, 1)
        self.conv_key = nn.Conv2d(inplanes, planes, 1)
        self.conv_mask = nn.Conv2d(inplanes, 1, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.whiten_type = whiten_type

    def forward(self, x):
        n, c, h, w = x.shape
        value = self.conv_value(x).flatten(2)
        query = self.conv_query(x).flatten(2)
        key = self.conv_key(x).flatten(2)
        if "in_nostd" in self.whiten_type:
            query = query - query.mean(2, keepdim=True)
            key = key - key.mean(2, keepdim=True)
        elif "ln_nostd" in self.whiten_type:
            query = query - query.mean((1, 2), keepdim=True)
            key = key - key.mean((1, 2), keepdim=True)
        sim = torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=2)  # no scaling
        out = self.gamma * torch.bmm(sim, value.transpose(1, 2)).transpose(1, 2).reshape(
            n, c, h, w)
        mask = torch.softmax(self.conv_mask(x).flatten(2), dim=2)
        out = out + torch.bmm(value, mask.transpose(1, 2)).unsqueeze(-1)
        return x + out


class NonLocalBN(nn.Module):
    """model/seg/ops/nonlocal_block.py (NonLocal2d_bn) with use_out = out_bn = False,
    downsample = False, with_unary = False; with_gc adds conv_mask."""

    def __init__(self, inplanes, planes, whiten_type, temperature, with_gc):
        super().__init__()
        self.conv_query = nn.Conv2d(inplanes, planes, 1)
        self.conv_key = nn.Conv2d(inplanes, planes, 1)
        self.conv_value = nn.Conv2d(inplanes, inplanes, 1, bias=False)
        if with_gc:
            self.conv_mask = nn.Conv2d(inplanes, 1, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.scale = planes ** 0.5
        self.whiten_type, self.temperature, self.with_gc = whiten_type, temperature, with_gc

    def forward(self, x):
        n, c, h, w = x.shape
        query = self.conv_query(x).flatten(2)
        key = self.conv_key(x).flatten(2)
        value = self.conv_value(x).flatten(2)
        if "channel" in self.whiten_type:
            query = query - query.mean(2, keepdim=True)
            key = key - key.mean(2, keepdim=True)
        sim = torch.bmm(query.transpose(1, 2), key) / self.scale / self.temperature
        sim = torch.softmax(sim, dim=2)
        out = self.gamma * torch.bmm(sim, value.transpose(1, 2)).transpose(1, 2).reshape(
            n, c, h, w)
        if self.with_gc:
            mask = torch.softmax(self.conv_mask(x).flatten(2), dim=2)
            out = out + torch.bmm(value, mask.transpose(1, 2)).unsqueeze(-1)
        return x + out


class NLModule(nn.Module):
    """The head of nonlocalnowd.py / nonlocalbn.py: inter = in_channels // 4."""

    def __init__(self, in_channels, out_channels, num_classes, ctb):
        super().__init__()
        inter = in_channels // 4
        self.conva = nn.Sequential(nn.Conv2d(in_channels, inter, 3, padding=1, bias=False),
                                   bn_relu(inter))
        self.ctb = ctb
        self.convb = nn.Sequential(nn.Conv2d(inter, inter, 3, padding=1, bias=False),
                                   bn_relu(inter))
        self.bottleneck = nn.Sequential(
            nn.Conv2d(in_channels + inter, out_channels, 3, padding=1, bias=False),
            bn_relu(out_channels), nn.Dropout2d(0.1),
            nn.Conv2d(out_channels, num_classes, 1, bias=True))

    def forward(self, x):
        output = self.convb(self.ctb(self.conva(x)))
        return self.bottleneck(torch.cat([x, output], 1))


class ConvBNReLU(nn.Module):
    """_ConvBatchNormReluBlock: names conv, bn_relu.0."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn_relu = bn_relu(cout)

    def forward(self, x):
        return self.bn_relu(self.conv(x))


class PublishedNet(nn.Module):
    """NonLocalNet_nowd / NonLocalNet. family: "nowd" or "bn"; block_args for the
    block (whiten_type; temperature and with_gc for "bn")."""

    def __init__(self, family, num_classes, layers=(3, 4, 23, 3), stem=(64, 64, 128),
                 planes=(64, 128, 256, 512), out_channels=512, **block_args):
        super().__init__()
        self.backbone = DeepBaseDilatedResNet(layers, stem, planes)
        nf = self.backbone.num_features
        self.dsn = nn.Sequential(ConvBNReLU(nf // 2, nf // 4), nn.Dropout2d(0.1),
                                 nn.Conv2d(nf // 4, num_classes, 1, 1, 0))
        inter = nf // 4
        if family == "nowd":
            ctb = NonLocalNowd(inter, inter // 2, **block_args)
        else:
            ctb = NonLocalBN(inter, inter // 2, **block_args)
        self.nlm = NLModule(nf, out_channels, num_classes, ctb)

    def forward(self, img):
        l3, l4 = self.backbone(img)
        size = img.shape[2:]
        out = F.interpolate(self.nlm(l4), size, mode="bilinear", align_corners=True)
        dsn = F.interpolate(self.dsn(l3), size, mode="bilinear", align_corners=True)
        return out, dsn


# SPEC 7: published name prefix -> this project's, applied to the longest match
OURS = [
    ("nlm.conva.0.", "head.conva."), ("nlm.conva.1.0.", "head.conva_bn."),
    ("nlm.ctb.conv_query.", "head.block.query."), ("nlm.ctb.conv_key.", "head.block.key."),
    ("nlm.ctb.conv_value.", "head.block.value."), ("nlm.ctb.conv_mask.", "head.block.mask."),
    ("nlm.ctb.gamma", "head.block.gamma"),
    ("nlm.convb.0.", "head.convb."), ("nlm.convb.1.0.", "head.convb_bn."),
    ("nlm.bottleneck.0.", "head.bottleneck."), ("nlm.bottleneck.1.0.", "head.bottleneck_bn."),
    ("nlm.bottleneck.3.", "head.cls."),
    ("dsn.0.conv.", "aux.conv."), ("dsn.0.bn_relu.0.", "aux.bn."), ("dsn.2.", "aux.cls."),
    ("backbone.", "backbone."),
]


def our_name(published):
    for src, dst in sorted(OURS, key=lambda p: -len(p[0])):
        if published.startswith(src):
            return dst + published[len(src):]
    raise KeyError(published)


def randomize(net, gen):
    """Random values everywhere (running variances positive, gamma non-zero) so
    that every tensor influences the logits."""
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(1000)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif name.endswith("gamma"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5)
            elif t.dim() == 4:
                fan_in = t.shape[1] * t.shape[2] * t.shape[3]
                # smaller query and key: attention rows not one-hot, so that the
                # pairwise term's weights all count
                small = 0.2 if "conv_query" in name or "conv_key" in name else 1.0
                t.copy_(torch.randn(t.shape, generator=gen) * small * (1.0 / fan_in) ** 0.5)
            else:
                t.copy_(1.0 + torch.randn(t.shape, generator=gen) * 0.1)
