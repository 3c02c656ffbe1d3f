"""Masked / pruned models: seed 002's Network (``sparse_mlp``) and the two networks Han et al. prune,
LeNet-300-100 (``lenet300_100``) and Caffe's LeNet-5 (``lenet5``)."""
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


# Han et al. 2015 prune Caffe's LeNet-5 (its examples/mnist/lenet.prototxt): two 5×5 convolutions of 20 and
# 50 filters, each followed by 2×2 max pooling (no ReLU after them, as Caffe's), then 800 → 500 → ReLU → 10.
# Caffe's solver: SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 64, pixels scaled to [0, 1]
# (10,000 iterations ≈ 11 epochs, with its "inv" lr decay; we keep the lr constant over 12 epochs).
@register("lenet5", Recipe(optimizer="sgd", lr=0.01, batch_size=64, test_batch_size=1000, epochs=12,
                           normalize="unit", input="image",
                           optimizer_kwargs={"momentum": 0.9, "weight_decay": 5e-4}, seed_doc="002"))
def lenet5(num_classes: int = 10):
    """LeNet-5, Caffe's 20-50-500 variant (431K weights): conv 1→20 5×5, maxpool 2, conv 20→50 5×5,
    maxpool 2, flatten (800), fc 800→500, ReLU, fc 500→10."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 20, 5)), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(20, 50, 5)), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(800, 500)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(500, num_classes)),
    ]))
