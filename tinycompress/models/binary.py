"""Binarized models: seed 000's MLP (``bnn_mlp``) and seed 001's NIN-style network (``nin_bnn``)."""
from __future__ import annotations

from .. import nn
from ..compress.binary import BinarizedConv2d, BinarizedLinear
from . import Recipe, register


@register("bnn_mlp", Recipe(optimizer="adam", lr=0.01, batch_size=100, test_batch_size=100, epochs=100,
                            scheduler={"name": "step", "step_size": 40, "gamma": 0.1},
                            normalize="half", input="flat", callbacks=(), seed_doc="000"))
def bnn_mlp(in_features: int = 784, hidden: int = 2048, num_classes: int = 10, dropout: float = 0.5):
    """Seed 000: 784 -> 2048 -> 2048 -> 2048 -> 10, binarized weights (and activations after the
    first layer), BatchNorm1d between; the last layer stays float. Seed 000 does not clip weights."""
    return nn.Sequential(
        BinarizedLinear(in_features, hidden, False),
        nn.BatchNorm1d(hidden),
        BinarizedLinear(hidden, hidden),
        nn.BatchNorm1d(hidden),
        BinarizedLinear(hidden, hidden),
        nn.Dropout(dropout),
        nn.BatchNorm1d(hidden),
        nn.Linear(hidden, num_classes),
    )


class TnnBinConv2d(nn.Module):
    """Seed 001's ``Tnn_Bin_Conv2d``: BinarizedConv2d -> BatchNorm2d -> optional ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, last_relu=False,
                 weight_quant="binary"):
        super().__init__()
        self.tnn_bin_conv = BinarizedConv2d(in_channels, out_channels, kernel_size, stride=stride,
                                            padding=padding, weight_quant=weight_quant)
        self.bn = nn.BatchNorm2d(out_channels)
        self.last_relu = last_relu
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.bn(self.tnn_bin_conv(x))
        return self.relu(x) if self.last_relu else x

    def deploy_layers(self) -> list:
        """The layers ``forward`` runs, in order (how ``export`` reads this block)."""
        return [self.tnn_bin_conv, self.bn] + ([self.relu] if self.last_relu else [])


@register("nin_bnn", Recipe(optimizer="adam", lr=0.01, batch_size=100, test_batch_size=100, epochs=100,
                            scheduler={"name": "step", "step_size": 40, "gamma": 0.1},
                            normalize="half", input="image32x3", callbacks=("clip_weights",), seed_doc="001"))
def nin_bnn(cfg=(192, 160, 96, 192, 192, 192, 192, 192), num_classes: int = 10, weight_quant="binary"):
    """Seed 001's ``Net`` for 3×32×32 inputs; first and last convolutions stay float."""
    c = list(cfg)
    return nn.Sequential(
        nn.Conv2d(3, c[0], kernel_size=5, stride=1, padding=2),
        nn.BatchNorm2d(c[0]),
        TnnBinConv2d(c[0], c[1], 1, weight_quant=weight_quant),
        TnnBinConv2d(c[1], c[2], 1, weight_quant=weight_quant),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        TnnBinConv2d(c[2], c[3], 5, padding=2, weight_quant=weight_quant),
        TnnBinConv2d(c[3], c[4], 1, weight_quant=weight_quant),
        TnnBinConv2d(c[4], c[5], 1, weight_quant=weight_quant),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        TnnBinConv2d(c[5], c[6], 3, padding=1, weight_quant=weight_quant),
        TnnBinConv2d(c[6], c[7], 1, last_relu=True, weight_quant=weight_quant),
        nn.Conv2d(c[7], num_classes, kernel_size=1),
        nn.BatchNorm2d(num_classes),
        nn.ReLU(),
        nn.AvgPool2d(kernel_size=8, stride=1),
        nn.Flatten(),
    )


@register("bnn_conv", Recipe(optimizer="adam", lr=0.005, batch_size=100, test_batch_size=1000, epochs=6,
                             scheduler={"name": "cosine", "T_max": 6, "eta_min": 0.0},
                             normalize="half", input="image", callbacks=("clip_weights",), seed_doc="001"))
def bnn_conv(num_classes: int = 10, widths=(32, 64, 128), hidden: int = 256):
    """A binarized conv net for 1×28×28 MNIST in the BNN paper's style (seed 001): the first and last
    layers float, binary weights and activations in between, each binary layer followed by (max pool
    and) BatchNorm whose sign is the next layer's input; no α (the BatchNorm after each layer absorbs
    any per-channel scale), no bias, latent weights clipped to [-1, 1] (the recipe's ClipWeights).

    Conv(1→32, 5×5, pad 2) → MaxPool 2 → BN → [±1 conv 32→64 3×3 pad 1 → MaxPool 2 → BN]
    → [±1 conv 64→128 3×3 pad 1 → MaxPool 2 → BN] → Flatten → [±1 linear 1152→256 → BN] → Linear(256, 10).
    Deployed packed, every binary layer is XNOR-popcount and every BN + sign an integer threshold."""
    c1, c2, c3 = widths
    return nn.Sequential(
        nn.Conv2d(1, c1, 5, padding=2, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c1),
        BinarizedConv2d(c1, c2, 3, padding=1, bias=False, scale=None), nn.MaxPool2d(2), nn.BatchNorm2d(c2),
        BinarizedConv2d(c2, c3, 3, padding=1, bias=False, scale=None), nn.MaxPool2d(2), nn.BatchNorm2d(c3),
        nn.Flatten(),
        BinarizedLinear(c3 * 3 * 3, hidden), nn.BatchNorm1d(hidden),
        nn.Linear(hidden, num_classes),
    )
