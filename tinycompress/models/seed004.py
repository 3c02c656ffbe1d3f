"""Seed 004's networks: an MLP and a small conv net, each with and without batch norm.

Recipe (seed 004): SGD lr 0.1, batch 64 (test 128), inputs (x/255 − 0.5)/0.5; the MLPs train
10 epochs on flattened images, the conv nets 5 epochs on 1×28×28 images.
"""
from __future__ import annotations

from .. import nn
from . import Recipe, register

_MLP = Recipe(optimizer="sgd", lr=0.1, batch_size=64, test_batch_size=128, epochs=10,
              normalize="half", input="flat", seed_doc="004")
_CONV = Recipe(optimizer="sgd", lr=0.1, batch_size=64, test_batch_size=128, epochs=5,
               normalize="half", input="image", seed_doc="004")


@register("mlp", _MLP)
def mlp() -> nn.Module:
    """Linear(784, 100) → ReLU → Linear(100, 10)."""
    return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))


@register("bn_mlp", _MLP)
def bn_mlp() -> nn.Module:
    """Linear(784, 100) → BatchNorm1d(100) → ReLU → Linear(100, 10)."""
    return nn.Sequential(nn.Linear(784, 100), nn.BatchNorm1d(100), nn.ReLU(), nn.Linear(100, 10))


def _conv_net(batch_norm: bool) -> nn.Module:
    def block(cin, cout, k, pad):
        layers = [nn.Conv2d(cin, cout, k, padding=pad)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        return layers + [nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(*block(1, 6, 3, 1), *block(6, 16, 5, 0), nn.Flatten(), nn.Linear(400, 10))


@register("conv_net", _CONV)
def conv_net() -> nn.Module:
    """Conv2d(1, 6, 3, padding 1) → ReLU → MaxPool(2) → Conv2d(6, 16, 5) → ReLU → MaxPool(2) → Linear(400, 10)."""
    return _conv_net(batch_norm=False)


@register("conv_bn_net", _CONV)
def conv_bn_net() -> nn.Module:
    """conv_net with BatchNorm2d after each convolution."""
    return _conv_net(batch_norm=True)
