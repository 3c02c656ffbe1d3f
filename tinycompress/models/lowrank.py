"""Seed 003's networks in SVD form (and their dense twins).

* ``svd_net`` — the seed's regression demo: LinearSVD(input_dim → hidden) → ReLU → Linear(hidden, 1)
  → ReLU, trained with MSE on random data (examples/svd_training.py; not an MNIST classifier).
* ``svd_mlp`` / ``svd_mlp_dense`` — LeNet-300-100 (784-300-100-10) on MNIST, with its two hidden
  layers as LinearSVD. Those two hold 99.6% of the weights (235,200 + 30,000 of 266,200); the
  100→10 classifier is rank ≤ 10 already and stays dense (factorising it saves at most 10 columns
  and truncating it cuts straight into the logits). 784-300-100-10 rather than seed 004's
  784-100-10 because the wide first layer is where low rank pays: at rank r it costs r·1,085
  instead of 235,200.
* ``resnet18`` / ``resnet18_svd`` — the CIFAR ResNet-18 of seed 003 (BasicBlock, 3×3 stem with
  no max-pool, stages of 64/128/256/512 channels, two blocks each, global average pooling,
  Linear(512, 10)); in the SVD twin every convolution (shortcut 1×1s included) is a Conv2dSVD and
  the classifier a LinearSVD. On MNIST the inputs are padded and repeated to 3×32×32.
"""
from __future__ import annotations

from functools import partial

from .. import nn
from ..compress.lowrank import Conv2dSVD, LinearSVD
from ..nn import functional as F
from . import Recipe, register

_REGRESSION = Recipe(optimizer="adam", lr=1e-3, batch_size=32, test_batch_size=1000, epochs=5,
                     normalize="unit", input="flat", seed_doc="003")
_MLP = Recipe(optimizer="adam", lr=1e-3, batch_size=64, test_batch_size=1000, epochs=10,
              normalize="mnist", input="flat", seed_doc="003")
_RESNET = Recipe(optimizer="sgd", lr=0.01, batch_size=128, test_batch_size=500, epochs=10,
                 normalize="mnist", input="image32x3",
                 optimizer_kwargs={"momentum": 0.9, "weight_decay": 5e-4}, seed_doc="003")


@register("svd_net", _REGRESSION)
def svd_net(input_dim: int = 1024, hidden_dim: int = 128, rank: int | None = None) -> nn.Module:
    """Seed 003's SVDNet: LinearSVD(input_dim, hidden_dim) → ReLU → Linear(hidden_dim, 1) → ReLU
    (a regression model for random data; see examples/svd_training.py)."""
    return nn.Sequential(LinearSVD(input_dim, hidden_dim, rank=rank), nn.ReLU(), nn.Linear(hidden_dim, 1),
                         nn.ReLU())


def _mlp(linear) -> nn.Module:
    return nn.Sequential(linear(784, 300), nn.ReLU(), linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


@register("svd_mlp", _MLP)
def svd_mlp() -> nn.Module:
    """LinearSVD(784, 300) → ReLU → LinearSVD(300, 100) → ReLU → Linear(100, 10), full rank at start."""
    return _mlp(LinearSVD)


@register("svd_mlp_dense", _MLP)
def svd_mlp_dense() -> nn.Module:
    """The dense twin of ``svd_mlp``: Linear(784, 300) → ReLU → Linear(300, 100) → ReLU → Linear(100, 10)."""
    return _mlp(nn.Linear)


class BasicBlock(nn.Module):
    """conv3×3(stride) → BN → ReLU → conv3×3 → BN, plus the shortcut (identity, or a strided 1×1 conv
    → BN when the shape changes), then ReLU."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, conv=None) -> None:
        super().__init__()
        conv = conv or nn.Conv2d
        self.conv1 = conv(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(conv(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))

    def deploy_layers(self) -> list:
        """``forward`` as ``export`` reads it: relu(main(x) + shortcut(x))."""
        from ..compress.deploy import Residual
        main = [self.conv1, self.bn1, nn.ReLU(), self.conv2, self.bn2]
        return [Residual(main, list(self.shortcut)), nn.ReLU()]


class ResNet(nn.Module):
    """The CIFAR ResNet: 3×3 stem (no max-pool), four stages, global average pool, linear classifier."""

    def __init__(self, num_blocks=(2, 2, 2, 2), num_classes: int = 10, in_channels: int = 3, width: int = 64,
                 conv=None, linear=None) -> None:
        super().__init__()
        conv, linear = conv or nn.Conv2d, linear or nn.Linear
        self.in_planes = width
        self.conv1 = conv(in_channels, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages = []
        for i, blocks in enumerate(num_blocks):
            planes, stride = width * 2 ** i, 1 if i == 0 else 2
            layers = []
            for s in [stride] + [1] * (blocks - 1):
                layers.append(BasicBlock(self.in_planes, planes, s, conv))
                self.in_planes = planes
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.linear = linear(self.in_planes, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.linear(out.reshape(out.shape[0], -1))

    def deploy_layers(self) -> list:
        """``forward`` as ``export`` reads it."""
        return [self.conv1, self.bn1, nn.ReLU(), self.layer1, self.layer2, self.layer3, self.layer4,
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), self.linear]


@register("resnet18", _RESNET)
def resnet18(num_classes: int = 10, width: int = 64) -> nn.Module:
    """CIFAR ResNet-18 (BasicBlock, [2, 2, 2, 2])."""
    return ResNet((2, 2, 2, 2), num_classes=num_classes, width=width)


@register("resnet18_svd", _RESNET)
def resnet18_svd(num_classes: int = 10, width: int = 64, decomposition: str = "channel") -> nn.Module:
    """CIFAR ResNet-18 with every convolution a Conv2dSVD (``decomposition`` 'channel' or 'spatial')
    and the classifier a LinearSVD, all at full rank."""
    return ResNet((2, 2, 2, 2), num_classes=num_classes, width=width,
                  conv=partial(Conv2dSVD, decomposition=decomposition), linear=LinearSVD)
