"""Seed 004: what batch normalisation does for an MLP and a small conv net on MNIST.

Trains the four networks of seed 004 with its recipe (SGD lr 0.1, batch 64, inputs scaled to [-1, 1]) —
``mlp`` and ``bn_mlp`` (784-100-10), ``conv_net`` and ``conv_bn_net`` — prints their per-epoch test
accuracy side by side and plots it (``--plot``, needs matplotlib).

    python examples/batchnorm_mnist.py --epochs 3 --plot batchnorm.png
    python examples/batchnorm_mnist.py --epochs 1 --max-steps 20          # a smoke run
"""
import argparse
import os
import sys

import tinycompress as tc
from tinycompress import models
from tinycompress.train import fit, make_optimizer, mnist_loaders

PAIRS = (("mlp", "bn_mlp"), ("conv_net", "conv_bn_net"))


def train_one(name, args) -> list[float]:
    """Per-epoch test accuracy of model ``name`` trained with its seed's recipe."""
    tc.manual_seed(args.seed)
    recipe = models.recipe(name)
    model = models.build(name)
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    history = fit(model, make_optimizer(recipe, model.parameters()), train_loader, epochs=args.epochs,
                  test_loader=test_loader, max_steps_per_epoch=args.max_steps, progress=not args.no_progress,
                  log=lambda message: None)
    return [h["test_acc"] for h in history]


def plot(curves: dict, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'tinycompress[plot]')")
        return
    fig, axes = plt.subplots(1, len(PAIRS), figsize=(5 * len(PAIRS), 4), sharey=True)
    for ax, pair in zip(axes, PAIRS):
        for name in pair:
            ax.plot(range(1, len(curves[name]) + 1), curves[name], marker="o", label=name)
        ax.set(xlabel="epoch", title=" vs ".join(pair))
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data", default=os.environ.get("TINYCOMPRESS_DATA"), help="MNIST folder (default: "
                    "$TINYCOMPRESS_DATA, ./data, then the bundled subset)")
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default=None, metavar="PNG")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    curves = {name: train_one(name, args) for pair in PAIRS for name in pair}
    names = [name for pair in PAIRS for name in pair]
    print("test accuracy per epoch")
    print(f"{'epoch':>5}  " + "  ".join(f"{n:>11}" for n in names))
    for epoch in range(args.epochs):
        print(f"{epoch + 1:>5}  " + "  ".join(f"{curves[n][epoch]:>11.4f}" for n in names))
    if args.plot:
        plot(curves, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
