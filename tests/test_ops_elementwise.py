"""Elementwise ops against torch: one table, one factory (``strategies.check_op``).

Adding an op = adding one ``OpCase`` row. Each row is checked in float32 and float64
(forward, gradients under a random upstream gradient, no mutation, shapes and dtypes) and,
when differentiable, by finite differences in float64 (``test_gradcheck``).
"""
import operator

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

import tinycompress as tc
from strategies import (binary_inputs, floats32, fn_variants, op_table_tests, OpCase, run_check, same,
                        scalar_and_tensor, unary_inputs, where_inputs)

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")  # isnan row

POS = dict(low=0.1, high=4.0)          # domain of log, sqrt, rsqrt, pow with a real exponent


SYMBOL = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/", operator.pow: "**",
          operator.eq: "==", operator.ne: "!=", operator.lt: "<", operator.le: "<=", operator.gt: ">",
          operator.ge: ">=", operator.and_: "&", operator.or_: "|", operator.xor: "^"}


def _binary(name, op=None, **inputs):
    """tc.<name>(a, b), a.<name>(b) and the operator, if any."""
    variants = fn_variants(name)
    if op is not None:
        variants.append(same(f"a {SYMBOL[op]} b", op))
    return OpCase(name, variants, binary_inputs(**inputs))


def _activation(name, torch_fn, **inputs):
    return OpCase(name, [(f"tc.{name}", getattr(tc, name), torch_fn)], unary_inputs(**inputs))


def _kw(**strategies):
    return lambda shape: st.fixed_dictionaries(strategies)


_clamp_bounds = st.tuples(floats32(-2, 0), floats32(0.2, 2))

CASES = [
    # arithmetic: tensor with tensor (broadcasting), tensor with scalar either side
    _binary("add", operator.add),
    _binary("sub", operator.sub),
    _binary("mul", operator.mul),
    _binary("div", operator.truediv, avoid_b=(0,)),
    OpCase("add alpha", [("tc.add(alpha=)", lambda a, b: tc.add(a, b, alpha=-1.5),
                          lambda a, b: torch.add(a, b, alpha=-1.5))], binary_inputs()),
    OpCase("neg", fn_variants("neg") + [same("-x", operator.neg)], unary_inputs()),
    OpCase("x + s", [same("x + s", lambda x, s: x + s), same("s + x", lambda x, s: s + x)], scalar_and_tensor()),
    OpCase("x - s", [same("x - s", lambda x, s: x - s), same("s - x", lambda x, s: s - x)], scalar_and_tensor()),
    OpCase("x * s", [same("x * s", lambda x, s: x * s), same("s * x", lambda x, s: s * x)], scalar_and_tensor()),
    OpCase("x / s", [same("x / s", lambda x, s: x / s)], scalar_and_tensor()),
    OpCase("s / x", [same("s / x", lambda x, s: s / x)], scalar_and_tensor(avoid=(0,))),
    # pow: tensor ** tensor, tensor ** scalar, scalar ** tensor
    # b = 0: torch's d/da is 0 there whatever a is (a kink in the second derivative)
    OpCase("pow", fn_variants("pow") + [same("a ** b", operator.pow)],
           binary_inputs(a=(0.2, 3.0), b=(-2.0, 2.0), avoid_b=(0,))),
    OpCase("x ** s", [same("x ** s", lambda x, s: x ** s), same("x.pow(s)", lambda x, s: x.pow(s))],
           scalar_and_tensor(**POS, scalars=floats32(-2.5, 2.5))),
    OpCase("x ** int", [same("x ** n", lambda x, s: x ** s)],
           scalar_and_tensor(avoid=(0,), scalars=st.integers(0, 4))),
    OpCase("s ** x", [same("s ** x", lambda x, s: s ** x), ("tc.pow(s, x)", lambda x, s: tc.pow(s, x),
                                                             lambda x, s: torch.pow(s, x))],
           scalar_and_tensor(scalars=floats32(0.2, 3.0))),
    # unary math (domains and kinks kept away from)
    OpCase("exp", fn_variants("exp"), unary_inputs()),
    OpCase("log", fn_variants("log"), unary_inputs(**POS)),
    OpCase("log1p", fn_variants("log1p"), unary_inputs(-0.9, 3.0)),
    OpCase("sqrt", fn_variants("sqrt"), unary_inputs(**POS)),
    OpCase("rsqrt", fn_variants("rsqrt"), unary_inputs(**POS)),
    OpCase("abs", fn_variants("abs") + [same("abs(x)", abs)], unary_inputs(avoid=(0,))),
    OpCase("sign", fn_variants("sign"), unary_inputs(avoid=(0,))),
    OpCase("clamp", fn_variants("clamp") + fn_variants("clip"),
           unary_inputs(kwargs=lambda shape: _clamp_bounds.map(lambda b: {"min": b[0], "max": b[1]}),
                        avoid=lambda kw: (kw["min"], kw["max"]))),
    OpCase("clamp min only", fn_variants("clamp"),
           unary_inputs(kwargs=_kw(min=floats32(-2, 2)), avoid=lambda kw: (kw["min"],))),
    OpCase("clamp max only", fn_variants("clamp"),
           unary_inputs(kwargs=_kw(max=floats32(-2, 2)), avoid=lambda kw: (kw["max"],))),
    _binary("maximum", untied=True),
    _binary("minimum", untied=True),
    OpCase("max(a, b)", [("tc.max(a, b)", tc.max, torch.max)], binary_inputs(untied=True)),
    # activations
    OpCase("relu", fn_variants("relu"), unary_inputs(avoid=(0,))),
    _activation("leaky_relu", torch.nn.functional.leaky_relu, avoid=(0,),
                kwargs=_kw(negative_slope=floats32(0.0, 0.5))),
    OpCase("sigmoid", fn_variants("sigmoid"), unary_inputs(-8.0, 8.0)),
    OpCase("tanh", fn_variants("tanh"), unary_inputs()),
    _activation("hardtanh", torch.nn.functional.hardtanh,
                kwargs=lambda shape: _clamp_bounds.map(lambda b: {"min_val": b[0], "max_val": b[1]}),
                avoid=lambda kw: (kw["min_val"], kw["max_val"])),
    _activation("softplus", torch.nn.functional.softplus, low=-25.0, high=25.0,
                kwargs=_kw(beta=st.sampled_from([1.0, 0.5, 2.0]), threshold=st.sampled_from([20.0, 1.0, 2.5])),
                avoid=lambda kw: (kw["threshold"] / kw["beta"],)),
    # where: a bool condition broadcast with both branches
    OpCase("where", [("tc.where", lambda a, b, c: tc.where(tc.tensor(c), a, b),
                      lambda a, b, c: torch.where(torch.from_numpy(c), a, b))],
           where_inputs()),
    OpCase("where scalar", [("tc.where(c, x, 0.5)", lambda a, b, c: tc.where(tc.tensor(c), a, 0.5) * b,
                             lambda a, b, c: torch.where(torch.from_numpy(c), a, 0.5) * b),
                            ("tc.where(c, -1, x)", lambda a, b, c: tc.where(tc.tensor(c), -1, a) * b,
                             lambda a, b, c: torch.where(torch.from_numpy(c), -1, a) * b)],
           where_inputs()),
    # trigonometric and hyperbolic (inside their domains, away from tan's poles and asin's edges)
    OpCase("sin", fn_variants("sin"), unary_inputs()),
    OpCase("cos", fn_variants("cos"), unary_inputs()),
    OpCase("tan", fn_variants("tan"), unary_inputs(-1.2, 1.2)),
    OpCase("asin", fn_variants("asin") + fn_variants("arcsin"), unary_inputs(-0.9, 0.9)),
    OpCase("acos", fn_variants("acos") + fn_variants("arccos"), unary_inputs(-0.9, 0.9)),
    OpCase("atan", fn_variants("atan") + fn_variants("arctan"), unary_inputs()),
    OpCase("sinh", fn_variants("sinh"), unary_inputs()),
    OpCase("cosh", fn_variants("cosh"), unary_inputs()),
    OpCase("square", fn_variants("square"), unary_inputs()),
    OpCase("reciprocal", fn_variants("reciprocal"), unary_inputs(0.25, 3.0)),
    OpCase("reciprocal (negative)", fn_variants("reciprocal"), unary_inputs(-3.0, -0.25)),
    # casts: the gradient comes back in the input's dtype
    OpCase("double/float", [same("x.double()", lambda x: x.double() * 3.0), same("x.float()", lambda x: x.float() * 3.0),
                            ("x.to(float64)", lambda x: x.to(tc.float64), lambda x: x.to(torch.float64))],
           unary_inputs()),
]

# comparisons and logical ops: bool results, no graph
_COMPARE = [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
            ("gt", operator.gt), ("ge", operator.ge)]
for _name, _op in _COMPARE:
    CASES.append(OpCase(_name, fn_variants(_name) + [same(f"a {SYMBOL[_op]} b", _op)],
                        binary_inputs(untied=False, a=(-1.0, 1.0), b=(-1.0, 1.0)), differentiable=False))
for _name, _op in [("logical_and", operator.and_), ("logical_or", operator.or_), ("logical_xor", operator.xor)]:
    CASES.append(OpCase(_name, fn_variants(_name) + [same(f"(a > 0) {SYMBOL[_op]} (b > 0)",
                                                          lambda a, b, _op=_op: _op(a > 0, b > 0))],
                        binary_inputs(a=(-1.0, 1.0), b=(-1.0, 1.0)), differentiable=False))
CASES.append(OpCase("logical_not", fn_variants("logical_not") + [same("~(x > 0)", lambda x: ~(x > 0))],
                    unary_inputs(), differentiable=False))
CASES.append(OpCase("isnan/isfinite", [same("x.log().isnan()", lambda x: x.log().isnan()),
                                       same("x.log().isfinite()", lambda x: x.log().isfinite())],
                    unary_inputs(avoid=(0,)), differentiable=False))



# the four tests of the table: forward and gradients vs torch (float32, float64), gradcheck, double backward
# vs torch, gradgradcheck
test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = op_table_tests(
    CASES)


# ----------------------------------------------------------------------------- the factory itself
class _WrongExp(tc.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.exp()

    @staticmethod
    def backward(ctx, g):
        return g                                   # wrong: should be g·exp(x)


class _MutatingExp(tc.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = x.exp()
        x.copy_(out)                               # writes into the input tensor
        ctx.save_for_backward(out)
        return out.clone()

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]


class _Upcasting(tc.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.double().exp()                    # float32 in, float64 out

    @staticmethod
    def backward(ctx, g):
        return g


@pytest.mark.parametrize("broken, message", [
    (_WrongExp.apply, "gradient of input 0"),
    (_MutatingExp.apply, "mutated"),
    (_Upcasting.apply, "output dtype float64, torch float32"),
], ids=["wrong gradient", "mutation", "upcast"])
def test_the_factory_catches_broken_ops(broken, message):
    case = OpCase("broken exp", [("broken", broken, torch.exp)], unary_inputs(0.5, 1.0, min_dims=1))
    with pytest.raises(AssertionError, match=message):
        run_check(case, np.float32)


@pytest.mark.parametrize("name, args", [
    ("divide", 2), ("true_divide", 2), ("multiply", 2), ("subtract", 2), ("negative", 1), ("greater", 2),
    ("less", 2), ("greater_equal", 2), ("less_equal", 2), ("not_equal", 2), ("clip", 1),
])
def test_torch_aliases_exist_and_agree(name, args):
    a = np.array([[0.5, -1.5, 2.0], [1.0, 3.0, -0.25]], np.float32)
    b = np.array([1.5, -0.5, 2.0], np.float32)
    extra = {"min": -1.0, "max": 1.0} if name == "clip" else {}
    ours = getattr(tc, name)(*[tc.tensor(v) for v in (a, b)[:args]], **extra)
    theirs = getattr(torch, name)(*[torch.tensor(v) for v in (a, b)[:args]], **extra)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.array, theirs.numpy())


def test_equal_and_allclose_return_python_bools_like_torch():
    a, b = np.array([1.0, 2.0], np.float32), np.array([1.0, 2.0 + 1e-7], np.float32)
    for x, y in ((a, a), (a, b), (a, a[:1])):
        if x.shape == y.shape:
            assert tc.allclose(tc.tensor(x), tc.tensor(y)) is torch.allclose(torch.tensor(x), torch.tensor(y))
        assert tc.equal(tc.tensor(x), tc.tensor(y)) is torch.equal(torch.tensor(x), torch.tensor(y))


_F = torch.nn.functional


@pytest.mark.parametrize("fn", [
    ("relu", lambda L, x: x.relu()), ("abs", lambda L, x: x.abs()), ("sign", lambda L, x: x.sign()),
    ("clamp", lambda L, x: x.clamp(-1.0, 1.0)), ("clamp min", lambda L, x: x.clamp(min=0.0)),
    ("hardtanh", lambda L, x: (tc.hardtanh if L is tc else _F.hardtanh)(x)),
    ("leaky_relu", lambda L, x: (tc.leaky_relu if L is tc else _F.leaky_relu)(x, 0.1)),
    ("maximum tie", lambda L, x: L.maximum(x, L.zeros(5))), ("minimum tie", lambda L, x: L.minimum(x, L.ones(5))),
    ("norm at 0", lambda L, x: (x * 0).norm()), ("pow 0 ** 2", lambda L, x: (x * 0) ** 2.0),
], ids=lambda f: f[0])
def test_values_on_kinks_get_torchs_subgradient(fn):
    """The random tests stay off kinks; on them, the gradient is the one torch picks."""
    values = np.array([-1.0, 0.0, 1.0, 0.5, 2.0], np.float32)
    x, t = tc.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    out_x, out_t = fn[1](tc, x), fn[1](torch, t)
    np.testing.assert_allclose(out_x.array, out_t.detach().numpy())
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)[:out_t.numel()].reshape(tuple(out_t.shape))
    out_x.backward(g)
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x.grad.array, t.grad.numpy())


def test_primitives_are_twice_differentiable_functions_with_formula_docstrings():
    """Every Function of the elementwise, reduce, shape and linalg modules documents its derivative on
    ``backward``."""
    from tinycompress.autograd.function import Function
    from tinycompress.ops import elementwise, linalg, reduce, shape

    found = []
    for module in (elementwise, reduce, shape, linalg):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Function) and value.__module__ == module.__name__:
                found.append(value)
                assert (value.backward.__doc__ or "").strip(), f"{value.__name__}.backward has no formula docstring"
    assert len(found) > 30


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "square", "reciprocal"])
def test_math_of_integers_and_in_place_forms_follow_torch(name):
    """Integers give float32 (square keeps them), and ``x.<name>_()`` rewrites x with torch's values and grad_fn."""
    ints = np.array([[0, 1], [-1, 2]], np.int32)
    ours, theirs = getattr(tc, name)(tc.tensor(ints)), getattr(torch, name)(torch.tensor(ints))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    values = np.array([0.3, -0.6, 0.8])
    results = []
    for lib in (tc, torch):
        leaf = lib.tensor(values, requires_grad=True)
        y = leaf * 1.0
        assert getattr(y, name + "_")() is y
        y.backward(lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64))
        results.append((y.grad_fn.name(), y.detach().numpy(), leaf.grad.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-12)
