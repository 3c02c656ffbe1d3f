"""A standard torch MNIST script run with only its imports and its dataset lines changed.

The script below is the shape of the classic pytorch/examples ``mnist/main.py`` (written out here, not
copied): a conv net with ``Dropout2d``/``Dropout`` and ``log_softmax``, ``F.nll_loss``, ``Adadelta``,
``StepLR``, ``torch.utils.data.DataLoader`` with the CUDA keyword arguments, ``torch.device``,
``torch.cuda.is_available()``, ``torch.manual_seed`` and ``torch.save`` of the state dict.

The port: every ``torch`` import becomes ``tinycompress`` and ``from torchvision import datasets,
transforms`` becomes ``from tinycompress.data import datasets, transforms``; the two dataset lines
keep ``datasets.MNIST('../data', ...)`` (the files are found through ``$TINYCOMPRESS_DATA``, here the
bundled subset) but take a ``Subset`` of it, so the run is a few steps. Under torch (torchvision is
not installed here) the same script reads the same arrays through a stand-in ``datasets.MNIST`` that
applies ``transform`` per image, with tinycompress's NumPy transforms (torchvision's numbers).
Shuffling and dropout draw from each library's own stream, so the two runs are checked for what
they print and save; the numbers are compared on the script's ``Net`` from the same weights (eval
mode, Adadelta and StepLR steps) in float64.
"""
import re
import sys
import types

import numpy as np
import pytest
import torch

import tinycompress as tc
from porting_kit import assert_state_close, changed_lines, copy_weights, default_dtype, load, mnist_subset, port, to_np

MNIST_MAIN = '''
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision import datasets, transforms
from torch.optim.lr_scheduler import StepLR


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    print('\\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))


def main():
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N')
    parser.add_argument('--epochs', type=int, default=14, metavar='N')
    parser.add_argument('--lr', type=float, default=1.0, metavar='LR')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M')
    parser.add_argument('--no-cuda', action='store_true', default=False)
    parser.add_argument('--dry-run', action='store_true', default=False)
    parser.add_argument('--seed', type=int, default=1, metavar='S')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N')
    parser.add_argument('--save-model', action='store_true', default=False)
    args = parser.parse_args()
    use_cuda = not args.no_cuda and torch.cuda.is_available()

    torch.manual_seed(args.seed)

    device = torch.device("cuda" if use_cuda else "cpu")

    train_kwargs = {'batch_size': args.batch_size}
    test_kwargs = {'batch_size': args.test_batch_size}
    if use_cuda:
        cuda_kwargs = {'num_workers': 1,
                       'pin_memory': True,
                       'shuffle': True}
        train_kwargs.update(cuda_kwargs)
        test_kwargs.update(cuda_kwargs)

    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.1307,), (0.3081,))
    ])
    dataset1 = datasets.MNIST('../data', train=True, download=True, transform=transform)
    dataset2 = datasets.MNIST('../data', train=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")


if __name__ == '__main__':
    main()
'''

TORCHVISION = "from torchvision import datasets, transforms\n"
OURS = "from tinycompress.data import datasets, transforms\n"
DATASET_LINES = [
    ("    dataset1 = datasets.MNIST('../data', train=True, download=True, transform=transform)\n",
     "    dataset1 = torch.utils.data.Subset(datasets.MNIST('../data', train=True, download=True, "
     "transform=transform), range(256))\n"),
    ("    dataset2 = datasets.MNIST('../data', train=False, transform=transform)\n",
     "    dataset2 = torch.utils.data.Subset(datasets.MNIST('../data', train=False, transform=transform), "
     "range(200))\n"),
]
ARGS = ["main.py", "--epochs", "2", "--log-interval", "2", "--test-batch-size", "100", "--save-model"]


class _TorchvisionMNIST:
    def __init__(self, root, train=True, download=False, transform=None):
        self.data, self.targets = mnist_subset(train)
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.transform(self.data[i]), int(self.targets[i])


def _ported():
    return port(MNIST_MAIN, extra=DATASET_LINES).replace(TORCHVISION, OURS)


def test_the_port_changes_imports_and_the_dataset_lines_only():
    changed = changed_lines(MNIST_MAIN, _ported())
    assert len(changed) == 8
    imports = [a for a, _ in changed if a.startswith(("import", "from"))]
    assert len(imports) == 6 and all("torch" in a for a in imports)
    assert [a for a, _ in changed if not a.startswith(("import", "from"))] == [old.rstrip("\n") for old, _ in DATASET_LINES]


def _run(source, env, monkeypatch, tmp_path, capsys, name):
    monkeypatch.setattr(sys, "argv", ARGS)
    folder = tmp_path / name
    folder.mkdir()
    monkeypatch.chdir(folder)
    load(source, False, "__main__", env=env)
    out = capsys.readouterr().out
    return out, folder


def test_the_script_runs_ported_as_it_runs_under_torch(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tc.data.BUNDLED_DIR))
    ours, ours_dir = _run(_ported(), {}, monkeypatch, tmp_path, capsys, "ours")
    theirs_source = MNIST_MAIN.replace(TORCHVISION, "")
    for old, new in DATASET_LINES:
        theirs_source = theirs_source.replace(old, new)
    shim = {"datasets": types.SimpleNamespace(MNIST=_TorchvisionMNIST), "transforms": tc.data.transforms}
    theirs, theirs_dir = _run(theirs_source, shim, monkeypatch, tmp_path, capsys, "theirs")

    def shape(text):                        # the printed lines with their numbers blanked
        return re.sub(r"\d+(\.\d+)?", "#", text)
    assert shape(ours) == shape(theirs)
    assert re.findall(r"\[\d+/(\d+)", ours) == re.findall(r"\[\d+/(\d+)", theirs) == ["256"] * 4
    assert ours.count("Train Epoch") == 4 and ours.count("Test set: Average loss") == 2
    losses = [float(v) for v in re.findall(r"Loss: (\d+\.\d+)", ours)]
    assert all(np.isfinite(losses)) and losses[0] > 1.5                      # log-softmax of ~10 classes at init
    saved = tc.load(str(ours_dir / "mnist_cnn.pt"))
    reference = torch.load(str(theirs_dir / "mnist_cnn.pt"))
    assert list(saved) == list(reference) and all(tuple(saved[k].shape) == tuple(reference[k].shape) for k in saved)


def test_the_scripts_net_and_optimizer_follow_torch_from_the_same_weights():
    """Eval-mode outputs, then three Adadelta steps with StepLR(1, 0.7) between them, in float64."""
    images, labels = mnist_subset(True, 16)
    x = ((images.astype(np.float64) / 255 - 0.1307) / 0.3081)[:, None]
    with default_dtype("float64"):
        spaces = [load(MNIST_MAIN.replace(TORCHVISION, ""), False, "<mnist>"),
                  load(_ported(), False, "<mnist, ported>")]
        nets = [ns["Net"]().double() for ns in spaces]
        copy_weights(nets[0], nets[1])
        losses = []
        for net, ns, lib in zip(nets, spaces, (torch, tc)):
            net.eval()                                                    # dropout off: the same function
            optimizer = ns["optim"].Adadelta(net.parameters(), lr=1.0)
            scheduler = ns["StepLR"](optimizer, step_size=1, gamma=0.7)
            run = []
            for _ in range(3):
                optimizer.zero_grad()
                loss = ns["F"].nll_loss(net(lib.from_numpy(x)), lib.from_numpy(labels))
                loss.backward()
                optimizer.step()
                scheduler.step()
                run.append(loss.item())
            losses.append(run + scheduler.get_last_lr())
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-10)
        assert_state_close(nets[1], nets[0], rtol=1e-8, atol=1e-10)
        out = [to_np(net(lib.from_numpy(x[:4]))) for net, lib in zip(nets, (torch, tc))]
        np.testing.assert_allclose(out[1], out[0], rtol=1e-9, atol=1e-10)
