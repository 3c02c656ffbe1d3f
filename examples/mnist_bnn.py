"""Seed 000 end to end: a binarized MLP on MNIST, then packed to 1-bit weights.

    python examples/mnist_bnn.py --epochs 5                 # the seed's recipe (Adam 0.01, StepLR 40/0.1)
    python examples/mnist_bnn.py --epochs 1 --max-steps 20  # a smoke run
    python examples/mnist_bnn.py --clip-weights             # the paper's latent-weight clipping

Trains with ``tinycompress.train.fit``, packs the model with ``compress.deploy.pack``,
and compares float vs packed size, accuracy and agreement on the test set.
"""
import argparse
import sys
import time

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.compress.binary import ClipWeights
from tinycompress.compress.deploy import load_deployed, pack
from tinycompress.train import evaluate, fit, make_optimizer, make_scheduler, mnist_loaders


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5, help="epochs (the seed ran 100; its 5th reached 0.9700)")
    ap.add_argument("--data", default=None, help="MNIST folder (default: $TINYCOMPRESS_DATA, ./data, then the bundled subset)")
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--clip-weights", action="store_true", help="clip latent weights to [-1, 1] each step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bnn_mlp_packed.npz")
    args = ap.parse_args(argv)

    tc.manual_seed(args.seed)
    recipe = models.recipe("bnn_mlp")
    model = models.build("bnn_mlp")
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    optimizer = make_optimizer(recipe, model.parameters())
    scheduler = make_scheduler(recipe, optimizer)
    callbacks = [ClipWeights()] if args.clip_weights else []
    history = fit(model, optimizer, train_loader, epochs=args.epochs, scheduler=scheduler,
                  test_loader=test_loader, callbacks=callbacks, max_steps_per_epoch=args.max_steps)
    for i, m in enumerate(history, 1):
        print(f"epoch {i}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float)))

    model.eval()
    packed = pack(model)
    packed.save(args.out)
    packed = load_deployed(args.out)
    xs, ys, float_pred, packed_pred = [], [], [], []
    t_float = t_packed = 0.0
    for x, y in test_loader:
        with tc.no_grad():
            t0 = time.perf_counter()
            f = model(x).array
            t1 = time.perf_counter()
        p = packed(x.array)
        t2 = time.perf_counter()
        t_float, t_packed = t_float + t1 - t0, t_packed + t2 - t1
        float_pred.append(f.argmax(1)), packed_pred.append(p.argmax(1)), ys.append(y.array)
    y, fp, pp = np.concatenate(ys), np.concatenate(float_pred), np.concatenate(packed_pred)
    float_bytes = sum(p.array.nbytes for p in model.parameters()) + sum(b.array.nbytes for b in model.buffers())
    print(f"float model : {float_bytes / 1e6:8.3f} MB, test accuracy {np.mean(fp == y):.4f}, {t_float:.2f} s")
    print(f"packed model: {packed.nbytes / 1e6:8.3f} MB, test accuracy {np.mean(pp == y):.4f}, {t_packed:.2f} s"
          f"  ({args.out})")
    print(f"size ratio {float_bytes / packed.nbytes:.1f}x; predictions equal on "
          f"{np.mean(fp == pp) * 100:.2f}% of {len(y)} test images")
    for kind, nbytes in packed.layer_bytes():
        print(f"  {kind:22s} {nbytes:10d} bytes")
    return 0 if np.array_equal(fp, pp) else 1


if __name__ == "__main__":
    sys.exit(main())
