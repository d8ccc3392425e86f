#!/usr/bin/python3
"""Writes tests/fixtures/import/: small PyTorch and safetensors weight files for
`runner import`, and expected.h5 with the float32 value every tensor must
import to (under /<file stem>/<key>).

- backbone_zip.pth, backbone_legacy.pth: the state_dict of a tiny deep-stem
  ResNet (the one tiny.cfg builds) with torchcv names (prefix.*, layerN.*, fc.*),
  float32, in torch.save's zip and legacy formats;
- nested_f16.pth (zip): {"state_dict": {"module." + key: float16}, "meta": ...};
- nested_f64_legacy.pth (legacy): {"model": {"module." + key: float64}, ...};
- strided_zip.pth, strided_legacy.pth: views with storage offsets and
  non-contiguous strides (transpose, slices, steps, permute, a 0-d element);
- dtypes.pth: special float16/bfloat16/float64 values and an int64 tensor;
- tiny.safetensors: written by hand (8-byte header length, JSON, data);
- mmseg_style.pth, torchvision_style.pth: the same backbone under mmseg's and
  torchvision's names (with heads, 7x7 stem and classifier to be dropped);
- wrong_shape.pth: the backbone with one tensor of another shape;
- forbidden_global_zip.pth, forbidden_global_legacy.pth: pickles naming
  os.system / builtins.eval, crafted as bytes (never unpickled here);
- dtype_clash_legacy.pth: one storage key given two dtypes (hand-made bytes).

Run from the repository root:  /usr/bin/python3 tests/reference/make_import_fixtures.py
The tests only read the committed files; they never need torch. Re-running
changes the bytes of the legacy files (their storage keys are object
addresses) and of the zip made by zipfile (timestamps), not their content."""
import collections
import json
import os
import pickle
import struct
import sys
import zipfile

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_segnet import Backbone  # noqa: E402

OUT = "tests/fixtures/import"
# the network of tiny.cfg: depth 50 (bottlenecks), one unit per stage, 2 planes each
TINY = dict(depth=50, width=0.03125, layers=[1, 1, 1, 1], planes=[2, 2, 2, 2])
TINY_CFG = """# The network the import fixtures' backbone belongs to (make_import_fixtures.py).
model = {
  depth = 50;
  layers = [1, 1, 1, 1];
  planes = [2, 2, 2, 2];
  width = 0.03125;
  head_width = 8;
};
block = { variant = "none"; };
data = { dataset = "synth"; };
"""


def backbone_state():
    """torchcv-named state_dict of the tiny backbone, random values, plus fc."""
    torch.manual_seed(0)
    net = Backbone(**TINY)
    sd = collections.OrderedDict()
    with torch.no_grad():
        for k, v in net.state_dict().items():
            if k.endswith("num_batches_tracked"):
                sd[k] = torch.tensor(7, dtype=torch.int64)
            elif k.endswith("running_var"):
                sd[k] = torch.rand(v.shape) + 0.5
            else:
                sd[k] = torch.randn(v.shape)
    sd["fc.weight"] = torch.randn(10, net.out_ch[3])
    sd["fc.bias"] = torch.randn(10)
    return sd


def f32(t):
    return t.detach().contiguous().float().numpy()


def expect(h5, group, state):
    g = h5.create_group(group)
    for k, v in state.items():
        if v.is_floating_point():
            g.create_dataset(k, data=f32(v))


def save(obj, name, legacy=False):
    torch.save(obj, os.path.join(OUT, name), _use_new_zipfile_serialization=not legacy)


def strided_state():
    torch.manual_seed(1)
    base = torch.randn(6, 5)
    four = torch.randn(2, 3, 4, 5)
    sd = collections.OrderedDict()
    sd["transposed"] = base.t()
    sd["slice"] = base[2:, 1:4]
    sd["step"] = base[::2, ::3]
    sd["element"] = base[3, 2]
    sd["permuted"] = four.permute(0, 2, 3, 1)
    sd["whole"] = base
    for k in ["transposed", "slice", "step", "permuted"]:
        assert not sd[k].is_contiguous() or sd[k].storage_offset() > 0, k
    return sd


def dtypes_state():
    specials = [0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 6.1035156e-05, 5.9604645e-08,
                3.0e-06, float("inf"), float("-inf"), float("nan"), 0.333251953125]
    sd = collections.OrderedDict()
    sd["half"] = torch.tensor(specials, dtype=torch.float16)
    sd["bfloat"] = torch.tensor(specials + [1e38, -3e-39], dtype=torch.bfloat16)
    # float64 -> float32 rounds to nearest even: ties, underflow and overflow included
    sd["double"] = torch.tensor(specials + [1e-300, 0.1, 1.0000000596046448, 3.4e38, -1e-45,
                                            2.0 ** -149, 1.0 + 2.0 ** -24, 1e39],
                                dtype=torch.float64).reshape(3, 7)
    sd["float"] = torch.tensor(specials, dtype=torch.float32)
    sd["count"] = torch.arange(4, dtype=torch.int64)
    return sd


def write_safetensors(path, tensors, metadata):
    """tensors: name -> (dtype code, numpy array already in that dtype)."""
    header, blobs, offset = {}, [], 0
    for name, (code, arr) in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header).encode()  # ensure_ascii: non-ASCII names become \\u escapes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def safetensors_state():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    h = rng.standard_normal(5).astype(np.float16)
    d = rng.standard_normal((2, 3))
    bf = torch.randn(4, dtype=torch.bfloat16)
    bf_bits = bf.view(torch.int16).numpy().view(np.uint16)
    tensors = collections.OrderedDict()
    tensors["conv.weight"] = ("F32", w)
    tensors["bn.\u00e9bias"] = ("F16", h)
    tensors["fc.weight"] = ("F64", d)
    tensors["bf.weight"] = ("BF16", bf_bits)
    expected = {"conv.weight": w, "bn.\u00e9bias": h.astype(np.float32),
                "fc.weight": d.astype(np.float32), "bf.weight": bf.float().numpy()}
    return tensors, expected


def renamed(sd, rename):
    out = collections.OrderedDict()
    for k, v in sd.items():
        n = rename(k)
        if n is not None:
            out[n] = v
    return out


def mmseg_name(k):
    stem = {"conv1": 0, "bn1": 1, "conv2": 3, "bn2": 4, "conv3": 6, "bn3": 7}
    if k.startswith("prefix."):
        part, rest = k[len("prefix."):].split(".", 1)
        return "backbone.stem.%d.%s" % (stem[part], rest)
    if k.startswith("fc."):
        return None
    return "backbone." + k


def forbidden_zip(path):
    # GLOBAL 'os system', the argument 'echo', TUPLE1, REDUCE: what a malicious
    # checkpoint would run on torch.load; the importer must refuse the global.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("evil/data.pkl", evil)
        z.writestr("evil/version", b"3\n")


def forbidden_legacy(path):
    magic = 0x1950a86a20f9469cfc6c
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    # protocol 4: SHORT_BINUNICODE 'builtins', 'eval', STACK_GLOBAL, then a call
    evil = (b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94"
            b"\x8c\x05print\x94\x85\x94R\x94.")
    with open(path, "wb") as f:
        for obj in (magic, 1001, sys_info):
            f.write(pickle.dumps(obj, protocol=2))
        f.write(evil)


def dtype_clash_legacy(path):
    """Two tensors naming one storage key with two dtypes: 4 bytes of storage
    are 2 float16 values but 0 whole float64 ones. Hand-made pickle bytes."""
    def text(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    def tensor(name, storage_type):
        return (text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n((" + text("storage") +
                b"ctorch\n" + storage_type + b"\n" + text("0") + text("cpu") +
                b"K\x02NtQK\x00K\x02\x85K\x01\x85\x89}tR")
    obj = (b"\x80\x02}(" + tensor("a", b"HalfStorage") + tensor("b", b"DoubleStorage") +
           b"u.")
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    with open(path, "wb") as f:
        for o in (0x1950a86a20f9469cfc6c, 1001, sys_info):
            f.write(pickle.dumps(o, protocol=2))
        f.write(obj)
        f.write(pickle.dumps(["0"], protocol=2))
        f.write(struct.pack("<q", 2) + np.array([1.5, -2.0], dtype=np.float16).tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tiny.cfg"), "w") as f:
        f.write(TINY_CFG)
    sd = backbone_state()
    with h5py.File(os.path.join(OUT, "expected.h5"), "w") as h5:
        save(sd, "backbone_zip.pth")
        save(sd, "backbone_legacy.pth", legacy=True)
        expect(h5, "backbone", sd)

        half = collections.OrderedDict(("module." + k, v.half()) for k, v in sd.items()
                                       if v.is_floating_point())
        save({"state_dict": half, "meta": {"epoch": 3, "lr": 0.01, "names": ["a", "b"],
                                           "flag": True, "none": None}}, "nested_f16.pth")
        expect(h5, "nested_f16", half)

        dbl = collections.OrderedDict(("module." + k, v.double()) for k, v in sd.items()
                                      if v.is_floating_point())
        # float32 -> float64 -> float32 is exact: expected values are the backbone's
        save({"model": dbl, "iteration": 100}, "nested_f64_legacy.pth", legacy=True)

        st = strided_state()
        save(st, "strided_zip.pth")
        save(st, "strided_legacy.pth", legacy=True)
        expect(h5, "strided", st)

        dt = dtypes_state()
        save(dt, "dtypes.pth")
        expect(h5, "dtypes", dt)

        tensors, expected = safetensors_state()
        write_safetensors(os.path.join(OUT, "tiny.safetensors"), tensors, {"format": "pt"})
        g = h5.create_group("safetensors")
        for k, v in expected.items():
            g.create_dataset(k, data=v)

        save({"meta": {"mmseg_version": "0.x"},
              "state_dict": renamed(sd, mmseg_name) | {
                  "decode_head.conv_seg.weight": torch.randn(3, 8, 1, 1),
                  "auxiliary_head.conv_seg.weight": torch.randn(3, 8, 1, 1)}},
             "mmseg_style.pth")
        tv = collections.OrderedDict()
        tv["conv1.weight"] = torch.randn(4, 3, 7, 7)
        for p in ["weight", "bias", "running_mean", "running_var"]:
            tv["bn1." + p] = torch.rand(4) + 0.5
        tv.update(renamed(sd, lambda k: None if k.startswith("prefix.") else k))
        save(tv, "torchvision_style.pth")

        wrong = collections.OrderedDict(sd)
        wrong["layer2.0.conv2.weight"] = torch.randn(2, 2, 1, 1)
        save(wrong, "wrong_shape.pth")

    forbidden_zip(os.path.join(OUT, "forbidden_global_zip.pth"))
    forbidden_legacy(os.path.join(OUT, "forbidden_global_legacy.pth"))
    dtype_clash_legacy(os.path.join(OUT, "dtype_clash_legacy.pth"))
    for name in sorted(os.listdir(OUT)):
        print("%-28s %6d bytes" % (name, os.path.getsize(os.path.join(OUT, name))))


if __name__ == "__main__":
    main()
