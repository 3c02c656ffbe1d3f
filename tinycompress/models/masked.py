"""Masked / pruned models: seed 002's Network (``sparse_mlp``) and Han et al.'s LeNet-300-100 (``lenet300_100``)."""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..compress.masked import MaskedLinear, gen_mask
from . import Recipe, register


# Seed 002 only demonstrates its layer (no training recipe): a 784-32-16-10 net with BatchNorm after
# every layer trains reliably with Adam at its default lr 1e-3 (no lr tuning for the BN-scaled layers),
# batch 64, 10 epochs, inputs normalised with the MNIST mean/std.
@register("sparse_mlp", Recipe(optimizer="adam", lr=1e-3, batch_size=64, test_batch_size=1000, epochs=10,
                               normalize="mnist", input="flat", seed_doc="002"))
def sparse_mlp(in_size: int = 784, out_size: int = 10, ratio=(0, 0.5, 0), final_relu: bool = True):
    """Seed 002's ``Network``: fc1 in→32, bn1, relu, fc2 32→16, bn2, relu, fc3 16→out, bn3, relu.

    Each fc is a :class:`MaskedLinear` whose mask is ``gen_mask(in, out, ratio[i])`` in the seed's
    (in, out) layout (``ratio[i]``: the fraction of connections removed; the default removes half
    of fc2's). The seed ends with a ReLU on the logits; ``final_relu=False`` drops it.
    """
    sizes = [in_size, 32, 16, out_size]
    layers = OrderedDict()
    for k in range(3):
        i, o = sizes[k], sizes[k + 1]
        layers[f"fc{k + 1}"] = MaskedLinear(i, o, mask=gen_mask(i, o, ratio[k]), mask_layout="in_out")
        layers[f"bn{k + 1}"] = nn.BatchNorm1d(o)
        if k < 2 or final_relu:
            layers[f"relu{k + 1}"] = nn.ReLU()
    return nn.Sequential(layers)


# Han et al. 2015 train LeNet-300-100 with Caffe's LeNet solver: SGD lr 0.01, momentum 0.9,
# weight decay 5e-4. We keep that (lr 0.1 with momentum 0.9 is unstable without BatchNorm), batch 64,
# 20 dense epochs; the pruning schedule then retrains at 0.1x the lr.
@register("lenet300_100", Recipe(optimizer="sgd", lr=0.01, batch_size=64, test_batch_size=1000, epochs=20,
                                 normalize="mnist", input="flat",
                                 optimizer_kwargs={"momentum": 0.9, "weight_decay": 5e-4}, seed_doc="002"))
def lenet300_100(in_features: int = 784, num_classes: int = 10):
    """LeNet-300-100: 784 → 300 → ReLU → 100 → ReLU → 10 (Han et al. 2015's MNIST MLP)."""
    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(in_features, 300)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(300, 100)), ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(100, num_classes)),
    ]))
