"""Seed 000 trained twice — in tinycompress and in PyTorch — from the same initial weights on the same
batches, test accuracy side by side. A whole-run cross-check: the two differ only by float rounding and
by their dropout masks (each framework draws its own), so their curves should agree to within the
epoch-to-epoch noise of a binarized network.

    python examples/bnn_vs_torch.py --epochs 5 --data ../shared/data/mnist
    python examples/bnn_vs_torch.py --epochs 1 --max-steps 20        # a smoke run

Needs torch (``pip install -e ".[test]"``). The torch side is seed 000's code as written.
"""
import argparse
import os
import sys
import time

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.train import evaluate, make_optimizer, make_scheduler, mnist_loaders

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
from twins import torch_twin  # noqa: E402  (seed 000's network as the seed writes it, shared with the benchmarks)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--data", default=None, help="MNIST folder (default: $TINYCOMPRESS_DATA, ./data, then the "
                    "bundled subset)")
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import torch
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    tc.manual_seed(args.seed)
    recipe = models.recipe("bnn_mlp")
    model = models.build("bnn_mlp")
    twin = torch_twin("bnn_mlp", model)
    optimizer, t_optimizer = make_optimizer(recipe, model.parameters()), torch.optim.Adam(twin.parameters(), lr=recipe.lr)
    scheduler = make_scheduler(recipe, optimizer)
    t_scheduler = torch.optim.lr_scheduler.StepLR(t_optimizer, step_size=40, gamma=0.1)
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    seconds = {"tinycompress": 0.0, "torch": 0.0}

    print(f"{'epoch':>5} {'tinycompress':>13} {'torch':>8}")
    for epoch in range(args.epochs):
        model.train()
        twin.train()
        for step, (x, y) in enumerate(train_loader):          # the same batches for both
            if args.max_steps is not None and step >= args.max_steps:
                break
            started = time.perf_counter()
            loss = tc.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seconds["tinycompress"] += time.perf_counter() - started
            started = time.perf_counter()
            t_loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x.array)), torch.from_numpy(y.array))
            t_optimizer.zero_grad()
            t_loss.backward()
            t_optimizer.step()
            seconds["torch"] += time.perf_counter() - started
        scheduler.step()
        t_scheduler.step()
        acc = evaluate(model, test_loader)["acc"]
        twin.eval()
        with torch.no_grad():
            correct = sum(int((twin(torch.from_numpy(x.array)).argmax(1).numpy() == y.array).sum())
                          for x, y in test_loader)
        print(f"{epoch + 1:>5} {acc:>13.4f} {correct / len(test_loader.dataset):>8.4f}", flush=True)
    print(f"training time: tinycompress {seconds['tinycompress']:.1f} s, torch {seconds['torch']:.1f} s "
          f"(ratio {seconds['tinycompress'] / max(seconds['torch'], 1e-9):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
