"""Shape, layout and indexing ops against torch: one table, one factory (``strategies.check_op``).

Indexing covers ints, slices, None, Ellipsis, boolean masks and integer arrays, repeated
integer indices included (their gradients must accumulate, as torch's do).
"""
import numpy as np
import pytest
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycompress as tc
from strategies import (arrays, cat_inputs_arrays, dim_tuples, dims, expand_target, fn_variants, index_to, indices,
                        op_table_tests, OpCase, same, same_size_shape, shapes, unary_inputs)


def _kw(**strategies):
    return lambda shape: st.fixed_dictionaries(strategies)


def _reshape_kwargs(shape):
    return same_size_shape(shape).map(lambda s: {"shape": s})


@st.composite
def _flatten_dims(draw, shape):
    ndim = len(shape)
    a, b = sorted(draw(st.lists(st.integers(0, max(ndim - 1, 0)), min_size=2, max_size=2)))
    return {"start_dim": draw(st.sampled_from([a, a - max(ndim, 1)])),
            "end_dim": draw(st.sampled_from([b, b - max(ndim, 1)]))}


@st.composite
def _unflatten_args(draw, shape):
    d = draw(dims(len(shape)))
    n = shape[d]
    k = draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
    return {"dim": d, "sizes": draw(st.sampled_from([(n,), (k, n // k), (-1, k), (1, n, 1)]))}


@st.composite
def _two_dims(draw, shape):
    return {"dim0": draw(dims(len(shape))), "dim1": draw(dims(len(shape)))}


@st.composite
def _permutation(draw, shape):
    return {"dims": tuple(draw(st.permutations(range(len(shape)))))}


@st.composite
def _squeeze_dim(draw, shape):
    return {"dim": draw(dims(len(shape)) | dim_tuples(len(shape)))}


@st.composite
def _repeats(draw, shape):
    lead = draw(st.integers(0 if shape else 1, 2))
    return {"repeats": tuple(draw(st.lists(st.integers(1, 3), min_size=len(shape) + lead,
                                           max_size=len(shape) + lead)))}


@st.composite
def _split_args(draw, shape):
    d = draw(dims(len(shape)))
    n = shape[d]
    if draw(st.booleans()):
        return {"split_size_or_sections": draw(st.integers(1, n + 1)), "dim": d}
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sections = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    return {"split_size_or_sections": sections, "dim": d}


@st.composite
def _chunk_args(draw, shape):
    return {"chunks": draw(st.integers(1, 4)), "dim": draw(dims(len(shape)))}


@st.composite
def _pad_args(draw, shape):
    k = draw(st.integers(1, max(len(shape), 1))) if shape else 0
    return {"pad": tuple(draw(st.lists(st.integers(0, 2), min_size=2 * k, max_size=2 * k))),
            "value": draw(st.sampled_from([0.0, 1.5, -2.0]))}


@st.composite
def _diag_args(draw, shape):
    limit = shape[1] - 1 if len(shape) == 2 else 2
    return {"diagonal": draw(st.integers(-(shape[0] - 1), limit))}


@st.composite
def _mask_args(draw, shape):
    mask_shape = draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=len(shape)))
    return {"mask": draw(hnp.arrays(np.bool_, mask_shape)), "value": draw(st.sampled_from([0.0, -1.0, 2.5]))}


def _cat_inputs(stack=False):
    return lambda small: cat_inputs_arrays(small, stack=stack)


def _index_inputs(small):
    @st.composite
    def draw_inputs(draw):
        shape = draw(shapes(0, 3, 1, 3 if small else 4))
        return [draw(arrays(shape))], {"index": draw(indices(shape))}
    return draw_inputs()


def _repeated_index_inputs(small):
    @st.composite
    def draw_inputs(draw):
        shape = draw(shapes(1, 3, 1, 3))
        n = shape[0]
        first = draw(st.integers(-n, n - 1))
        rest = draw(st.lists(st.integers(-n, n - 1), max_size=4))
        index = np.array([first, first] + rest, np.int64)          # a repeat, always
        return [draw(arrays(shape))], {"index": index}
    return draw_inputs()


def _getitem_variants():
    return [("x[index]", lambda x, index: x[index_to(index, tc.tensor)],
             lambda x, index: x[index_to(index, torch.from_numpy)]),
            ("x[numpy index]", lambda x, index: x[index],
             lambda x, index: x[index_to(index, torch.from_numpy)])]



# ----------------------------------------------------------------------------- index ops (gather, scatter ...)
def _lib_args(order, wrap, kw):
    """The drawn kwargs in ``order``, NumPy arrays as the library's tensors."""
    return [wrap(kw[k]) if isinstance(kw[k], np.ndarray) else kw[k] for k in order]


def _positional(name, order, method=True):
    """tc.<name>(x, *args) and x.<name>(*args) against torch's, the drawn kwargs passed in ``order``
    (index arrays as int64 tensors of each library)."""
    def call(f, wrap):
        return lambda *xs, **kw: f(*xs, *_lib_args(order, wrap, kw))
    out = [(f"tc.{name}", call(getattr(tc, name), tc.tensor), call(getattr(torch, name), torch.from_numpy))]
    if method:
        m = lambda x, *a: getattr(x, name)(*a)      # noqa: E731
        out.append((f"Tensor.{name}", call(m, tc.tensor), call(m, torch.from_numpy)))
    return out


def _scatter_variants(name):
    """tc.<name>(x, dim, index, src) and x.<name>(dim, index, src): src is the second differentiable input."""
    def call(f, wrap):
        return lambda x, src, dim, index: f(x, dim, wrap(index), src)
    m = lambda x, dim, index, src: getattr(x, name)(dim, index, src)      # noqa: E731
    return [(f"tc.{name}", call(getattr(tc, name), tc.tensor), call(getattr(torch, name), torch.from_numpy)),
            (f"Tensor.{name}", call(m, tc.tensor), call(m, torch.from_numpy))]


def _index_shape(draw, shape, axis, along):
    """An index shape no larger than ``shape`` apart from ``axis``, whose size there is ``along``."""
    return tuple(along if i == axis else draw(st.integers(1, n)) for i, n in enumerate(shape))


@st.composite
def _gather_args(draw, shape):
    d = draw(dims(len(shape)))
    axis = d % len(shape)
    ishape = _index_shape(draw, shape, axis, draw(st.integers(1, 4)))
    return {"dim": d, "index": draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[axis] - 1)))}


def _scatter_inputs(unique, value=False):
    """x, src (at least index's size in every dim) and {dim, index}; ``unique``: no index repeats along
    dim in any slice (scatter's write order on repeats is left open by torch)."""
    def build(small):
        max_dims, max_side = (2, 3) if small else (3, 4)

        @st.composite
        def draw_inputs(draw):
            shape = draw(shapes(1, max_dims, 1, max_side))
            d = draw(dims(len(shape)))
            axis = d % len(shape)
            n = shape[axis]
            ishape = _index_shape(draw, shape, axis, draw(st.integers(1, n if unique else 4)))
            if unique:
                rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
                keys = rng.random(ishape[:axis] + (n,) + ishape[axis + 1:])
                index = np.take(np.argsort(keys, axis=axis), np.arange(ishape[axis]), axis=axis)
            else:
                index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, n - 1)))
            x = draw(arrays(shape))
            if value:
                return [x], {"dim": d, "index": index.astype(np.int64), "value": draw(st.sampled_from([0.0, -1.5, 2.0]))}
            # src of index's shape: torch's own backward fails on a larger src (its gradient has index's shape)
            return [x, draw(arrays(ishape))], {"dim": d, "index": index.astype(np.int64)}
        return draw_inputs()
    return build


@st.composite
def _index_select_args(draw, shape):
    d = draw(dims(len(shape)))
    n = shape[d % len(shape)]
    return {"dim": d, "index": draw(hnp.arrays(np.int64, draw(st.integers(0, 5)), elements=st.integers(0, n - 1)))}


def _index_add_inputs(small):
    """x, source (x's shape with dim's size the index's length) and {dim, index (repeats too), alpha}."""
    max_dims, max_side = (2, 3) if small else (3, 4)

    @st.composite
    def draw_inputs(draw):
        shape = draw(shapes(1, max_dims, 1, max_side))
        d = draw(dims(len(shape)))
        axis = d % len(shape)
        index = draw(hnp.arrays(np.int64, draw(st.integers(0, 4)), elements=st.integers(0, shape[axis] - 1)))
        source = shape[:axis] + (index.size,) + shape[axis + 1:]
        return [draw(arrays(shape)), draw(arrays(source))], {"dim": d, "index": index,
                                                             "alpha": draw(st.sampled_from([1, -1.5]))}
    return draw_inputs()


def _index_add_variants():
    def call(f, wrap):
        return lambda x, s, dim, index, alpha: f(x, dim, wrap(index), s, alpha=alpha)
    m = lambda x, dim, index, s, alpha: x.index_add(dim, index, s, alpha=alpha)      # noqa: E731
    return [("tc.index_add", call(tc.index_add, tc.tensor), call(torch.index_add, torch.from_numpy)),
            ("Tensor.index_add", call(m, tc.tensor), call(m, torch.from_numpy))]


@st.composite
def _index_fill_args(draw, shape):
    args = draw(_index_select_args(shape))
    return {**args, "value": draw(st.sampled_from([0.0, -2.5, 3.0]))}


@st.composite
def _take_along_dim_args(draw, shape):
    if draw(st.booleans()):
        n = int(np.prod(shape))
        return {"indices": draw(hnp.arrays(np.int64, draw(st.integers(1, 4)), elements=st.integers(0, n - 1))),
                "dim": None}
    d = draw(dims(len(shape)))
    axis = d % len(shape)
    ishape = tuple(draw(st.integers(1, 3)) if i == axis else draw(st.sampled_from([1, n])) for i, n in enumerate(shape))
    return {"indices": draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[axis] - 1))), "dim": d}


@st.composite
def _narrow_args(draw, shape):
    d = draw(dims(len(shape)))
    n = shape[d % len(shape)]
    start = draw(st.integers(0, n))
    return {"dim": d, "start": draw(st.sampled_from([start, start - n] if start < n else [start])),
            "length": draw(st.integers(0, n - start))}


@st.composite
def _masked_select_args(draw, shape):
    return {"mask": draw(hnp.arrays(np.bool_, draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=len(shape)))))}


@st.composite
def _roll_args(draw, shape):
    if not shape or draw(st.booleans()):
        return {"shifts": draw(st.integers(-7, 7)), "dims": None}
    ds = draw(dim_tuples(len(shape)))
    return {"shifts": tuple(draw(st.integers(-7, 7)) for _ in ds), "dims": ds}


@st.composite
def _repeat_interleave_args(draw, shape):
    d = draw(dims(len(shape), allow_none=True)) if shape else None
    if draw(st.booleans()):
        return {"repeats": draw(st.integers(0, 3)), "dim": d}
    n = int(np.prod(shape)) if d is None else shape[d]
    return {"repeats": draw(hnp.arrays(np.int64, n, elements=st.integers(0, 3))), "dim": d}


@st.composite
def _diagonal_args(draw, shape):
    a, b = draw(st.lists(st.integers(0, len(shape) - 1), min_size=2, max_size=2, unique=True))
    return {"offset": draw(st.integers(-3, 3)), "dim1": draw(st.sampled_from([a, a - len(shape)])),
            "dim2": draw(st.sampled_from([b, b - len(shape)]))}


CASES = [
    OpCase("reshape", fn_variants("reshape", positional=("shape",)) + [
        same("x.view(shape)", lambda x, shape: x.view(shape)),
        same("x.reshape(*shape)", lambda x, shape: x.reshape(*shape) if shape else x.reshape(shape))],
        unary_inputs(kwargs=_reshape_kwargs)),
    OpCase("view_as", [same("x.view_as(y)", lambda x, shape: x.view_as(x.reshape(shape)))],
           unary_inputs(kwargs=_reshape_kwargs)),
    OpCase("flatten", fn_variants("flatten"), unary_inputs(kwargs=_flatten_dims)),
    OpCase("flatten()", fn_variants("flatten"), unary_inputs()),
    OpCase("unflatten", fn_variants("unflatten"), unary_inputs(min_dims=1, kwargs=_unflatten_args)),
    OpCase("transpose", fn_variants("transpose") + fn_variants("swapaxes", positional=("dim0", "dim1")),
           unary_inputs(min_dims=1, kwargs=_two_dims)),
    OpCase("permute", fn_variants("permute", positional=("dims",)) + [same("x.permute(*dims)", lambda x, dims: x.permute(*dims))],
           unary_inputs(min_dims=1, kwargs=_permutation)),
    OpCase("t", fn_variants("t"), unary_inputs(max_dims=2)),
    OpCase("x.T (2-D)", [same("x.T", lambda x: x.T)], unary_inputs(min_dims=2, max_dims=2)),
    OpCase("x.mT", [same("x.mT", lambda x: x.mT)], unary_inputs(min_dims=2)),
    OpCase("squeeze", fn_variants("squeeze"), unary_inputs(min_dims=1, kwargs=_squeeze_dim)),
    OpCase("squeeze()", fn_variants("squeeze"), unary_inputs()),
    OpCase("unsqueeze", fn_variants("unsqueeze"),
           unary_inputs(kwargs=lambda shape: dims(len(shape) + 1).map(lambda d: {"dim": d}))),
    OpCase("expand", [same("x.expand(shape)", lambda x, shape: x.expand(shape)),
                      same("x.expand(*shape)", lambda x, shape: x.expand(*shape) if shape else x.expand(shape))],
           unary_inputs(kwargs=lambda shape: expand_target(shape).map(lambda s: {"shape": s}))),
    OpCase("expand_as", [("x.expand_as(y)", lambda x, shape: x.expand_as(tc.zeros(shape)),
                          lambda x, shape: x.expand_as(torch.zeros(shape))),
                         ("tc.broadcast_to", lambda x, shape: tc.broadcast_to(x, shape),
                          lambda x, shape: torch.broadcast_to(x, shape))],
           unary_inputs(kwargs=lambda shape: expand_target(shape).map(
               lambda s: {"shape": tuple(shape[i - (len(s) - len(shape))] if n == -1 else n
                                         for i, n in enumerate(s))}))),
    OpCase("repeat", [same("x.repeat(repeats)", lambda x, repeats: x.repeat(repeats)),
                      same("x.repeat(*repeats)", lambda x, repeats: x.repeat(*repeats))],
           unary_inputs(kwargs=_repeats)),
    OpCase("cat", [("tc.cat", lambda *xs, dim: tc.cat(xs, dim), lambda *xs, dim: torch.cat(xs, dim)),
                   ("tc.cat(dim=)", lambda *xs, dim: tc.cat(list(xs), dim=dim), lambda *xs, dim: torch.cat(xs, dim=dim))],
           _cat_inputs()),
    OpCase("stack", [("tc.stack", lambda *xs, dim: tc.stack(xs, dim), lambda *xs, dim: torch.stack(xs, dim))],
           _cat_inputs(stack=True)),
    OpCase("split", fn_variants("split", positional=("split_size_or_sections", "dim")), unary_inputs(min_dims=1, kwargs=_split_args)),
    OpCase("chunk", fn_variants("chunk"), unary_inputs(min_dims=1, kwargs=_chunk_args)),
    OpCase("pad", [("tc.pad", lambda x, pad, value: tc.pad(x, pad, value=value),
                    lambda x, pad, value: torch.nn.functional.pad(x, pad, mode="constant", value=value))],
           unary_inputs(min_dims=1, kwargs=_pad_args)),
    OpCase("getitem", _getitem_variants(), _index_inputs),
    OpCase("getitem repeated ints", _getitem_variants(), _repeated_index_inputs),
    OpCase("masked_fill", [("tc.masked_fill", lambda x, mask, value: tc.masked_fill(x, tc.tensor(mask), value),
                            lambda x, mask, value: torch.masked_fill(x, torch.from_numpy(mask), value)),
                           ("x.masked_fill", lambda x, mask, value: x.masked_fill(tc.tensor(mask), value),
                            lambda x, mask, value: x.masked_fill(torch.from_numpy(mask), value))],
           unary_inputs(kwargs=_mask_args)),
    OpCase("diag", fn_variants("diag"), unary_inputs(min_dims=1, max_dims=2, kwargs=_diag_args)),
    OpCase("clone", fn_variants("clone") + [same("x.contiguous()", lambda x: x.contiguous())], unary_inputs()),
    # index ops: gradients scatter back to the picked places, repeats accumulating
    OpCase("narrow", _positional("narrow", ("dim", "start", "length")), unary_inputs(min_dims=1, kwargs=_narrow_args)),
    OpCase("gather", _positional("gather", ("dim", "index")), unary_inputs(min_dims=1, kwargs=_gather_args)),
    OpCase("scatter", _scatter_variants("scatter"), _scatter_inputs(unique=True)),
    OpCase("scatter value", _positional("scatter", ("dim", "index", "value")), _scatter_inputs(unique=True, value=True)),
    OpCase("scatter_add", _scatter_variants("scatter_add"), _scatter_inputs(unique=False)),
    OpCase("index_select", _positional("index_select", ("dim", "index")),
           unary_inputs(min_dims=1, kwargs=_index_select_args)),
    OpCase("index_add", _index_add_variants(), _index_add_inputs),
    OpCase("index_fill", _positional("index_fill", ("dim", "index", "value")),
           unary_inputs(min_dims=1, kwargs=_index_fill_args)),
    OpCase("take_along_dim", _positional("take_along_dim", ("indices", "dim")),
           unary_inputs(min_dims=1, kwargs=_take_along_dim_args)),
    OpCase("masked_select", _positional("masked_select", ("mask",)), unary_inputs(kwargs=_masked_select_args)),
    # reorderings
    OpCase("flip", _positional("flip", ("dims",)) + [same("x.flip(*dims)", lambda x, dims: x.flip(*dims) if dims else x.flip(dims))],
           unary_inputs(kwargs=lambda shape: dim_tuples(len(shape), 0).map(lambda d: {"dims": d}))),
    OpCase("fliplr/flipud", fn_variants("fliplr") + fn_variants("flipud"), unary_inputs(min_dims=2)),
    OpCase("roll", fn_variants("roll"), unary_inputs(kwargs=_roll_args)),
    OpCase("repeat_interleave", _positional("repeat_interleave", ("repeats", "dim")),
           unary_inputs(kwargs=_repeat_interleave_args)),
    # triangles and diagonals
    OpCase("tril", fn_variants("tril"), unary_inputs(min_dims=2, kwargs=_kw(diagonal=st.integers(-3, 3)))),
    OpCase("triu", fn_variants("triu"), unary_inputs(min_dims=2, kwargs=_kw(diagonal=st.integers(-3, 3)))),
    OpCase("diagonal", fn_variants("diagonal"), unary_inputs(min_dims=2, kwargs=_diagonal_args)),
    OpCase("trace", fn_variants("trace"), unary_inputs(min_dims=2, max_dims=2)),
]



# the four tests of the table: forward and gradients vs torch (float32, float64), gradcheck, double backward
# vs torch, gradgradcheck
test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = op_table_tests(
    CASES)


def test_repeated_indices_accumulate():
    """x[[0, 0, 2]]: the gradient of a row picked twice is the sum of both upstream rows."""
    x = tc.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    g = np.array([[1.0, 10.0], [100.0, 1000.0], [7.0, 8.0]], np.float32)
    x[tc.tensor([0, 0, 2])].backward(g)
    np.testing.assert_array_equal(x.grad.array, [[101.0, 1010.0], [0.0, 0.0], [7.0, 8.0]])


def test_shape_errors_name_the_shapes():
    x = tc.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"\[4\].*size 6"):
        x.reshape(4)
    with pytest.raises(RuntimeError, match="sizes of tensors must match"):
        tc.cat([x, tc.ones(3, 2)], dim=0)
    with pytest.raises(RuntimeError, match="equal size"):
        tc.stack([x, tc.ones(3, 2)])
    with pytest.raises(IndexError, match="boolean mask"):
        x[tc.tensor([True, False, True])]


@pytest.mark.parametrize("name", ["concat", "concatenate"])
def test_cat_aliases(name):
    a, b = np.ones((2, 3), np.float32), np.zeros((1, 3), np.float32)
    ours = getattr(tc, name)([tc.tensor(a), tc.tensor(b)])
    np.testing.assert_array_equal(ours.array, getattr(torch, name)([torch.tensor(a), torch.tensor(b)]).numpy())
