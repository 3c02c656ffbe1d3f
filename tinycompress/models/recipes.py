"""Recipe glue: the optimizer, learning-rate schedule and data loaders a :class:`~tinycompress.models.Recipe`
names, built as objects (used by the CLI, ``compare``, the examples and the benchmarks)."""
from __future__ import annotations

import sys

import numpy as np


OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adamax": "Adamax", "rmsprop": "RMSprop",
              "adadelta": "Adadelta", "adagrad": "Adagrad", "nadam": "NAdam", "radam": "RAdam"}   # name -> optim class


def make_optimizer(recipe, params):
    """The optimizer a recipe names, with its learning rate and extra keyword arguments."""
    from .. import optim
    if recipe.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    try:
        return getattr(optim, OPTIMIZERS[recipe.optimizer])(params, lr=recipe.lr, **recipe.optimizer_kwargs)
    except TypeError as error:           # e.g. --momentum for an optimizer without one
        raise ValueError(f"optimizer {recipe.optimizer!r} does not take {sorted(recipe.optimizer_kwargs)}: "
                         f"{error}") from None


def make_scheduler(recipe, optimizer):
    """The per-epoch learning-rate schedule a recipe names (or None)."""
    from ..optim import lr_scheduler
    spec = dict(recipe.scheduler or {})
    if not spec:
        return None
    name = spec.pop("name")
    classes = {"step": lr_scheduler.StepLR, "multistep": lr_scheduler.MultiStepLR,
               "exponential": lr_scheduler.ExponentialLR, "cosine": lr_scheduler.CosineAnnealingLR}
    if name not in classes:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {sorted(classes)}")
    return classes[name](optimizer, **spec)


_NORMALIZE = {"half": (0.5, 0.5), "mnist": (0.1307, 0.3081), "unit": None}


def mnist_transform(recipe):
    """uint8 images → float32 model inputs as the recipe says (normalisation, then layout)."""
    from ..data import transforms as T
    if recipe.normalize not in _NORMALIZE:
        raise ValueError(f"unknown normalize {recipe.normalize!r}; choose one of {sorted(_NORMALIZE)}")
    steps = [T.ToTensor()]
    if _NORMALIZE[recipe.normalize] is not None:
        mean, std = _NORMALIZE[recipe.normalize]
        steps.append(T.Normalize((mean,), (std,)))
    if recipe.input == "flat":
        steps.append(T.Flatten())
    elif recipe.input == "image32x3":
        steps.append(T.Lambda(_to_3x32x32))
    elif recipe.input != "image":
        raise ValueError(f"unknown input layout {recipe.input!r}; choose flat, image or image32x3")
    return T.Compose(steps)


def _to_3x32x32(x):
    """(…, 1, 28, 28) → (…, 3, 32, 32): zero-pad by 2 and repeat the channel (a CIFAR-shaped stand-in)."""
    pad = [(0, 0)] * (x.ndim - 2) + [(2, 2), (2, 2)]
    x = np.pad(x, pad)
    return np.repeat(x, 3, axis=-3)


def mnist_loaders(recipe, root=None, batch_size=None, test_batch_size=None, dataset="mnist", quiet=False):
    """Train and test DataLoaders over MNIST with the recipe's transform, batch sizes and shuffling.

    MNIST comes from :func:`~tinycompress.train.find_mnist` (both splits from one folder; the bundled subset only when
    no folder was named, saying so on stderr unless ``quiet``); Fashion-MNIST from ``root`` and the
    usual search (:class:`~tinycompress.data.FashionMNIST`).
    """
    from ..data import MNIST, DataLoader, FashionMNIST
    from ..train import find_mnist
    transform = mnist_transform(recipe)
    if dataset == "mnist":
        folder, is_subset = find_mnist(root)
        train = MNIST(folder, train=True, transform=transform)
        test = MNIST(folder, train=False, transform=transform)
        train.is_subset = test.is_subset = is_subset
        if is_subset and root is None and not quiet:          # fell back (a named bundled folder is no news)
            print(f"tinycompress: full MNIST not found (pass root= or set $TINYCOMPRESS_DATA); using the bundled "
                  f"subset: {len(train):,} training and {len(test):,} test images", file=sys.stderr)
    else:
        cls = {"fashion": FashionMNIST}[dataset]
        train = cls(root, train=True, transform=transform)
        test = cls(root, train=False, transform=transform)
    return (DataLoader(train, batch_size=batch_size or recipe.batch_size, shuffle=True),
            DataLoader(test, batch_size=test_batch_size or recipe.test_batch_size, shuffle=False))


def cifar10_loaders(recipe, root, batch_size=None, test_batch_size=None):
    """Train and test DataLoaders over CIFAR-10's binary files in ``root`` (see :mod:`tinycompress.data.cifar`),
    pixels normalised as the recipe says ('half': to [-1, 1]; 'unit': [0, 1])."""
    from ..data import CIFAR10, DataLoader
    if recipe.normalize not in ("half", "unit"):
        raise ValueError(f"CIFAR-10: normalize={recipe.normalize!r}; use 'half' or 'unit'")

    def transform(img):
        x = img.astype(np.float32) / np.float32(255)
        return (x - np.float32(0.5)) / np.float32(0.5) if recipe.normalize == "half" else x
    train, test = CIFAR10(root, train=True, transform=transform), CIFAR10(root, train=False, transform=transform)
    return (DataLoader(train, batch_size=batch_size or recipe.batch_size, shuffle=True),
            DataLoader(test, batch_size=test_batch_size or recipe.test_batch_size, shuffle=False))
