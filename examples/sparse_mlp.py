"""Seed 002 end to end: the masked Network (fc2 keeps half its connections) on MNIST, deployed to CSR.

    python examples/sparse_mlp.py --epochs 10                # the recipe (Adam 1e-3, batch 64)
    python examples/sparse_mlp.py --epochs 1 --max-steps 20  # a smoke run
    python examples/sparse_mlp.py --ratio 0 0.9 0            # remove 90% of fc2's connections

Trains with ``tinycompress.train.fit``; the masks never change and the masked weights stay exactly
zero; then deploys with ``compress.deploy.to_sparse`` and checks the deployed predictions.
"""
import argparse
import sys

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.compress.deploy import load_deployed, to_sparse
from tinycompress.compress.prune import sparsity_table
from tinycompress.train import fit, make_optimizer, make_scheduler, mnist_loaders


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--ratio", type=float, nargs=3, default=[0, 0.5, 0], help="fraction removed per layer")
    ap.add_argument("--data", default=None, help="MNIST folder (default: $TINYCOMPRESS_DATA, ./data, then the bundled subset)")
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="sparse_mlp_csr.npz")
    args = ap.parse_args(argv)

    tc.manual_seed(args.seed)
    recipe = models.recipe("sparse_mlp")
    model = models.build("sparse_mlp", ratio=tuple(args.ratio))
    masks = {n: m.mask.array.copy() for n, m in model.named_modules() if hasattr(m, "mask")}
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    optimizer = make_optimizer(recipe, model.parameters())
    history = fit(model, optimizer, train_loader, epochs=args.epochs, scheduler=make_scheduler(recipe, optimizer),
                  test_loader=test_loader, max_steps_per_epoch=args.max_steps)
    for n, m in model.named_modules():
        if n in masks:
            assert np.array_equal(m.mask.array, masks[n]), f"{n}: the mask changed during training"
            assert not np.any(m.weight.array[masks[n] == 0]), f"{n}: a masked weight became non-zero"
    print(f"{'layer':8s} {'shape':>10s} {'kept':>7s} {'fraction':>9s}")
    for row in sparsity_table(model):
        print(f"{row['layer']:8s} {str(row['shape']):>10s} {row['kept']:7d} {row['kept_fraction']:9.3f}")

    model.eval()
    deployed = to_sparse(model)
    deployed.save(args.out)
    deployed = load_deployed(args.out)
    ys, ref, dep = [], [], []
    for x, y in test_loader:
        with tc.no_grad():
            ref.append(model(x).array.argmax(1))
        dep.append(deployed(x.array).argmax(1))
        ys.append(y.array)
    y, r, d = np.concatenate(ys), np.concatenate(ref), np.concatenate(dep)
    dense_bytes = sum(p.array.nbytes for p in model.parameters())
    print(f"test error {100 * np.mean(r != y):.2f}% (last epoch: {history[-1].get('test_acc', float('nan')):.4f} acc)")
    print(f"deployed: {deployed.nbytes} bytes (float parameters {dense_bytes} bytes), predictions equal on "
          f"{100 * np.mean(r == d):.2f}% ({args.out})")
    return 0 if np.array_equal(r, d) else 1


if __name__ == "__main__":
    sys.exit(main())
