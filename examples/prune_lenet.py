"""Han et al. 2015 on LeNet-300-100: train dense, prune to <= 8% of the weights, retrain at 0.1x lr.

    python examples/prune_lenet.py                                  # 20 dense epochs + 3 prune/retrain stages
    python examples/prune_lenet.py --dense-epochs 1 --stage-epochs 1 --max-steps 20   # a smoke run
    python examples/prune_lenet.py --schedule gradual --scope global

Prints the dense and pruned test error, the kept fraction per layer and the CSR size of the
deployed model (whose predictions are checked against the pruned model's).
"""
import argparse
import sys

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.compress import prune
from tinycompress.compress.deploy import to_sparse
from tinycompress.train import evaluate, fit, make_optimizer, mnist_loaders


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sparsity", type=float, default=0.92, help="fraction of weights removed (0.92: 8%% kept)")
    ap.add_argument("--dense-epochs", type=int, default=20)
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--stage-epochs", type=int, default=3, help="retraining epochs after each pruning stage")
    ap.add_argument("--schedule", choices=["iterative", "gradual", "oneshot"], default="iterative")
    ap.add_argument("--scope", choices=["han", "layer", "global"], default="han",
                    help="han: Han et al.'s per-layer kept fractions scaled to --sparsity (fc1 8%%, fc2 9%%, fc3 "
                         "26%% at 0.92); layer: the same sparsity in every layer; global: one magnitude "
                         "threshold across layers (biased by each layer's weight scale)")
    ap.add_argument("--method", choices=["l1", "random", "ln"], default="l1")
    ap.add_argument("--data", default=None, help="MNIST folder (default: $TINYCOMPRESS_DATA, ./data, then the bundled subset)")
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    tc.manual_seed(args.seed)
    recipe = models.recipe("lenet300_100")
    model = models.build("lenet300_100")
    train_loader, test_loader = mnist_loaders(recipe, root=args.data)
    optimizer = make_optimizer(recipe, model.parameters())
    fit(model, optimizer, train_loader, epochs=args.dense_epochs, test_loader=test_loader,
        max_steps_per_epoch=args.max_steps)
    dense_error = 1 - evaluate(model, test_loader)["acc"]

    retrain = args.stages * args.stage_epochs
    target, scope = args.sparsity, args.scope
    if scope == "han":                        # kept fractions 8/9/26 % scaled so the total is 1 - sparsity
        han = {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}
        sizes = {n: int(np.prod(m.weight.shape)) for n, m in prune.prunable_layers(model)}
        scale = (1 - args.sparsity) * sum(sizes.values()) / sum(han[n] * sizes[n] for n in han)
        target, scope = {n: 1 - min(1.0, han[n] * scale) for n in han}, "layer"
    if args.schedule == "iterative":
        cb = prune.IterativePruning(target, stages=args.stages, epochs_per_stage=args.stage_epochs,
                                    start_epoch=0, method=args.method, scope=scope, lr_factor=0.1)
    elif args.schedule == "gradual":
        cb = prune.GradualPruning(target, method=args.method, scope=scope)
        for g in optimizer.param_groups:
            g["lr"] *= 0.1
    else:
        cb = prune.OneShotPruning(target, args.method, scope, at_epoch=0, lr_factor=0.1)
    fit(model, optimizer, train_loader, epochs=retrain, test_loader=test_loader, callbacks=[cb],
        max_steps_per_epoch=args.max_steps)
    pruned_error = 1 - evaluate(model, test_loader)["acc"]

    rows = prune.sparsity_table(model)
    total, kept = sum(r["weights"] for r in rows), sum(r["kept"] for r in rows)
    print(f"{'layer':6s} {'shape':>11s} {'weights':>8s} {'kept':>7s} {'kept %':>7s}")
    for r in rows:
        print(f"{r['layer']:6s} {str(r['shape']):>11s} {r['weights']:8d} {r['kept']:7d} {100 * r['kept_fraction']:6.2f}%")
    print(f"{'total':6s} {'':>11s} {total:8d} {kept:7d} {100 * kept / total:6.2f}%")
    print(f"test error: dense {100 * dense_error:.2f}%  ->  pruned {100 * pruned_error:.2f}%")

    model.eval()
    deployed = to_sparse(model, format="csr")
    dense_bytes = sum(4 * r["weights"] for r in rows)
    with tc.no_grad():
        same = all(np.array_equal(deployed(x.array).argmax(1), model(x).array.argmax(1)) for x, _ in test_loader)
    print(f"CSR model {deployed.nbytes} bytes (values + int32 indices + row pointers + biases); dense weights "
          f"{dense_bytes} bytes; predictions equal: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
