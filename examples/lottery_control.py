"""Frankle & Carbin's control for a lottery ticket: the ticket's mask with fresh random weights.

    tinycompress train --model lenet300_100 --prune l1 --rewind init --prune-stages 15 --epochs 160 \\
        --sparsity fc1=0.9645,fc2=0.9645,fc3=0.794 --data $MNIST --out runs/lottery
    python examples/lottery_control.py --ticket runs/lottery/last.npz --data $MNIST --seeds 1 2 3

The ticket is the mask the lottery run found together with the initialisation it was found from (the run's
``--seed``, by default 0): its surviving weights start where they started. The control keeps the mask and
draws the weights afresh (``--seeds``). Every arm trains the masked network the same way -- one lottery round:
``--epochs`` epochs with the recipe's optimizer, the same batch order (``--data-seed``) -- and the script prints
each arm's test error. If the ticket is a winning one, the re-initialised controls end worse.
"""
import argparse
import sys

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.nn.utils import prune as torch_prune
from tinycompress.train import evaluate, fit, load_checkpoint, make_optimizer, mnist_loaders


def masks_of(path) -> dict:
    """{layer name: its weight mask} from a pruned run's checkpoint."""
    state = load_checkpoint(path)["model"]
    masks = {key[:-len(".weight_mask")]: np.asarray(value) for key, value in state.items()
             if key.endswith(".weight_mask")}
    if not masks:
        raise SystemExit(f"{path} holds no pruning masks (no '<layer>.weight_mask' entries): pass the checkpoint of "
                         "a pruned run, e.g. runs/lottery/last.npz")
    return masks


def train_masked(model_name, masks, init_seed, data_seed, epochs, loaders, max_steps=None):
    """Build ``model_name`` from ``tc.manual_seed(init_seed)``, fix ``masks`` on it, train ``epochs`` epochs
    (batch order from ``data_seed``); returns the test error."""
    tc.manual_seed(init_seed)
    model = models.build(model_name)
    layers = dict(model.named_modules())
    for name, mask in masks.items():
        if name not in layers or tuple(layers[name].weight.shape) != mask.shape:
            raise SystemExit(f"the ticket's mask for {name!r} {mask.shape} does not fit {model_name}")
        torch_prune.custom_from_mask(layers[name], "weight", tc.tensor(mask))
    train_loader, test_loader = loaders
    tc.manual_seed(data_seed)                                   # the shuffling draws from the global generator
    fit(model, make_optimizer(models.recipe(model_name), model.parameters()), train_loader, epochs=epochs,
        progress=False, max_steps_per_epoch=max_steps)
    return 1 - evaluate(model, test_loader)["acc"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticket", required=True, help="the lottery run's checkpoint (its masks are read)")
    ap.add_argument("--model", default="lenet300_100")
    ap.add_argument("--ticket-seed", type=int, default=0, help="the lottery run's --seed: the ticket's initialisation")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="fresh initialisations of the control")
    ap.add_argument("--data-seed", type=int, default=100, help="the batch order every arm trains on")
    ap.add_argument("--epochs", type=int, default=10, help="epochs per arm (one lottery round)")
    ap.add_argument("--data", default=None, help="MNIST folder (default: $TINYCOMPRESS_DATA, ./data, then the bundled subset)")
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    args = ap.parse_args(argv)

    masks = masks_of(args.ticket)
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.size for m in masks.values())
    print(f"mask: {kept:,} of {total:,} weights kept ({100 * kept / total:.2f}%); "
          + ", ".join(f"{n} {100 * m.mean():.2f}%" for n, m in masks.items()))
    arms = [("ticket (its own initialisation)", args.ticket_seed)] + \
        [(f"control, fresh initialisation (seed {s})", s) for s in args.seeds]
    loaders = mnist_loaders(models.recipe(args.model), root=args.data)
    errors = {}
    for label, seed in arms:
        errors[label] = train_masked(args.model, masks, seed, args.data_seed, args.epochs, loaders, args.max_steps)
        print(f"{label:44s} test error {100 * errors[label]:.2f}%", flush=True)
    controls = [errors[label] for label, _ in arms[1:]]
    print(f"ticket {100 * errors[arms[0][0]]:.2f}%  vs  controls {100 * np.mean(controls):.2f}% "
          f"(min {100 * min(controls):.2f}%, max {100 * max(controls):.2f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
