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


def _bnn_mlp(name):
    """Seed 000's network as the seed writes it (its Binarize Function and BinarizedLinear)."""
    import torch
    import torch.nn as nn

    class Binarize(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return torch.sign(input + 1e-20)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_output[input > 1] = 0
            grad_output[input < -1] = 0
            return grad_output

    class BinarizedLinear(nn.Linear):
        def __init__(self, in_features, out_features, binarize_input=True):
            super().__init__(in_features, out_features, bias=False)
            self.binarize_input = binarize_input

        def forward(self, x):
            if self.binarize_input:
                x = Binarize.apply(x)
            return x @ Binarize.apply(self.weight).t()

    return nn.Sequential(BinarizedLinear(784, 2048, False), nn.BatchNorm1d(2048), BinarizedLinear(2048, 2048),
                         nn.BatchNorm1d(2048), BinarizedLinear(2048, 2048), nn.Dropout(0.5), nn.BatchNorm1d(2048),
                         nn.Linear(2048, 10))


def _bnn_conv(name):
    """bnn_conv (seed 001's style) as a torch user writes it: sign with 0 -> +1 and the saturating STE on
    activations; weights centred over the input channels, clipped to [-1, 1] and signed, with the identity
    STE (no α, no bias), in the registered model's layer order."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class SignSTE(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return torch.where(input >= 0, 1.0, -1.0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * (input.abs() <= 1)

    class QuantizeWeight(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w):
            centred = (w - w.mean(dim=1, keepdim=True)).clamp(-1, 1)
            return torch.where(centred >= 0, 1.0, -1.0)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    class BinarizedConv2d(nn.Conv2d):
        def forward(self, x):
            return F.conv2d(SignSTE.apply(x), QuantizeWeight.apply(self.weight), None, self.stride, self.padding)

    class BinarizedLinear(nn.Linear):
        def forward(self, x):
            return SignSTE.apply(x) @ SignSTE.apply(self.weight).t()

    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(32),
        BinarizedConv2d(32, 64, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(64),
        BinarizedConv2d(64, 128, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(128),
        nn.Flatten(), BinarizedLinear(1152, 256, bias=False), nn.BatchNorm1d(256), nn.Linear(256, 10))


def _lenet300_100(name):
    """LeNet-300-100, re-parametrised by torch.nn.utils.prune (weight_orig, weight_mask) like the pruned
    tinycompress model whose state it loads."""
    from collections import OrderedDict

    import torch.nn as nn
    from torch.nn.utils import prune
    twin = nn.Sequential(OrderedDict([("fc1", nn.Linear(784, 300)), ("relu1", nn.ReLU()), ("fc2", nn.Linear(300, 100)),
                                      ("relu2", nn.ReLU()), ("fc3", nn.Linear(100, 10))]))
    for layer in (twin.fc1, twin.fc2, twin.fc3):
        prune.identity(layer, "weight")
    return twin


def _svd_mlp(name):
    """svd_mlp's factorised layers as torch parameters U (out×r), s (r), V (in×r): y = ((x V) s) Uᵀ + b."""
    import torch
    import torch.nn as nn

    class LinearSVD(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            r = min(n_in, n_out)
            self.U, self.s = nn.Parameter(torch.empty(n_out, r)), nn.Parameter(torch.empty(r))
            self.V, self.bias = nn.Parameter(torch.empty(n_in, r)), nn.Parameter(torch.empty(n_out))

        def forward(self, x):
            return ((x @ self.V) * self.s) @ self.U.t() + self.bias

    return nn.Sequential(LinearSVD(784, 300), nn.ReLU(), LinearSVD(300, 100), nn.ReLU(), nn.Linear(100, 10))


BUILDERS.update(bnn_mlp=_bnn_mlp, bnn_conv=_bnn_conv, lenet300_100=_lenet300_100, svd_mlp=_svd_mlp)


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
