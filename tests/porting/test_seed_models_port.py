"""Seeds 000, 002 and 003: their models and training code run as torch code and, imports rewritten,
on tinycompress, from the same weights, compared in float64 step by step.

SEEDS.md gives seed 000's and 002's Functions and layers as code (kept verbatim in
tests/test_seed_functions.py and reused here); the rest — seed 000's model, training and test loop,
seed 002's ``gen_mask`` and ``Network``, seed 003's ``LinearSVD``, ``Conv2dSVD``, ``SVDNet`` and its
regularised loss — is reconstructed from SEEDS.md's description, as torch code a user of that seed
would have, and said so again at each source. Where the seeds read MNIST through torchvision, the
comparison feeds both libraries the same float64 batches (torchvision is not installed here, and the
loaders' shuffles come from each library's own stream); seed 000's loader lines themselves are run
ported in their own test. Dropout draws its masks from each library's own stream, so the trajectory
comparison sets the built model's ``Dropout.p`` to 0 on both sides (the only change to a built model).
"""
import numpy as np
import pytest
import torch

import tinycompress as tc
from porting_kit import (assert_state_close, changed_lines, copy_weights, default_dtype, load, mnist_subset, port,
                         to_np)
from test_seed_functions import SEED_000, SEED_002

# ----------------------------------------------------------------------------- seed 000
# reconstructed from SEEDS.md: the model, Adam 0.01, StepLR(40, 0.1) per epoch, CE, batch 100, the loaders
SEED_000_SCRIPT = SEED_000 + '''
from torchvision import datasets, transforms

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
train_loader = torch.utils.data.DataLoader(datasets.MNIST('data', train=True, download=True, transform=transform),
                                           batch_size=100, shuffle=True)
test_loader = torch.utils.data.DataLoader(datasets.MNIST('data', train=False, transform=transform),
                                          batch_size=100, shuffle=True)

model = nn.Sequential(
    BinarizedLinear(784, 2048, False),
    nn.BatchNorm1d(2048),
    BinarizedLinear(2048, 2048),
    nn.BatchNorm1d(2048),
    BinarizedLinear(2048, 2048),
    nn.Dropout(0.5),
    nn.BatchNorm1d(2048),
    nn.Linear(2048, 10),
)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=40, gamma=0.1)
losses = []


def train(epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data = data.view(-1, 784)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if batch_idx % 100 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
    scheduler.step()


def test():
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data = data.view(-1, 784)
            output = model(data)
            pred = output.argmax(dim=1)
            correct += pred.eq(target).sum().item()
    return correct / len(test_loader.dataset)
'''

TORCHVISION = "from torchvision import datasets, transforms\n"
OURS = "from tinycompress.data import datasets, transforms\n"


class _TorchvisionMNIST:
    """torchvision's MNIST from the bundled arrays, ``transform`` per image (an ndarray for the PIL image)."""

    def __init__(self, root, train=True, download=False, transform=None):
        self.data, self.targets = mnist_subset(train)
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.transform(self.data[i]), int(self.targets[i])


def _seed000(monkeypatch):
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tc.data.BUNDLED_DIR))
    import types
    ours = load(port(SEED_000_SCRIPT).replace(TORCHVISION, OURS), False, "<seed 000, ported>")
    shim = {"datasets": types.SimpleNamespace(MNIST=_TorchvisionMNIST), "transforms": tc.data.transforms}
    theirs = load(SEED_000_SCRIPT.replace(TORCHVISION, ""), False, "<seed 000>", env=shim)
    return ours, theirs


def test_seed000_script_ports_by_imports_and_its_loaders_run(monkeypatch):
    ported = port(SEED_000_SCRIPT).replace(TORCHVISION, OURS)
    assert all(a.startswith(("import torch", "from torch")) for a, _ in changed_lines(SEED_000_SCRIPT, ported))
    ours, _ = _seed000(monkeypatch)
    x, y = next(iter(ours["train_loader"]))
    assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32 and float(x.min()) >= -1 and y.shape == (100,)
    assert len(ours["train_loader"]) == 100 and ours["scheduler"].get_last_lr() == [0.01]


def _float64_loader(lib, train, n):
    images, labels = mnist_subset(train, n)
    x = (images.astype(np.float64)[:, None] / 255 - 0.5) / 0.5
    return lib.utils.data.DataLoader(lib.utils.data.TensorDataset(lib.from_numpy(x), lib.from_numpy(labels)),
                                     batch_size=100, shuffle=False)


def test_seed000_train_and_test_loops_follow_torch_in_float64(monkeypatch, capsys):
    with default_dtype("float64"):
        ours, theirs = _seed000(monkeypatch)
        theirs["model"].double()
        copy_weights(theirs["model"], ours["model"].double())
        for ns, lib in ((ours, tc), (theirs, torch)):
            ns["model"][5].p = 0.0                                      # dropout masks are each library's own
            ns["optimizer"] = lib.optim.Adam(ns["model"].parameters(), lr=0.01)     # over the float64 params
            ns["scheduler"] = lib.optim.lr_scheduler.StepLR(ns["optimizer"], step_size=40, gamma=0.1)
            ns["train_loader"], ns["test_loader"] = _float64_loader(lib, True, 100), _float64_loader(lib, False, 100)
            for epoch in (1, 2):
                ns["train"](epoch)
            ns["accuracy"] = ns["test"]()
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-8)
    assert_state_close(ours["model"], theirs["model"], rtol=1e-7, atol=1e-9)
    assert ours["accuracy"] == theirs["accuracy"] and ours["scheduler"].get_last_lr() == theirs["scheduler"].get_last_lr()
    assert capsys.readouterr().out.count("Train Epoch") == 4                     # the seed's log lines, both runs


# ----------------------------------------------------------------------------- seed 002
# reconstructed from SEEDS.md: gen_mask and Network on the seed's CustomizedLinear; a short SGD loop
SEED_002_NETWORK = SEED_002 + '''
import numpy as np


def gen_mask(row, col, percent=0.5, num_zeros=None):
    if num_zeros is None:
        num_zeros = int((row * col) * percent)
    mask = np.hstack([np.zeros(num_zeros), np.ones(row * col - num_zeros)])
    np.random.shuffle(mask)
    return mask.reshape(row, col)


class Network(nn.Module):
    def __init__(self, in_size, out_size, ratio=[0, 0.5, 0]):
        super(Network, self).__init__()
        self.fc1 = CustomizedLinear(in_size, 32, mask=gen_mask(in_size, 32, ratio[0]))
        self.bn1 = nn.BatchNorm1d(32)
        self.relu1 = nn.ReLU()
        self.fc2 = CustomizedLinear(32, 16, mask=gen_mask(32, 16, ratio[1]))
        self.bn2 = nn.BatchNorm1d(16)
        self.relu2 = nn.ReLU()
        self.fc3 = CustomizedLinear(16, out_size, mask=gen_mask(16, out_size, ratio[2]))
        self.bn3 = nn.BatchNorm1d(out_size)
        self.relu3 = nn.ReLU()

    def forward(self, x):
        x = self.relu1(self.bn1(self.fc1(x)))
        x = self.relu2(self.bn2(self.fc2(x)))
        return self.relu3(self.bn3(self.fc3(x)))


def train(model, x, y, optimizer, criterion, steps, batch_size):
    losses = []
    model.train()
    for step in range(steps):
        xb, yb = x[step * batch_size:(step + 1) * batch_size], y[step * batch_size:(step + 1) * batch_size]
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''


def test_seed002_network_trains_as_torch_in_float64():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5 * 16, 20)), rng.integers(0, 4, 5 * 16)
    results = []
    with default_dtype("float64"):
        spaces, models = [], []
        for ported in (False, True):
            spaces.append(load(SEED_002_NETWORK, ported))
            np.random.seed(0)                                              # gen_mask's shuffles, the same twice
            models.append(spaces[-1]["Network"](20, 4, ratio=[0.2, 0.5, 0.3]).double())
        copy_weights(models[0], models[1])
        for ns, model, lib in zip(spaces, models, (torch, tc)):
            opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            results.append(ns["train"](model, lib.from_numpy(x), lib.from_numpy(y), opt, lib.nn.CrossEntropyLoss(), 5, 16))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10)
    assert_state_close(models[1], models[0])
    for name in ("fc1", "fc2", "fc3"):                                     # pruned connections stayed at their init
        layer_t, layer_c = getattr(models[0], name), getattr(models[1], name)
        assert not layer_c.mask.requires_grad and float((layer_c.mask == 0).sum()) > 0
        np.testing.assert_array_equal(to_np(layer_c.weight.grad)[to_np(layer_c.mask) == 0], 0)


# ----------------------------------------------------------------------------- seed 003
# reconstructed from SEEDS.md: the seed's own SVD layers (W rebuilt in every forward, kaiming init
# of the factors as the author added it), SVDNet and the loss that finds factors by name.
SEED_003 = '''
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LinearSVD(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super(LinearSVD, self).__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.rank = min(in_features, out_features)
        self.U = nn.Parameter(torch.Tensor(out_features, self.rank))
        self.s = nn.Parameter(torch.Tensor(self.rank))
        self.V = nn.Parameter(torch.Tensor(in_features, self.rank))
        if bias:
            self.bias = nn.Parameter(torch.Tensor(out_features))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.U, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.V, a=math.sqrt(5))
        nn.init.uniform_(self.s, 0, 1)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        weight = self.U @ torch.diag(self.s) @ self.V.t()
        return F.linear(x, weight, self.bias)


class Conv2dSVD(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 decomposition_mode='channel'):
        super(Conv2dSVD, self).__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.decomposition_mode = decomposition_mode
        if decomposition_mode == 'channel':
            rows, cols = out_channels, in_channels * kernel_size * kernel_size
        elif decomposition_mode == 'spatial':
            rows, cols = in_channels * kernel_size, out_channels * kernel_size
        else:
            raise ValueError(decomposition_mode)
        self.rank = min(rows, cols)
        self.U = nn.Parameter(torch.Tensor(rows, self.rank))
        self.s = nn.Parameter(torch.Tensor(self.rank))
        self.V = nn.Parameter(torch.Tensor(cols, self.rank))
        self.bias = nn.Parameter(torch.Tensor(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.U, a=math.sqrt(5))
        nn.init.kaiming_uniform_(self.V, a=math.sqrt(5))
        nn.init.uniform_(self.s, 0, 1)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -0.1, 0.1)

    def forward(self, x):
        w = self.U @ torch.diag(self.s) @ self.V.t()
        k = self.kernel_size
        if self.decomposition_mode == 'channel':
            weight = w.view(self.out_channels, self.in_channels, k, k)
        else:
            weight = w.view(self.in_channels, k, self.out_channels, k).permute(2, 0, 1, 3)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding)


class SVDNet(nn.Module):
    def __init__(self, input_dim, hidden_dim):
        super(SVDNet, self).__init__()
        self.fc1 = LinearSVD(input_dim, hidden_dim)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(hidden_dim, 1)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.fc2(self.relu1(self.fc1(x))))


class MSELossSVD(nn.Module):
    def __init__(self, lambda_o=1.0, lambda_s=1.0):
        super(MSELossSVD, self).__init__()
        self.lambda_o, self.lambda_s = lambda_o, lambda_s

    def forward(self, output, target, model):
        loss = F.mse_loss(output, target)
        params = dict(model.named_parameters())
        for name in params:
            if name.endswith('.U'):
                prefix = name[:-len('U')]
                U, s, V = params[prefix + 'U'], params[prefix + 's'], params[prefix + 'V']
                r = s.shape[0]
                eye = torch.eye(r)
                orth = (torch.norm(U.t() @ U - eye) + torch.norm(V.t() @ V - eye)) / r ** 2
                hoyer = s.abs().sum() / s.norm()
                loss = loss + self.lambda_o * orth + self.lambda_s * hoyer
        return loss


def train(model, loader, optimizer, criterion, epochs):
    losses = []
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y, model)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
'''


def test_seed003_svdnet_trains_as_torch_in_float64():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4 * 32, 24)), rng.standard_normal((4 * 32, 1))
    results = []
    with default_dtype("float64"):
        spaces = [load(SEED_003, ported) for ported in (False, True)]
        models = [ns["SVDNet"](24, 8).double() for ns in spaces]
        copy_weights(models[0], models[1])
        for ns, model, lib in zip(spaces, models, (torch, tc)):
            loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(lib.from_numpy(x), lib.from_numpy(y)),
                                               batch_size=32)
            opt = lib.optim.Adam(model.parameters(), lr=1e-3)
            results.append(ns["train"](model, loader, opt, ns["MSELossSVD"](1.0, 1.0), 2))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10)
    assert_state_close(models[1], models[0])


@pytest.mark.parametrize("mode", ["channel", "spatial"])
def test_seed003_conv2d_svd_forward_and_backward_as_torch(mode):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 7))
    g = rng.standard_normal((2, 4, 7, 7))
    outs, layers = [], []
    with default_dtype("float64"):
        for ported, lib in ((False, torch), (True, tc)):
            layer = load(SEED_003, ported)["Conv2dSVD"](3, 4, 3, padding=1, decomposition_mode=mode)
            if layers:
                copy_weights(layers[0], layer)
            layers.append(layer)
            x_l = lib.tensor(x, requires_grad=True)
            out = layer(x_l)
            out.backward(lib.from_numpy(g))
            outs.append([out, x_l.grad] + [p.grad for p in layer.parameters()])
    for theirs, ours in zip(*outs):
        np.testing.assert_allclose(to_np(ours), to_np(theirs), rtol=1e-10, atol=1e-12)
