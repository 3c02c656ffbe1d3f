"""The public kit, tinycompress.testing: each check passes on code that agrees with torch and fails, naming
what differs, on code that does not; assert_close says what torch.testing.assert_close says."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinycompress as tc
from tinycompress.testing import (assert_close, check_deployed, check_function, check_module, check_optimizer,
                                  default_tolerances)
from strategies import away_from, broadcastable_pairs, conv_geometries, floats32, seeds, tensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- assert_close
def _torch_message(a, b, **kw):
    try:
        torch.testing.assert_close(torch.from_numpy(a), torch.from_numpy(b), **kw)
    except AssertionError as error:
        return str(error)
    return None


def _our_message(a, b, **kw):
    try:
        assert_close(a, b, **kw)
    except AssertionError as error:
        return str(error)
    return None


@settings(max_examples=40)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]), equal_nan=st.booleans())
def test_assert_close_agrees_with_torch_and_says_the_same(data, dtype, equal_nan):
    """Pass or fail as torch does, with torch's message: count, greatest differences and their indices."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    a = data.draw(hnp.arrays(dtype, shape, elements=floats32(-3, 3)), label="a")
    noise = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 0.0, 1e-9, 1e-6, 1e-3, 0.5])))
    b = (a + noise).astype(dtype)
    if data.draw(st.booleans(), label="nan"):
        a.flat[0] = b.flat[0] = np.nan
    tols = data.draw(st.sampled_from([{}, dict(rtol=1e-4, atol=1e-5), dict(rtol=0.0, atol=0.0)]), label="tols")
    ours, theirs = _our_message(b, a, equal_nan=equal_nan, **tols), _torch_message(b, a, equal_nan=equal_nan, **tols)
    assert ours == theirs


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, np.bool_])
def test_default_tolerances_are_torchs(dtype):
    from torch.testing._comparison import default_tolerances as torch_defaults
    assert default_tolerances(dtype) == torch_defaults(torch.from_numpy(np.zeros(1, dtype)))


def test_assert_close_checks_shape_dtype_and_tolerance_pairs_like_torch():
    one32, one64 = np.ones(2, np.float32), np.ones(2, np.float64)
    assert _our_message(one32, one64) == _torch_message(one32, one64)
    assert _our_message(one32, np.ones(3, np.float32)) == _torch_message(one32, np.ones(3, np.float32))
    assert _our_message(np.array([1, 2]), np.array([1, 3])).startswith("Tensor-likes are not equal!")
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
        assert_close(one32, one32, rtol=1e-3)
    with pytest.raises(AssertionError, match="^layer 3: Tensor-likes"):
        assert_close(tc.tensor(one32), torch.zeros(2), msg=lambda m: f"layer 3: {m}")
    assert_close(tc.tensor(one32), torch.ones(2))                 # either library's tensors, mixed


# ----------------------------------------------------------------------------- check_function
class _Exp(tc.autograd.Function):
    """A user's correct Function: the derivative is written with tc ops, so it differentiates again."""
    @staticmethod
    def forward(ctx, x):
        y = tc.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        """d exp(x) = g * exp(x)"""
        (y,) = ctx.saved_tensors
        return g * y


class _WrongGrad(_Exp):
    @staticmethod
    def backward(ctx, g):
        return g                                                   # wrong: g·exp(x)


class _MutatesInput(_Exp):
    @staticmethod
    def forward(ctx, x):
        y = tc.exp(x)
        x.array[...] = 0                                           # writes into the caller's array
        ctx.save_for_backward(y)
        return y


class _BackwardMutatesInput(_Exp):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return tc.exp(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        out = g * tc.exp(x)
        x.array[...] += 1                                          # corrupts the input after the fact
        return out


class _Upcasts(_Exp):
    @staticmethod
    def forward(ctx, x):
        return tc.exp(x.double())


class _NumpyBackward(_Exp):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return tc.tensor(g.array * y.array)                        # right value, but outside the graph


@pytest.mark.parametrize("fn, message", [
    (_WrongGrad.apply, r"\[float32\]: gradient of input 0\nTensor-likes are not close!\n\nMismatched elements"),
    (_MutatesInput.apply, "forward mutated input 0"),
    (_BackwardMutatesInput.apply, "backward mutated input 0"),
    (_Upcasts.apply, "output dtype float64, torch float32"),
], ids=["wrong gradient", "forward mutates", "backward mutates", "upcast"])
def test_check_function_catches_each_kind_of_bug(fn, message):
    check_function(_Exp.apply, torch.exp, (3, 4), double_grad=True, gradcheck=True)
    with pytest.raises(AssertionError, match=message):
        check_function(fn, torch.exp, (3, 4))


def test_check_function_catches_a_wrong_second_derivative_only_when_asked():
    check_function(_NumpyBackward.apply, torch.exp, (2, 3))        # first order: right
    with pytest.raises(AssertionError, match="second derivatives.*first derivative wrt input 0|second derivative"):
        check_function(_NumpyBackward.apply, torch.exp, (2, 3), double_grad=True)


def test_check_function_finite_differences_catch_what_torch_would_too():
    with pytest.raises(AssertionError, match="gradcheck failed"):
        check_function(_WrongGrad.apply, torch.exp, (2, 2), dtypes=(), gradcheck="fast")


def test_check_function_takes_arrays_shapes_strategies_and_integer_inputs():
    x = np.random.default_rng(0).standard_normal((4, 3))
    index = np.array([2, 0, 2, 1])
    check_function(lambda a, i: a[i], lambda a, i: a[i], x, index)        # index: no gradient, passed as is
    check_function(tc.mul, torch.mul, *[tensors(shape=s) for s in ((2, 1, 3), (4, 1))], max_examples=5)
    check_function(lambda a, b: a * b, lambda a, b: a * b,
                   broadcastable_pairs().flatmap(lambda p: tensors(shape=p[0])), (1,), max_examples=5)
    relu_inputs = tensors(shape=(4,), elements=floats32(-2, 2).filter(away_from([0.0], 0.1)))
    check_function(tc.relu, torch.relu, relu_inputs, double_grad=True, gradcheck=True, max_examples=5)
    with pytest.raises(AssertionError, match="forward"):
        check_function(tc.mul, torch.add, tensors(shape=(3,), low=1, high=2), tensors(shape=(3,), low=1, high=2),
                       max_examples=5)


@settings(max_examples=5)
@given(geometry=conv_geometries(2), seed=seeds())
def test_conv_geometries_are_valid_for_torch_and_the_check_passes(geometry, seed):
    g = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((g["n"], g["c_in"]) + g["sizes"])
    w = rng.standard_normal(g["weight_shape"])
    opts = {k: g[k] for k in ("stride", "padding", "dilation", "groups")}
    check_function(lambda a, b: tc.nn.functional.conv2d(a, b, **opts),
                   lambda a, b: torch.nn.functional.conv2d(a, b, **opts), x, w, dtypes=(np.float64,))


# ----------------------------------------------------------------------------- check_module
def test_check_module_passes_twins_and_names_what_differs():
    check_module(tc.nn.Sequential(tc.nn.Linear(4, 3), tc.nn.BatchNorm1d(3), tc.nn.ReLU()),
                 torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU()), (6, 4))
    check_module(tc.nn.Conv2d(2, 3, 3, padding=1).double(), torch.nn.Conv2d(2, 3, 3, padding=1).double(), (2, 2, 5, 5))
    with pytest.raises(AssertionError, match="give both modules one dtype"):
        check_module(tc.nn.Linear(2, 3), torch.nn.Linear(2, 3).double(), (4, 2))
    with pytest.raises(AssertionError, match=r"\[train\]: buffer running_mean after the forward"):
        check_module(tc.nn.BatchNorm1d(3, momentum=0.5), torch.nn.BatchNorm1d(3), (6, 3))
    with pytest.raises(AssertionError, match="state_dict keys differ"):
        check_module(tc.nn.Linear(4, 3, bias=False), torch.nn.Linear(4, 3), (6, 4))


class _FrozenBiasLinear(tc.nn.Linear):
    def forward(self, x):
        return tc.nn.functional.linear(x, self.weight, self.bias.detach())      # bias gets no gradient


def test_check_module_compares_parameter_gradients():
    with pytest.raises(AssertionError, match="parameter bias got no gradient"):
        check_module(_FrozenBiasLinear(4, 3), torch.nn.Linear(4, 3), (5, 4))


# ----------------------------------------------------------------------------- check_optimizer
class _MySGD(tc.optim.Optimizer):
    """A user's momentum SGD, written as torch's (buf = μ·buf + g; p -= lr·buf)."""
    def __init__(self, params, lr, momentum=0.0, bug=False):
        super().__init__(params, dict(lr=lr, momentum=momentum))
        self.bug = bug

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                g = p.grad.array
                buf = state.get("buf")
                buf = g.copy() if buf is None else group["momentum"] * buf + (0 if self.bug else g)
                state["buf"] = buf
                p.array[...] -= group["lr"] * buf


def test_check_optimizer_follows_the_trajectory_and_finds_the_step_that_departs():
    check_optimizer(_MySGD, torch.optim.SGD, steps=8, lr=0.1, momentum=0.9)
    check_optimizer(tc.optim.Adam, torch.optim.Adam, steps=8, lr=0.05, amsgrad=True,
                    scheduler=(tc.optim.lr_scheduler.StepLR, torch.optim.lr_scheduler.StepLR, {"step_size": 3}))
    with pytest.raises(AssertionError, match="parameter 0 after step 2"):
        check_optimizer(lambda ps, **kw: _MySGD(ps, bug=True, **kw), torch.optim.SGD, steps=8, lr=0.1, momentum=0.9)
    with pytest.raises(AssertionError, match="learning rate of group 0 after step 1"):
        check_optimizer(tc.optim.SGD, torch.optim.SGD, steps=4, lr=0.1, scheduler=(
            lambda o, **k: tc.optim.lr_scheduler.StepLR(o, step_size=2), torch.optim.lr_scheduler.StepLR,
            {"step_size": 1}))


# ----------------------------------------------------------------------------- check_deployed
def test_check_deployed_compares_predictions_sample_for_sample():
    from tinycompress.compress.deploy import export
    tc.manual_seed(0)
    model = tc.nn.Sequential(tc.nn.Linear(6, 8), tc.nn.ReLU(), tc.nn.Linear(8, 3))
    x = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    deployed = export(model)
    assert check_deployed(model, deployed, x, batch_size=16) == 50
    assert check_deployed(model, deployed, [(x[:20], None), (x[20:], None)], rtol=1e-5, atol=1e-6) == 50

    def swapped(a):                              # a deployment bug: two classes exchanged
        return deployed(a)[:, [1, 0, 2]]
    with pytest.raises(AssertionError, match="predictions differ"):
        check_deployed(model, swapped, x)


# ----------------------------------------------------------------------------- imports and docs
def _python(code):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)


def test_the_kit_imports_without_torch_and_names_the_extra_when_it_is_needed():
    run = _python("import sys; import tinycompress.testing as t; print('torch' in sys.modules, "
                  "'hypothesis' in sys.modules)")
    assert run.returncode == 0 and run.stdout.split() == ["False", "False"], run.stderr
    run = _python("import sys; sys.modules['torch'] = None\nimport numpy as np, tinycompress as tc\n"
                  "from tinycompress.testing import check_function\ncheck_function(tc.exp, None, (2,))")
    assert run.returncode != 0 and 'pip install -e ".[test]"' in run.stderr, run.stderr


def test_docs_testing_md_runs():
    """Every python block of docs/testing.md, seed 000's Binarize check included, runs as written."""
    with open(os.path.join(ROOT, "docs", "testing.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert blocks and "check_function(Binarize.apply, TorchBinarize.apply" in blocks[0]
    for block in blocks:
        exec(compile(block, "docs/testing.md", "exec"), {"__name__": "docs_testing"})


def test_the_binarize_check_fails_on_a_port_that_forgets_the_clipping():
    """The docs' check is not vacuous: a port whose backward passes every gradient straight through fails."""
    from tinycompress.compress.binary import Binarize

    class NoClip(Binarize):
        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    class TorchBinarize(torch.autograd.Function):
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

    x = np.array([[-2.0, -0.5, 0.25], [0.75, 1.5, 3.0]])
    with pytest.raises(AssertionError, match=r"NoClip.apply\) \[float32\]: gradient of input 0"):
        check_function(NoClip.apply, TorchBinarize.apply, x)
