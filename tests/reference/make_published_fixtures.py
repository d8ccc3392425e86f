#!/usr/bin/python3
"""Checkpoints in the layout of the authors' published models (published_net.py)
and their logits, for `runner import --map published` and `runner predict`.

Fixtures (run once from the repository root; tests never need torch):
  /usr/bin/python3 tests/reference/make_published_fixtures.py
writes tests/fixtures/published/:
  image.png          a fixed 33 x 41 RGB image
  <row>.pth          a tiny network of each published row kind, saved as the
                     authors' code saved it: {'config_dict', 'state_dict',
                     'runner_state'} with DistributedDataParallel's `module.`
                     prefixes (nowd_ln in the legacy torch.save format, the
                     others in the zip format)
  temp_in.safetensors  the temp_in row's state_dict as a safetensors file
  <row>.cfg          this project's config of the same network
  reference.h5       per row: /<row>/state/<this project's name> (renamed by
                     SPEC 7's table in published_net.OURS, independently of the
                     C map) and /<row>/logits [K, H, W], the eval-mode logits of
                     image.png normalised as the datasets' evaluation input
                     (BGR, minus the published mean); /nowd_in/logits_protocol:
                     the summed logits of the ADE20K / Pascal Context protocol
                     (PROTOCOL: base size, scales, flip, padding)

Full size (not committed: about 290 MB; `make published-check` uses it):
  make_published_fixtures.py --full OUT.pth [--family nowd|bn] [--classes 19]
      [--whiten ln_nostd] [--temperature 0.05] [--image PNG --logits OUT.h5]
writes a ResNet-101 + DNL checkpoint of the published layout with random values,
and with --image the eval-mode logits of that image (dataset /logits [K, H, W])."""
import argparse
import os
import struct
import sys
import zlib

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from published_net import PublishedNet, our_name, randomize  # noqa: E402

OUT = "tests/fixtures/published"
MEAN_BGR = np.array([102.9801, 115.9465, 122.7717], dtype=np.float32)

# tiny: stem 8/8/16 (width 0.125), one bottleneck per stage, planes 4/4/4/8 so that
# layer3 = 16 = 2 x head width and layer4 = 32 = 4 x head width, as in the original
TINY = dict(layers=(1, 1, 1, 1), stem=(8, 8, 16), planes=(4, 4, 4, 8), out_channels=8)

# row: family, block arguments, dataset, classes, our preset, the nonlocal section
# of the authors' config (configs/seg/*/NL*_fcn_*_seg.conf) that the checkpoint carries
NOWD = dict(downsample=False, weight_init_scale=1.0, with_gc=True, with_nl=True, nowd=["nl"],
            use_out=False, out_bn=False)
ROWS = {
    "nowd_in": ("nowd", dict(whiten_type=["channel"]), "cityscapes", 19,
                "dnl_nowd_in_published", dict(NOWD, whiten_type=["channel"])),
    "nowd_ln": ("nowd", dict(whiten_type=["ln_nostd"]), "pascal_context", 59, "dnl_nowd_ln",
                dict(NOWD, whiten_type=["ln_nostd"])),
    "temp_in": ("bn", dict(whiten_type=["channel"], temperature=0.1, with_gc=True), "ade20k",
                150, "dnl_temp_in",
                dict(downsample=False, whiten_type=["channel"], temp=0.1, with_gc=True,
                     use_out=False, out_bn=False)),
    "nl": ("bn", dict(whiten_type=[], temperature=1.0, with_gc=False), "cityscapes", 19,
           "nl_published",
           dict(downsample=False, whiten_type=[], temp=1.0, with_gc=False, use_out=False,
                out_bn=False)),
}

CFG = """# {row}: a tiny network in the published layout (tests/reference/make_published_fixtures.py)
name = "published_{row}";
device = "cpu";
model = {{
  depth = 50;
  layers = [1, 1, 1, 1];
  width = 0.125;
  planes = [4, 4, 4, 8];
  head_width = 8;
  aux = true;
}};
block = {{ preset = "{preset}"; }};
data = {{ dataset = "{dataset}"; }};
eval = {{ mode = "single"; }};
"""


def write_png(path, rgb):
    """8-bit RGB PNG without any imaging library."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def read_png(path):
    """The 8-bit RGB, non-interlaced PNGs write_png makes (filter 0 rows only)."""
    data = open(path, "rb").read()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 2, "8-bit RGB only"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 0).all(), "filter type 0 only"
    return raw[:, 1:].reshape(h, w, 3).copy()


def normalise(rgb):
    """The datasets' evaluation input: BGR planes minus the published mean."""
    bgr = rgb[:, :, ::-1].astype(np.float32) - MEAN_BGR
    return torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))[None]


def config_dict(dataset, classes, family, nonlocal_section):
    """The configer dict the authors' checkpoints carry (nested dicts, lists,
    strings, numbers, booleans, None): the block family is network.model_name,
    its settings the nonlocal section."""
    return {"dataset": dataset, "data": {"num_classes": classes, "input_mode": "BGR",
                                         "normalize": {"div_value": 1.0,
                                                       "mean": MEAN_BGR.tolist()}},
            "network": {"backbone": "deepbase_resnet101_dilated8", "multi_grid": [1, 1, 1],
                        "model_name": "nonlocal" + family, "resume": None},
            "nonlocal": nonlocal_section,
            "solver": {"lr": {"base_lr": 0.01}, "max_iters": 60000}}


def save_published(net, path, dataset, classes, family, nonlocal_section, legacy):
    """As RunnerHelper.save_net saved a DistributedDataParallel model."""
    state = {"config_dict": config_dict(dataset, classes, family, nonlocal_section),
             "state_dict": {"module." + k: v for k, v in net.state_dict().items()},
             "runner_state": {"iters": 60000, "epoch": 161, "max_performance": 0.8012,
                              "min_val_loss": 9999.0}}
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)


def save_safetensors(net, path):
    """The same state_dict as a safetensors file (published names, float32),
    written without the safetensors package: an 8-byte header length, the JSON
    header, the data."""
    import json
    header, blobs, offset = {}, [], 0
    for k, v in net.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        data = v.detach().float().contiguous().numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape),
                     "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def logits_of(net, rgb):
    net.eval()
    with torch.no_grad():
        out, _ = net(normalise(rgb))
    return out[0].numpy()


# the ADE20K / Pascal Context test protocol at a tiny size (runner/infer.h)
PROTOCOL = dict(scales=[0.75, 1.0], flip=True, base_size=40, max_size=1040, pad_to=8)


def protocol_logits_of(net, rgb, scales, flip, base_size, max_size, pad_to):
    """Short side resized to base_size (long side at most max_size), each scale
    truncated as int(h * scale), the image resized there from the original
    (bilinear), each pass zero-padded at the right and bottom to a multiple of
    pad_to and cropped back, flipped passes flipped back, logits resized to the
    original size (bilinear, align_corners) and summed."""
    net.eval()
    x = normalise(rgb)
    H, W = x.shape[2:]
    r = min(base_size / min(H, W), max_size / max(H, W))
    hb, wb = int(round(H * r)), int(round(W * r))
    total = torch.zeros(1, net.nlm.bottleneck[3].out_channels, H, W)
    with torch.no_grad():
        for s in scales:
            h, w = int(hb * s), int(wb * s)
            xs = F.interpolate(x, (h, w), mode="bilinear", align_corners=False)
            for f in ([False, True] if flip else [False]):
                xi = xs.flip(3) if f else xs
                ph, pw = -(-h // pad_to) * pad_to, -(-w // pad_to) * pad_to
                xi = F.pad(xi, (0, pw - w, 0, ph - h))
                out = net(xi)[0][:, :, :h, :w]
                if f:
                    out = out.flip(3)
                total += F.interpolate(out, (H, W), mode="bilinear", align_corners=True)
    return total[0].numpy()


def make_fixtures():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(14)
    rgb = torch.randint(0, 256, (33, 41, 3), generator=gen, dtype=torch.uint8).numpy()
    write_png(os.path.join(OUT, "image.png"), rgb)
    rgb = read_png(os.path.join(OUT, "image.png"))
    with h5py.File(os.path.join(OUT, "reference.h5"), "w") as f:
        for row, (family, block_args, dataset, classes, preset, section) in ROWS.items():
            net = PublishedNet(family, classes, **TINY, **block_args)
            randomize(net, gen)
            save_published(net, os.path.join(OUT, row + ".pth"), dataset, classes, family,
                           section, legacy=row == "nowd_ln")
            if row == "temp_in":
                save_safetensors(net, os.path.join(OUT, row + ".safetensors"))
            with open(os.path.join(OUT, row + ".cfg"), "w") as c:
                c.write(CFG.format(row=row, preset=preset, dataset=dataset))
            g = f.create_group(row)
            for k, v in net.state_dict().items():
                if not k.endswith("num_batches_tracked"):
                    g.create_dataset("state/" + our_name(k), data=v.numpy())
            g.create_dataset("logits", data=logits_of(net, rgb))
            if row == "nowd_in":
                g.create_dataset("logits_protocol", data=protocol_logits_of(net, rgb, **PROTOCOL))


def make_full(a):
    block_args = dict(whiten_type=[a.whiten])
    section = dict(NOWD, whiten_type=[a.whiten])
    if a.family == "bn":
        block_args.update(temperature=a.temperature, with_gc=True)
        section = dict(downsample=False, whiten_type=[a.whiten], temp=a.temperature,
                       with_gc=True, use_out=False, out_bn=False)
    torch.manual_seed(0)
    net = PublishedNet(a.family, a.classes, **block_args)
    randomize(net, torch.Generator().manual_seed(101))
    save_published(net, a.full, "cityscapes", a.classes, a.family, section, legacy=False)
    print("wrote %s: %d tensors" % (a.full, len(net.state_dict())))
    if a.image:
        with h5py.File(a.logits, "w") as f:
            f.create_dataset("logits", data=logits_of(net, read_png(a.image)))
        print("wrote %s" % a.logits)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", help="write a full-size ResNet-101 + DNL checkpoint here")
    p.add_argument("--family", choices=["nowd", "bn"], default="nowd")
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--whiten", default="ln_nostd")
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--image", help="--full: also the logits of this PNG")
    p.add_argument("--logits", help="--full --image: HDF5 file for them")
    a = p.parse_args()
    if a.full:
        make_full(a)
    else:
        make_fixtures()


if __name__ == "__main__":
    main()
