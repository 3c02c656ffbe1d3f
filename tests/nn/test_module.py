"""nn.Module registration, traversal order, modes, repr and containers against torch's twins."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tinycompress as tc
from tinycompress import nn


def _arch(lib):
    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lib.Linear(4, 3)
            self.act = lib.ReLU()
            self.block = lib.Sequential(OrderedDict([("lin", lib.Linear(3, 3, bias=False)), ("drop", lib.Dropout(0.1)),
                                                     ("th", lib.Hardtanh(-2.0, 2.0))]))
            self.heads = lib.ModuleList([lib.Linear(3, 2), lib.Sigmoid()])
            self.table = lib.ModuleDict({"a": lib.Tanh(), "b": lib.LeakyReLU(0.2)})
            self.shared = self.fc1
            self.scale = lib.Parameter((tc if lib is nn else torch).ones(1))
            self.register_buffer("count", (tc if lib is nn else torch).zeros(2))
            self.register_buffer("scratch", (tc if lib is nn else torch).zeros(1), persistent=False)

        def forward(self, x):
            return self.heads[0](self.block(self.act(self.fc1(x)))) * self.scale
    return Net()


def test_named_members_and_repr_equal_torch():
    ours, theirs = _arch(nn), _arch(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_modules(prefix="m")] == [n for n, _ in theirs.named_modules(prefix="m")]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert ours.get_submodule("block.lin") is ours.block[0]
    assert ours.get_parameter("heads.0.bias") is ours.heads[0].bias
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))


def test_registration_setattr_delattr():
    m = nn.Module()
    m.w = nn.Parameter(tc.ones(2))
    m.child = nn.Linear(2, 2)
    m.plain = 3
    assert list(m._parameters) == ["w"] and list(m._modules) == ["child"] and "plain" not in m._parameters
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = tc.ones(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == list(m.child.parameters())
    del m.child
    assert not hasattr(m, "child")
    m.add_module("sub", nn.ReLU())
    m.register_module("sub2", nn.Tanh())
    assert list(m._modules) == ["sub", "sub2"]
    with pytest.raises(KeyError, match="contain"):
        m.add_module("a.b", nn.ReLU())

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Early()
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope


def test_parameter_repr_and_sharing():
    t = tc.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert p.requires_grad and p.array is t.array
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert not nn.Parameter(t, requires_grad=False).requires_grad


def test_train_eval_zero_grad_apply_requires_grad():
    m = _arch(nn)
    m.eval()
    assert all(not mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    out = m(tc.randn(5, 4)).sum()
    out.backward()
    assert m.fc1.weight.grad is not None
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    theirs = []
    _arch(torch.nn).apply(lambda mod: theirs.append(type(mod).__name__))
    assert seen == theirs
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.double()
    assert m.fc1.weight.dtype == np.float64 and m.count.dtype == np.float64
    m.float()
    assert m.fc1.weight.dtype == np.float32


def test_sequential_indexing_and_containers():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[-1] is layers[2] and s[0] is layers[0] and list(s) == layers
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:] and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError):
        s[3]
    s.append(nn.Sigmoid())
    assert len(s) == 4 and list(s.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = tc.randn(4, 2)
    y = s(x)
    ref = layers[2](layers[1](layers[0](x))).sigmoid()
    np.testing.assert_allclose(y.array, ref.array)
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Tanh())
    ml += [nn.Sigmoid()]
    assert len(ml) == 3 and isinstance(ml[-1], nn.Sigmoid)
    md = nn.ModuleDict({"x": nn.ReLU()})
    md["y"] = nn.Tanh()
    assert list(md.keys()) == ["x", "y"] and "y" in md
    tm = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1), torch.nn.Sigmoid())
    assert repr(s) == repr(tm)
    assert repr(ml) == repr(torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid()]))
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())
