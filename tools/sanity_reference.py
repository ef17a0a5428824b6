#!/usr/bin/env python3
"""PyTorch reference for `strata deconv --sanity` on zfnet-mini (tools/crosscheck-torch sanity).

Recomputes every projection of DIR/sanity-projections.npy in PyTorch: the network of
tools/torch_reference.py up to conv5 with, at step s, the top s layers with parameters
(fc8, fc7, fc6, conv5, ..., conv1) taken from INIT (`strata init SPEC --seed S`) and the rest from
the checkpoint; each unit (map and image from sanity.csv; its position the image's first largest
trained conv5 activation in that map) seeded with 1 and taken back to the input by
  gradient:  autograd;
  guided:    autograd with each ReLU passing grad * (x > 0) * (grad > 0);
  deconvnet: autograd with each ReLU passing relu(grad) (not gated by x) and LRN passing grad as it is.
Images: the first N of Fashion-MNIST's test split, pixels / 255, minus the checkpoint's data/mean.
Prints the largest |Strata - PyTorch| / max |PyTorch| over the projections; exits 1 above 1e-4.
"""
import argparse, csv, gzip, importlib.util, json, struct, sys
import numpy as np, torch, torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--weights", required=True)
p.add_argument("--init", required=True)
p.add_argument("--data", required=True)
p.add_argument("--reference", required=True)
a = p.parse_args()

spec = importlib.util.spec_from_file_location("torch_reference", a.reference)
R = importlib.util.module_from_spec(spec); spec.loader.exec_module(R)


def read_safetensors(path):
    raw = open(path, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n]); body = raw[8 + n:]
    return {k: np.frombuffer(body[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"]).copy()
            for k, v in header.items() if k != "__metadata__"}


class Relu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, rule):
        ctx.save_for_backward(x); ctx.rule = rule
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.rule == "deconvnet": return g.clamp(min=0), None
        if ctx.rule == "guided": return g * (x > 0) * (g > 0), None
        return g * (x > 0), None


class PassBack(torch.autograd.Function):
    """LRN under the deconvnet: the forward as it is, the signal passed back unchanged."""
    @staticmethod
    def forward(ctx, x, module): return module(x)

    @staticmethod
    def backward(ctx, g): return g, None


model = R.zfnet_mini().eval()
modules = list(model)
conv5 = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)][-1]
names, k_conv, k_fc = {}, 0, 0
for m in modules:
    if isinstance(m, nn.Conv2d): k_conv += 1; names[m] = f"conv{k_conv}"
    elif isinstance(m, nn.Linear): names[m] = f"fc{6 + k_fc}"; k_fc += 1
cascade = list(reversed(list(names.values())))   # fc8, fc7, ..., conv1
trained, random = read_safetensors(a.weights), read_safetensors(a.init)


def load(step):
    chosen = set(cascade[:step])
    with torch.no_grad():
        for m, name in names.items():
            source = random if name in chosen else trained
            m.weight.copy_(torch.from_numpy(source[f"{name}.weight"])); m.bias.copy_(torch.from_numpy(source[f"{name}.bias"]))


def run(x, rule):
    for m in modules[:conv5 + 1]:
        if isinstance(m, nn.ReLU): x = Relu.apply(x, rule)
        elif isinstance(m, nn.LocalResponseNorm) and rule == "deconvnet": x = PassBack.apply(x, m)
        else: x = m(x)
    return x


rows = list(csv.DictReader(open(f"{a.dir}/sanity.csv")))
ours = np.load(f"{a.dir}/sanity-projections.npy")   # steps × rules × units × C × H × W
steps, n_rules, n_units = ours.shape[:3]
rules = list(dict.fromkeys(r["rule"] for r in rows))
units = [(int(r["map"]), int(r["image"])) for r in rows[:n_units]]
count = max(i for _, i in units) + 1
pixels = np.frombuffer(gzip.open(f"{a.data}/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)[:count * 784]
images = torch.from_numpy(pixels.reshape(count, 1, 28, 28).astype(np.float32) / 255 - trained["data/mean"])
load(0)
with torch.no_grad(): out = run(images, "gradient")
positions = [divmod(int(out[i, m].flatten().argmax()), out.shape[3]) for m, i in units]

worst = 0.0
for s in range(steps):
    load(s)
    for r, rule in enumerate(rules):
        x = images[[i for _, i in units]].clone().requires_grad_(True)
        y = run(x, rule)
        seed = torch.zeros_like(y)
        for k, ((m, _), (row, col)) in enumerate(zip(units, positions)): seed[k, m, row, col] = 1
        y.backward(seed)
        theirs = x.grad.numpy().astype(np.float64)
        for k in range(n_units):
            worst = max(worst, np.abs(ours[s, r, k] - theirs[k]).max() / max(np.abs(theirs[k]).max(), 1e-30))
ok = worst <= 1e-4
print(f"{steps * n_rules * n_units} projections ({steps} steps × {len(rules)} rules × {n_units} units) recomputed in PyTorch: "
      f"largest |Strata − PyTorch| / max |PyTorch| {worst:.2g} ({'agree' if ok else 'DIFFER'} within 1e-4)")
sys.exit(0 if ok else 1)
