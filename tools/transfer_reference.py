"""The ZF paper's transfer protocol (Tables 4-6) on zfnet-mini over Fashion-MNIST, written in PyTorch
from the protocol, not from Strata's code: the cross-check of experiments/zf-transfer-mini.yaml.

From the same source checkpoint (zfnet-mini trained on classes 0-4 by Strata), for each images-per-class
count and seed:
  transfer: layers conv1..fc7 as trained and frozen (a fixed feature extractor: inference mode, dropout
            off), the source's mean image, a new fc8 (5 units, N(0, 0.0625), bias 0) trained alone;
  scratch:  the whole network from the spec's initialisation (per-layer std, biases 0), dropout on, the
            mean image of its own training draw.
Both: SGD at a constant lr (0.1 for the head alone, 0.01 from scratch, as the experiment file), momentum 0.9, weight decay 0.0005 (on every parameter), batch 15 (a last
partial batch dropped), images in [0, 1] minus the mean; a validation set of `holdout` more training
images per class (disjoint from the draw), mean cross-entropy in inference mode after each epoch; stop
once it has not improved for `patience` epochs (at most `max_epochs`); the weights of the lowest-loss
epoch are evaluated on every test image of classes 5-9. The draws use numpy's generator, not Strata's:
the images differ, the protocol is the same, so the two agree within the seeds' spread or not at all.

    python tools/transfer_reference.py --source RUN/rows/pretrain-0-4/seed-1/checkpoints/latest.safetensors \
        --out transfer-torch.csv
"""
import argparse, gzip, importlib.util, json, os, struct, sys, time
import numpy as np
import torch
import torch.nn as nn


def idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    return {k: np.frombuffer(body[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"]).copy()
            for k, v in header.items() if k != "__metadata__"}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--source", required=True, help="the source checkpoint (Strata safetensors with data/mean)")
    a.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a.add_argument("--reference", default=os.path.join(here, "torch_reference.py"))
    a.add_argument("--counts", default="15,30,45,60")
    a.add_argument("--seeds", default="1,2,3")
    a.add_argument("--classes", default="5,6,7,8,9")
    a.add_argument("--holdout", type=int, default=20)
    a.add_argument("--patience", type=int, default=10)
    a.add_argument("--max-epochs", type=int, default=300)
    a.add_argument("--batch", type=int, default=15)
    a.add_argument("--transfer-lr", type=float, default=0.1, help="the head's learning rate (experiments/zf-transfer-mini.yaml's)")
    a.add_argument("--scratch-lr", type=float, default=0.01, help="a whole network's learning rate from scratch")
    a.add_argument("--modes", default="transfer,scratch")
    a.add_argument("--out", required=True, help="CSV: mode,count,seed,best_epoch,trained_epochs,test_error,seconds")
    args = a.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    spec = importlib.util.spec_from_file_location("torch_reference", args.reference)
    R = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(R)

    classes = [int(c) for c in args.classes.split(",")]
    xs = idx(f"{args.data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255
    ys = idx(f"{args.data}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xt = idx(f"{args.data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    yt = idx(f"{args.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    relabel = {c: k for k, c in enumerate(classes)}
    test = np.isin(yt, classes)
    test_x = torch.from_numpy(xt[test][:, None])
    test_y = torch.from_numpy(np.array([relabel[int(y)] for y in yt[test]]))
    source = read_safetensors(args.source)
    source_mean = torch.from_numpy(source["data/mean"]).reshape(1, 1, 28, 28)
    stds = {"conv1": 0.283, "conv2": 0.05, "conv3": 0.059, "conv4": 0.048, "conv5": 0.048, "fc6": 0.088, "fc7": 0.0625, "fc8": 0.0625}

    def network(seed, transfer):
        torch.manual_seed(seed)
        model = R.zfnet_mini()
        model[-1] = nn.Linear(512, len(classes))
        layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        names = [f"conv{i + 1}" for i in range(5)] + ["fc6", "fc7", "fc8"]
        with torch.no_grad():
            for name, m in zip(names, layers):
                if transfer and name != "fc8":
                    m.weight.copy_(torch.from_numpy(source[f"{name}.weight"]).reshape(m.weight.shape))
                    m.bias.copy_(torch.from_numpy(source[f"{name}.bias"]).reshape(m.bias.shape))
                else:
                    m.weight.normal_(0, stds[name])
                    m.bias.zero_()
        return model

    def evaluate(model, x, y, batch=500):
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
        return nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) != y).float().mean().item()

    rows = []
    for count in [int(c) for c in args.counts.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            rng = np.random.default_rng(1000 * seed + count)
            train, held = [], []
            for c in classes:
                order = rng.permutation(np.flatnonzero(ys == c))
                train += list(order[:count])
                held += list(order[count:count + args.holdout])
            train_x, held_x = torch.from_numpy(xs[train][:, None]), torch.from_numpy(xs[held][:, None])
            train_y = torch.from_numpy(np.array([relabel[int(ys[i])] for i in train]))
            held_y = torch.from_numpy(np.array([relabel[int(ys[i])] for i in held]))
            for mode in args.modes.split(","):
                started = time.time()
                transfer = mode == "transfer"
                mean = source_mean if transfer else train_x.mean(0, keepdim=True)
                model = network(seed, transfer)
                if transfer:
                    # A fixed feature extractor: conv1..fc7 in inference mode, computed once.
                    body, head = model[:-1].eval(), model[-1]
                    with torch.no_grad():
                        f_train, f_held, f_test = (body(v - mean) for v in (train_x, held_x, test_x))
                    trained, inputs = head, (f_train, f_held, f_test)
                else:
                    trained, inputs = model, (train_x - mean, held_x - mean, test_x - mean)
                opt = torch.optim.SGD(trained.parameters(), lr=args.transfer_lr if transfer else args.scratch_lr, momentum=0.9, weight_decay=0.0005)
                g = torch.Generator().manual_seed(seed)
                best, best_epoch, best_state, epoch = float("inf"), 0, None, 0
                for epoch in range(1, args.max_epochs + 1):
                    trained.train()
                    order = torch.randperm(len(train_y), generator=g)
                    for k in range(len(order) // args.batch):
                        b = order[k * args.batch:(k + 1) * args.batch]
                        opt.zero_grad()
                        nn.functional.cross_entropy(trained(inputs[0][b]), train_y[b]).backward()
                        opt.step()
                    loss, _ = evaluate(trained, inputs[1], held_y)
                    if loss < best:
                        best, best_epoch = loss, epoch
                        best_state = {k: v.clone() for k, v in trained.state_dict().items()}
                    elif epoch - best_epoch >= args.patience:
                        break
                trained.load_state_dict(best_state)
                _, error = evaluate(trained, inputs[2], test_y)
                rows.append((mode, count, seed, best_epoch, epoch, error, time.time() - started))
                print(f"{mode:8s} {count:3d}/class seed {seed}: test top-1 error {100 * error:.2f}% "
                      f"(weights of epoch {best_epoch} of {epoch}, {time.time() - started:.0f} s)", flush=True)
    with open(args.out, "w") as f:
        f.write("mode,count,seed,best_epoch,trained_epochs,test_error,seconds\n")
        for r in rows:
            f.write(f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]:.6f},{r[6]:.1f}\n")


if __name__ == "__main__":
    sys.exit(main())
