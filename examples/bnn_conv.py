"""Seed 001's binarized NIN-style network (XNOR-Net scaling) on 3×32×32 images, then packed to 1 bit.

Uses CIFAR-10 when found (``--cifar DIR``: the folder of CIFAR-10's *binary* version, ``data_batch_{1..5}.bin`` and
``test_batch.bin``, read without pickle by ``tinycompress.data.CIFAR10``); otherwise trains on a clearly
labelled STAND-IN: MNIST padded to 32×32 and repeated over 3 channels. The trained model is exported packed
and its bytes and test accuracy are measured on that deployed form.

    python examples/bnn_conv.py --epochs 1 --max-steps 5 --test-samples 64     # a smoke run
"""
import argparse
import os
import sys


import tinycompress as tc
from tinycompress import models
from tinycompress.compress.binary import ClipWeights
from tinycompress.compress.deploy import export
from tinycompress.data.cifar import find_cifar10
from tinycompress.models import cifar10_loaders, make_optimizer, make_scheduler, mnist_loaders
from tinycompress.train import evaluate, fit


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--cifar", default=os.environ.get("CIFAR10_DIR"), help="folder of CIFAR-10's binary batches "
                    "(default: $CIFAR10_DIR; without it, MNIST padded to 3x32x32 stands in)")
    ap.add_argument("--data", default=None, help="MNIST folder (default: $TINYCOMPRESS_DATA, ./data, then the bundled subset)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--weight-quant", choices=["binary", "ternary"], default="binary")
    ap.add_argument("--test-samples", type=int, default=None, help="score on the first N test images only (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    tc.manual_seed(args.seed)
    recipe = models.recipe("nin_bnn")
    if find_cifar10(args.cifar) is None:
        print(f"DATASET: STAND-IN (CIFAR-10 not found in {args.cifar}): MNIST padded to 3x32x32")
        loaders = mnist_loaders(recipe, root=args.data, batch_size=args.batch_size)
    else:
        print(f"DATASET: CIFAR-10 from {args.cifar}")
        loaders = cifar10_loaders(recipe, args.cifar, batch_size=args.batch_size)
    if args.test_samples is not None:                          # the first N, same batching
        test = loaders[1]
        loaders = (loaders[0], tc.utils.data.DataLoader(tc.utils.data.Subset(test.dataset, range(args.test_samples)),
                                                        batch_size=test.batch_size, shuffle=False))
    model = models.build("nin_bnn", weight_quant=args.weight_quant)
    optimizer = make_optimizer(recipe, model.parameters())
    history = fit(model, optimizer, loaders[0], epochs=args.epochs, scheduler=make_scheduler(recipe, optimizer),
                  test_loader=loaders[1], callbacks=[ClipWeights()], max_steps_per_epoch=args.max_steps)
    for i, m in enumerate(history, 1):
        print(f"epoch {i}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float)))
    deployed = export(model)                                   # packed: every binary conv XNOR-popcount
    correct = total = 0
    for x, y in loaders[1]:
        correct += int((deployed(x.array).argmax(1) == y.array).sum())
        total += len(y)
    float_bytes = sum(p.array.nbytes for p in model.parameters())
    print(f"float model {float_bytes:,} bytes, test accuracy {evaluate(model, loaders[1])['acc']:.4f}; "
          f"packed {deployed.nbytes:,} bytes ({float_bytes / deployed.nbytes:.1f}x smaller), test accuracy "
          f"{correct / total:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
