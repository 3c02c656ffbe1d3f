"""Seed 003: training in SVD form (Yang et al., arXiv 2004.09031), then truncation and fine-tuning.

Part 1 — the seed's regression demo: SVDNet (LinearSVD → ReLU → Linear → ReLU) on random data with
MSE + the orthogonality and sparsity regularisers (small sizes by default; the seed's full run is
``--samples 65536 --input-dim 1024 --hidden 128 --epochs 5``).

Part 2 — MNIST: ``svd_mlp`` (784-300-100-10, hidden layers in SVD form) trained with the
regularisers, truncated by energy, fine-tuned at 0.1× the learning rate (as ``tinycompress train
--svd-truncate`` does), against the dense twin trained for the same total epochs; per-layer rank,
parameters and multiply-accumulates before and after, test accuracy at each stage; then an energy sweep
(accuracy vs parameters, plotted to ``--plot PATH`` when matplotlib is installed).

    python examples/svd_training.py                      # quick: small regression, 1 epoch MNIST
    python examples/svd_training.py --epochs 10 --finetune-epochs 2 --lambda-o 0.1 --lambda-s 1e-3
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np

import tinycompress as tc
from tinycompress import models, nn
from tinycompress.compress.lowrank import (LinearSVD, SVDRegularizer, format_summary, svd_regularizer,
                                           truncate)
from tinycompress.train import evaluate, fit, make_optimizer, mnist_loaders


def regression(args) -> None:
    print(f"== seed 003 regression: {args.samples} × {args.input_dim} random inputs, hidden {args.hidden}")
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.samples, args.input_dim)).astype(np.float32)
    y = np.maximum(x @ rng.standard_normal((args.input_dim, 1)).astype(np.float32) / np.sqrt(args.input_dim), 0)
    model = models.build("svd_net", input_dim=args.input_dim, hidden_dim=args.hidden)
    optimizer = tc.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.reg_epochs):
        order = rng.permutation(args.samples)
        total = 0.0
        for start in range(0, args.samples, 32):
            idx = order[start:start + 32]
            out = model(tc.tensor(x[idx]))
            mse = ((out - tc.tensor(y[idx])) ** 2).mean()
            loss = mse + svd_regularizer(model, args.lambda_o, args.lambda_s, args.sparsity)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(mse.item()) * len(idx)
        print(f"epoch {epoch + 1}: mse {total / args.samples:.4f}")
    print(format_summary(truncate(model, args.energy)))


def layer_table(model, title) -> int:
    """Per layer: rank, parameters, MACs per sample; returns the total parameters."""
    print(f"-- {title}")
    total_params = total_macs = 0
    for name, m in model.named_modules():
        if isinstance(m, LinearSVD):
            params, macs, rank = m.factor_params() + m.bias.array.size, m.macs(1), m.rank
        elif isinstance(m, nn.Linear):
            params, macs, rank = m.weight.array.size + m.bias.array.size, m.weight.array.size, min(m.weight.shape)
        else:
            continue
        total_params += params
        total_macs += macs
        print(f"   {name:<6}{type(m).__name__:<10} rank {rank:>4}  params {params:>9,}  MACs/sample {macs:>9,}")
    print(f"   total{'':<11}{'':>9}  params {total_params:>9,}  MACs/sample {total_macs:>9,}")
    return total_params


def mnist(args) -> None:
    recipe = models.recipe("svd_mlp")
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    steps = args.max_steps

    def train(model, epochs, callbacks=(), lr=recipe.lr):
        optimizer = make_optimizer(dataclasses.replace(recipe, lr=lr), model.parameters())
        fit(model, optimizer, train_loader, epochs, test_loader=test_loader, callbacks=callbacks,
            progress=False, max_steps_per_epoch=steps)
        return evaluate(model, test_loader)["acc"]

    tc.manual_seed(args.seed)
    dense = models.build("svd_mlp_dense")
    dense_acc = train(dense, args.epochs + args.finetune_epochs)          # the same budget as the whole pipeline
    dense_params = layer_table(dense, f"dense twin: test accuracy {dense_acc:.4f}")

    tc.manual_seed(args.seed)
    model = models.build("svd_mlp")
    regulariser = SVDRegularizer(args.lambda_o, args.lambda_s, args.sparsity)
    acc = train(model, args.epochs, [regulariser])
    layer_table(model, f"svd_mlp after regularised training: test accuracy {acc:.4f}")
    trained = model.state_dict()              # full-rank factors, for the energy sweep

    summary = truncate(model, args.energy)
    print(format_summary(summary))
    acc_cut = evaluate(model, test_loader)["acc"]
    params = layer_table(model, f"after truncation to energy {args.energy}: test accuracy {acc_cut:.4f}")
    acc_ft = train(model, args.finetune_epochs, lr=0.1 * recipe.lr)      # as the CLI: 0.1x lr, no regulariser
    print(f"after {args.finetune_epochs} fine-tuning epoch(s): test accuracy {acc_ft:.4f} with {params:,} "
          f"parameters ({params / dense_params:.1%} of the dense {dense_params:,}; dense accuracy {dense_acc:.4f})")

    sweep = []
    for energy in args.sweep:
        m = models.build("svd_mlp")
        m.load_state_dict(trained)
        truncate(m, energy)
        n = sum(p.array.size for p in m.parameters())
        sweep.append((energy, n, evaluate(m, test_loader)["acc"]))
        print(f"energy {energy:<6} parameters {n:>8,}  test accuracy {sweep[-1][2]:.4f} (no fine-tuning)")
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: skipping the plot")
            return
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([n for _, n, _ in sweep], [a for _, _, a in sweep], "o-", label="svd_mlp, truncated")
        ax.axhline(dense_acc, color="gray", ls="--", label="dense twin")
        for e, n, a in sweep:
            ax.annotate(str(e), (n, a), fontsize=7)
        ax.set_xlabel("parameters")
        ax.set_ylabel("test accuracy")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"wrote {args.plot}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--input-dim", type=int, default=64)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--reg-epochs", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=None, help="at most this many steps per epoch (smoke runs)")
    p.add_argument("--lambda-o", type=float, default=0.1)
    p.add_argument("--lambda-s", type=float, default=1e-3)
    p.add_argument("--sparsity", choices=["hoyer", "l1"], default="hoyer")
    p.add_argument("--energy", type=float, default=0.99)
    p.add_argument("--sweep", type=float, nargs="*", default=[0.9, 0.95, 0.98, 0.99, 0.995, 0.999])
    p.add_argument("--plot", default=None, help="write the accuracy-vs-parameters plot here")
    p.add_argument("--data", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-regression", action="store_true")
    p.add_argument("--skip-mnist", action="store_true")
    args = p.parse_args(argv)
    tc.manual_seed(args.seed)
    if not args.skip_regression:
        regression(args)
    if not args.skip_mnist:
        mnist(args)


if __name__ == "__main__":
    main()
