"""Seed 004 (batch normalization) run as torch code and, imports rewritten, on tinycompress.

SEEDS.md summarises the document rather than quoting all of it, so the code below is reconstructed
from that summary and the document's descriptions: its hand-written ``batch_norm_1d`` with moving
statistics (kept with the document's own momentum convention, ``moving = m * moving + (1 - m) *
batch``: it is the seed's code, and both libraries run it as written), the four networks (MLP with
that batch norm, MLP without, conv net with ``nn.BatchNorm2d``, conv net without), its ``data_tf``
transforms and its loaders (``mnist.MNIST('./data', ..., transform=data_tf, download=True)``,
batch 64 shuffled, test batch 128).

The port changes the imports only: ``from torchvision.datasets import mnist`` becomes
``from tinycompress.data import datasets as mnist`` (torchvision's module of datasets is ours), and
the dataset line itself stays: the MNIST files are found through ``$TINYCOMPRESS_DATA`` (here the
bundled subset), as a user's would be. torchvision is not installed here, so the torch run reads the
same arrays through a stand-in ``mnist`` module that applies ``transform`` per image as torchvision
does (giving ``np.array(pil_image)``, the uint8 array, where torchvision gives the PIL image).
Trajectories are compared in float64, on the same batches (the loaders' shuffles come from each
library's own random stream, so the comparison feeds both the first batches of the unshuffled set).
"""
import types

import numpy as np
import pytest
import torch

import tinycompress as tc
from porting_kit import assert_state_close, changed_lines, copy_weights, default_dtype, load, mnist_subset, port, to_np

SEED_004 = '''
import numpy as np
import torch
from torch import nn
from torch.autograd import Variable
from torch.utils.data import DataLoader
from torchvision.datasets import mnist


def simple_batch_norm_1d(x, gamma, beta):
    eps = 1e-5
    x_mean = torch.mean(x, dim=0, keepdim=True)
    x_var = torch.mean((x - x_mean) ** 2, dim=0, keepdim=True)
    x_hat = (x - x_mean) / torch.sqrt(x_var + eps)
    return gamma.view_as(x_mean) * x_hat + beta.view_as(x_mean)


def batch_norm_1d(x, gamma, beta, is_training, moving_mean, moving_var, moving_momentum=0.1):
    eps = 1e-5
    x_mean = torch.mean(x, dim=0, keepdim=True)
    x_var = torch.mean((x - x_mean) ** 2, dim=0, keepdim=True)
    if is_training:
        x_hat = (x - x_mean) / torch.sqrt(x_var + eps)
        moving_mean[:] = moving_momentum * moving_mean + (1. - moving_momentum) * x_mean
        moving_var[:] = moving_momentum * moving_var + (1. - moving_momentum) * x_var
    else:
        x_hat = (x - moving_mean) / torch.sqrt(moving_var + eps)
    return gamma.view_as(x_mean) * x_hat + beta.view_as(x_mean)


def data_tf(x):
    x = np.array(x, dtype='float32') / 255
    x = (x - 0.5) / 0.5
    x = x.reshape((-1,))
    x = torch.from_numpy(x)
    return x


def data_tf_conv(x):
    x = np.array(x, dtype='float32') / 255
    x = (x - 0.5) / 0.5
    x = torch.from_numpy(x)
    x = x.unsqueeze(0)
    return x


train_set = mnist.MNIST('./data', train=True, transform=data_tf, download=True)
test_set = mnist.MNIST('./data', train=False, transform=data_tf, download=True)
train_data = DataLoader(train_set, batch_size=64, shuffle=True)
test_data = DataLoader(test_set, batch_size=128, shuffle=False)


class multi_network(nn.Module):
    def __init__(self):
        super(multi_network, self).__init__()
        self.layer1 = nn.Linear(784, 100)
        self.relu = nn.ReLU(True)
        self.layer2 = nn.Linear(100, 10)

        self.gamma = nn.Parameter(torch.randn(100))
        self.beta = nn.Parameter(torch.randn(100))

        self.moving_mean = Variable(torch.zeros(100))
        self.moving_var = Variable(torch.zeros(100))

    def forward(self, x, is_train=True):
        x = self.layer1(x)
        x = batch_norm_1d(x, self.gamma, self.beta, is_train, self.moving_mean, self.moving_var)
        x = self.relu(x)
        x = self.layer2(x)
        return x


no_bn_net = nn.Sequential(
    nn.Linear(784, 100),
    nn.ReLU(True),
    nn.Linear(100, 10)
)


class conv_bn_net(nn.Module):
    def __init__(self):
        super(conv_bn_net, self).__init__()
        self.stage1 = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5),
            nn.BatchNorm2d(16),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2)
        )

        self.classfy = nn.Linear(400, 10)

    def forward(self, x):
        x = self.stage1(x)
        x = x.view(x.shape[0], -1)
        x = self.classfy(x)
        return x


class conv_no_bn_net(nn.Module):
    def __init__(self):
        super(conv_no_bn_net, self).__init__()
        self.stage1 = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2)
        )

        self.classfy = nn.Linear(400, 10)

    def forward(self, x):
        x = self.stage1(x)
        x = x.view(x.shape[0], -1)
        x = self.classfy(x)
        return x


def train_step(net, im, label, optimizer, criterion):
    output = net(im)
    loss = criterion(output, label)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
'''

TORCHVISION = "from torchvision.datasets import mnist\n"
OURS = "from tinycompress.data import datasets as mnist\n"


class _TorchvisionLike:
    """What ``torchvision.datasets.mnist.MNIST`` yields, from the same arrays: ``transform`` per image."""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.data, self.targets = mnist_subset(train)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        img, target = self.data[i], int(self.targets[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


def _namespaces(monkeypatch):
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tc.data.BUNDLED_DIR))
    source = SEED_004
    ours = load(port(source).replace(TORCHVISION, OURS), False, "<seed 004, ported>")
    theirs = load(source.replace(TORCHVISION, ""), False, "<seed 004>",
                  env={"mnist": types.SimpleNamespace(MNIST=_TorchvisionLike)})
    return ours, theirs


def test_the_port_changes_imports_only():
    ported = port(SEED_004).replace(TORCHVISION, OURS)
    changed = changed_lines(SEED_004, ported)
    assert len(changed) == 5
    assert all(a.lstrip().startswith(("import torch", "from torch")) for a, _ in changed)


def test_data_tf_loader_yields_flat_float32_images_as_torch(monkeypatch):
    ours, theirs = _namespaces(monkeypatch)
    assert ours["train_set"].is_subset is False and len(ours["train_set"]) == len(theirs["train_set"])
    x, y = next(iter(ours["train_data"]))
    assert isinstance(x, tc.Tensor) and x.shape == (64, 784) and x.dtype == np.float32 and y.dtype == np.int64
    images, labels = mnist_subset(True)
    row = np.flatnonzero((images.reshape(len(images), -1) == ((x.array[0] * 0.5 + 0.5) * 255).round()).all(1))
    assert len(row) >= 1 and labels[row[0]] == y.array[0]           # a real image, with its own label
    for (xo, yo), (xt, yt) in zip(ours["test_data"], theirs["test_data"]):      # unshuffled: batch for batch
        np.testing.assert_array_equal(xo.array, xt.numpy())
        np.testing.assert_array_equal(yo.array, yt.numpy())
    assert len(ours["test_data"]) == len(theirs["test_data"]) and len(ours["train_data"]) == len(theirs["train_data"])


def test_data_tf_conv_gives_one_channel_images(monkeypatch):
    ours, theirs = _namespaces(monkeypatch)
    for ns, lib in ((ours, tc), (theirs, torch)):
        ds = ns["mnist"].MNIST('./data', train=False, transform=ns["data_tf_conv"], download=True)
        x, y = next(iter(ns["DataLoader"](ds, batch_size=5, shuffle=False)))
        assert tuple(x.shape) == (5, 1, 28, 28)
    np.testing.assert_array_equal(to_np(x), (mnist_subset(False, 5)[0][:, None] / np.float32(255) - 0.5) / 0.5)


NETWORKS = {"multi_network": lambda ns: ns["multi_network"](), "no_bn_net": lambda ns: ns["no_bn_net"],
            "conv_bn_net": lambda ns: ns["conv_bn_net"](), "conv_no_bn_net": lambda ns: ns["conv_no_bn_net"]()}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_four_networks_train_the_same_steps_as_torch(monkeypatch, name):
    """SGD(lr 0.1) on the same batches from the same weights: same losses, weights, running statistics."""
    with default_dtype("float64"):
        ours_ns, theirs_ns = _namespaces(monkeypatch)
        theirs, ours = NETWORKS[name](theirs_ns).double(), NETWORKS[name](ours_ns).double()
        copy_weights(theirs, ours)
        if name == "multi_network":
            ours.moving_mean, ours.moving_var = tc.zeros(100), tc.zeros(100)
        conv = name.startswith("conv")
        images, labels = mnist_subset(True, 3 * 64)
        x = (images.astype(np.float64) / 255 - 0.5) / 0.5
        x = x[:, None] if conv else x.reshape(len(x), -1)
        losses = []
        for net, L, ns in ((ours, tc, ours_ns), (theirs, torch, theirs_ns)):
            optimizer = L.optim.SGD(net.parameters(), 1e-1)
            criterion = L.nn.CrossEntropyLoss()
            losses.append([ns["train_step"](net, L.from_numpy(x[i:i + 64]), L.from_numpy(labels[i:i + 64]),
                                            optimizer, criterion) for i in range(0, len(x), 64)])
        np.testing.assert_allclose(losses[0], losses[1], rtol=1e-10)
        assert_state_close(ours, theirs)
        if name == "multi_network":
            np.testing.assert_allclose(to_np(ours.moving_mean), to_np(theirs.moving_mean), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(to_np(ours.moving_var), to_np(theirs.moving_var), rtol=1e-10, atol=1e-12)
            outs = [net(L.from_numpy(x[:32]), is_train=False) for net, L in ((ours, tc), (theirs, torch))]
        else:
            ours.eval(), theirs.eval()
            outs = [net(L.from_numpy(x[:32])) for net, L in ((ours, tc), (theirs, torch))]
        np.testing.assert_allclose(to_np(outs[0]), to_np(outs[1]), rtol=1e-9, atol=1e-10)
