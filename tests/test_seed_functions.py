"""Seeds 000 and 002's custom Functions, run verbatim: only their imports change.

Each seed's code is kept below as text, exactly as torch code; it is executed twice, once as it
is and once with its imports rewritten the way a user ports it (``import torch`` →
``import tinycompress as torch``), and the two must give the same values and gradients.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from strategies import arrays, seeds, ste_arrays, upstream

# seed 000 (a binarized MLP on MNIST): the Function and the layer, as the seed writes them
SEED_000 = '''
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
'''

# seed 002 (masked linear layers): torch's extending-autograd LinearFunction with a mask, and its layer
SEED_002 = '''
import math

import torch
import torch.nn as nn


class LinearFunction(torch.autograd.Function):
    """
    autograd function which masks it's weights by 'mask'.
    """

    # Note that both forward and backward are @staticmethods
    @staticmethod
    # bias, mask is an optional argument
    def forward(ctx, input, weight, bias=None, mask=None):
        if mask is not None:
            # change weight to 0 where mask == 0
            weight = weight * mask
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        ctx.save_for_backward(input, weight, bias, mask)
        return output

    # This function has only a single output, so it gets only one gradient
    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias, mask = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = grad_mask = None

        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
            if mask is not None:
                # change grad_weight to 0 where mask == 0
                grad_weight = grad_weight * mask
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0).squeeze(0)

        return grad_input, grad_weight, grad_bias, grad_mask


class CustomizedLinear(nn.Module):
    def __init__(self, input_features, output_features, bias=True, mask=None):
        super(CustomizedLinear, self).__init__()
        self.input_features = input_features
        self.output_features = output_features

        self.weight = nn.Parameter(torch.Tensor(self.output_features, self.input_features))
        if bias:
            self.bias = nn.Parameter(torch.Tensor(self.output_features))
        else:
            self.register_parameter('bias', None)
        self.init_params()

        if mask is not None:
            mask = torch.tensor(mask, dtype=torch.float).t()
            self.mask = nn.Parameter(mask, requires_grad=False)
        else:
            self.register_parameter('mask', None)

    def init_params(self):
        stdv = 1. / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        if self.bias is not None:
            self.bias.data.uniform_(-stdv, stdv)

    def forward(self, input):
        return LinearFunction.apply(input, self.weight, self.bias, self.mask)
'''

PORT = {"import torch\n": "import tinycompress as torch\n", "import torch.nn as nn\n": "import tinycompress.nn as nn\n"}


def port(source):
    """What a user does to run torch code on tinycompress: rewrite the imports."""
    for old, new in PORT.items():
        assert old in source
        source = source.replace(old, new)
    return source


def load(source, ported):
    """The seed's code executed as torch code or, imports rewritten, as tinycompress code."""
    if ported:
        source = port(source)
    namespace = {}
    exec(compile(source, "<seed>", "exec"), namespace)
    return namespace


def both(source):
    return load(source, True), load(source, False)


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


def test_the_port_changes_imports_only():
    for source in (SEED_000, SEED_002):
        before, after = source.splitlines(), port(source).splitlines()
        assert len(before) == len(after)
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert len(changed) == 2
        assert all(a.startswith("import torch") and b.startswith("import tinycompress") for a, b in changed)


# ----------------------------------------------------------------------------- seed 000
@settings(max_examples=30)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_seed000_binarize_values_and_straight_through_gradients_match_torch(data, dtype):
    """Binarized input times a weight, plus the input itself: the in-place backward must not leak."""
    m, k, n = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)))
    x = data.draw(ste_arrays((m, k))).astype(dtype)
    w = data.draw(arrays((k, n))).astype(dtype)
    g = upstream(data.draw(seeds()), (m, n), dtype)
    results = []
    for (L, ns) in zip((tc, torch), both(SEED_000)):
        x_l, w_l = L.tensor(x, requires_grad=True), L.tensor(w, requires_grad=True)
        signs = ns["Binarize"].apply(x_l)
        out = signs @ w_l + x_l.sum(dim=1, keepdim=True)
        out.backward(L.tensor(g))
        assert x_l.grad.dtype == x_l.dtype
        results.append((signs, out, x_l.grad, w_l.grad))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs)
    signs = results[0][0].detach().numpy()
    assert np.all(signs[x == 0] == 1)                                        # sign(0) = +1
    # and the definition: the STE passes the gradient only where |x| <= 1
    through = (g @ w.T) * (np.abs(x) <= 1) + g.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(results[0][2].numpy(), through, rtol=1e-5, atol=1e-5)


@settings(max_examples=15)
@given(x=st.integers(1, 4).flatmap(lambda b: ste_arrays((b, 5))), seed=seeds(), binarize_input=st.booleans())
def test_seed000_binarized_linear_layer_matches_torch(x, seed, binarize_input):
    x = x.astype(np.float32)
    results = []
    torch_weight = None
    for (L, ns) in zip((torch, tc), reversed(both(SEED_000))):
        layer = ns["BinarizedLinear"](5, 3, binarize_input)
        assert layer.weight.shape == (3, 5) and layer.bias is None
        if torch_weight is None:
            torch_weight = layer.weight.detach().numpy().copy()
        else:
            layer.weight.data = L.tensor(torch_weight)                           # the same weights
        x_l = L.tensor(x, requires_grad=True)
        out = layer(x_l)
        out.backward(L.tensor(upstream(seed, tuple(out.shape), np.float32)))
        results.append((out, x_l.grad, layer.weight.grad))
    for theirs, ours in zip(*results):
        assert_close(ours, theirs)


# ----------------------------------------------------------------------------- seed 002
@settings(max_examples=20)
@given(data=st.data(), with_bias=st.booleans(), with_mask=st.booleans(), seed=seeds())
def test_seed002_linear_function_matches_torch(data, with_bias, with_mask, seed):
    b, i, o = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)))
    x, w = data.draw(arrays((b, i))), data.draw(arrays((o, i)))
    bias = data.draw(arrays((o,)))
    mask = np.random.default_rng(seed).integers(0, 2, (o, i)).astype(np.float64)
    if with_bias and o == 1:
        # the seed's grad_output.sum(0).squeeze(0) is 0-d for one output feature: torch refuses it, and so do we
        errors = []
        for (L, ns) in zip((tc, torch), both(SEED_002)):
            x_l, w_l, b_l = (L.tensor(v, requires_grad=True) for v in (x, w, bias))
            with pytest.raises(RuntimeError) as info:
                ns["LinearFunction"].apply(x_l, w_l, b_l, L.tensor(mask)).backward(L.ones(b, 1, dtype=L.float64))
            errors.append(str(info.value))
        assert errors[0] == errors[1] and "got [] but expected shape compatible with [1]" in errors[0]
        return
    results = []
    for (L, ns) in zip((tc, torch), both(SEED_002)):
        x_l, w_l, b_l = (L.tensor(v, requires_grad=True) for v in (x, w, bias))
        m_l = L.tensor(mask)
        args = (x_l, w_l, b_l if with_bias else None, m_l if with_mask else None)
        out = ns["LinearFunction"].apply(*args)
        out.backward(L.tensor(upstream(seed, (b, o), np.float64)))
        results.append((out, x_l.grad, w_l.grad, b_l.grad if with_bias else None))
        assert m_l.grad is None and (with_bias or b_l.grad is None)
    for ours, theirs in zip(*results):
        if theirs is None:
            assert ours is None
        else:
            assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    if with_mask:
        assert np.all(results[0][2].numpy()[mask == 0] == 0)                # pruned weights learn nothing


def test_seed002_customized_linear_layer_runs_ported_and_matches_torch():
    ours_ns, theirs_ns = both(SEED_002)
    mask = np.array([[1, 0, 1], [0, 1, 1]])                                # (n_input, n_output), as the seed
    tc.manual_seed(0)
    ours = ours_ns["CustomizedLinear"](2, 3, mask=mask)
    theirs = theirs_ns["CustomizedLinear"](2, 3, mask=mask)
    assert ours.weight.shape == (3, 2) and ours.mask.shape == (3, 2) and not ours.mask.requires_grad
    assert np.all(np.abs(ours.weight.detach().numpy()) <= 1 / np.sqrt(2))   # weight.data.uniform_(±stdv)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.weight.data = tc.tensor(theirs.weight.detach().numpy())
    ours.bias.data = tc.tensor(theirs.bias.detach().numpy())
    x = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]], np.float32)
    outs = []
    for layer, L in ((ours, tc), (theirs, torch)):
        x_l = L.tensor(x, requires_grad=True)
        out = layer(x_l)
        (out * L.tensor(np.arange(9.0, dtype=np.float32).reshape(3, 3))).sum().backward()
        outs.append((out, x_l.grad, layer.weight.grad, layer.bias.grad))
        assert layer.mask.grad is None
    for a, b in zip(*outs):
        assert_close(a, b)
    np.testing.assert_array_equal(outs[0][2].numpy()[mask.T == 0], 0)


def test_the_seeds_functions_are_first_order_here_too():
    """Their backwards write into grad_output and call torch ops: under create_graph both libraries
    give a result, and it agrees (the seeds never differentiate twice, but nothing is silently wrong)."""
    results = []
    for (L, ns) in zip((tc, torch), both(SEED_002)):
        x, w = L.tensor([[0.5, -1.0]], dtype=L.float64, requires_grad=True), L.tensor(
            [[1.5, 2.0], [-0.5, 0.25]], dtype=L.float64, requires_grad=True)
        out = ns["LinearFunction"].apply(x, w)
        gx, gw = L.autograd.grad(out, (x, w), grad_outputs=L.ones(1, 2, dtype=L.float64), create_graph=True)
        results.append((gx, gw))
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name", ["Binarize", "LinearFunction"])
def test_the_ported_functions_are_tinycompress_functions(name):
    ns = load(SEED_000 if name == "Binarize" else SEED_002, True)
    assert issubclass(ns[name], tc.autograd.Function)
