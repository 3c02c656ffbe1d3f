"""PyTorch twins of the registered models, for side-by-side timing and checks.

``torch_twin(name, tc_model)`` builds the same architecture in torch and copies the
tinycompress model's weights into it, so both run the very same function.
"""
from __future__ import annotations

import numpy as np


def _seed004(name):
    import torch.nn as nn
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == "bn_mlp":
        return nn.Sequential(nn.Linear(784, 100), nn.BatchNorm1d(100), nn.ReLU(), nn.Linear(100, 10))
    bn = name == "conv_bn_net"

    def block(cin, cout, k, pad):
        layers = [nn.Conv2d(cin, cout, k, padding=pad)]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        return layers + [nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*block(1, 6, 3, 1), *block(6, 16, 5, 0), nn.Flatten(), nn.Linear(400, 10))


BUILDERS = {name: _seed004 for name in ("mlp", "bn_mlp", "conv_net", "conv_bn_net")}


def register(name):
    """Decorator for twin builders defined by the compression families' benchmarks."""
    def decorate(fn):
        BUILDERS[name] = lambda _name: fn()
        return fn
    return decorate


def torch_twin(name, tc_model):
    import torch
    if name not in BUILDERS:
        raise KeyError(f"no torch twin for {name!r}; known: {sorted(BUILDERS)}")
    twin = BUILDERS[name](name)
    state = {k: torch.from_numpy(np.array(v)) for k, v in tc_model.state_dict().items()}
    twin.load_state_dict(state)
    return twin
