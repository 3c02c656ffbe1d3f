"""Hypothesis strategies for checking code against torch: shapes, values, tensors, conv geometries, kinks.

The values are float32-exact floats (so float32 and float64 runs draw the same numbers), bounded, and
kept away from the points where an op has no derivative (relu(0), sign(0), clamp bounds, max ties):
finite differences and torch's choice of subgradient make values on a kink meaningless to compare.

The first section is what a user needs to draw inputs (:func:`tensors`, :func:`shapes`,
:func:`broadcastable_pairs`, :func:`conv_geometries`, :func:`away_from`, ...). The later sections are the
strategies tinycompress's own suite draws from (optimizers, schedulers, losses, compressed layers, the data
pipeline), public so that a user's tests can reuse them. Needs hypothesis (``pip install -e ".[test]"``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._deps import require

require("hypothesis")
from hypothesis import strategies as st            # noqa: E402
from hypothesis.extra import numpy as hnp          # noqa: E402

MAX_SIDE = 5          # the sides of drawn shapes (tests stay fast)
MAX_DIMS = 4
SMALL_SIDE = 3        # for finite-difference checks: every element is perturbed twice
SMALL_DIMS = 3


def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    """Array shapes with small sides."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE):
    """``num_shapes`` shapes that broadcast together (a list)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             max_side=max_side).map(lambda bs: list(bs.input_shapes))


def matmul_shapes(max_dims=MAX_DIMS, max_side=MAX_SIDE):
    """Operand shapes for ``matmul``: 1-D, 2-D and batched, with broadcasting batch dims."""
    return hnp.mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=max_dims,
                                             max_side=max_side).map(lambda bs: list(bs.input_shapes))


def floats32(low, high):
    """Floats in [low, high] exactly representable in float32 (bounds rounded inwards)."""
    lo, hi = np.float32(low), np.float32(high)
    lo = lo if lo >= low else np.nextafter(lo, np.float32(np.inf))
    hi = hi if hi <= high else np.nextafter(hi, np.float32(-np.inf))
    return st.floats(float(lo), float(hi), allow_nan=False, allow_infinity=False, allow_subnormal=False,
                     width=32)


def floats(low=-3.0, high=3.0, avoid=(), gap=0.05):
    """Bounded floats exactly representable in float32, at least ``gap`` away from each of ``avoid``.

    The kinks of the ops (relu(0), abs(0), clamp bounds...) go in ``avoid``: finite differences and
    torch's choice of subgradient make values on a kink meaningless to compare.
    """
    elements = floats32(low, high)
    if avoid:
        elements = elements.filter(lambda v: all(abs(v - p) > gap for p in avoid))
    return elements


def arrays(shape, low=-3.0, high=3.0, avoid=(), gap=0.05, unique=False):
    """float64 arrays of ``shape`` (float32-exact values) from :func:`floats`."""
    return hnp.arrays(np.float64, shape, elements=floats(low, high, avoid, gap), unique=unique)


@st.composite
def distinct_arrays(draw, shape, spacing=0.25, low=-3.0):
    """float64 arrays whose values are all at least ``spacing``/2 apart (no ties for max/min/sort).

    A random permutation of a grid, jittered by less than a quarter of the spacing.
    """
    n = int(np.prod(shape, dtype=np.int64))
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64) if n else np.zeros(0)
    jitter = draw(hnp.arrays(np.float64, (n,), elements=floats32(0, spacing / 4)))
    offset = draw(floats32(low, low + 1))
    return (offset + order * spacing + jitter).astype(np.float32).astype(np.float64).reshape(shape)


@st.composite
def untied_pair(draw, shapes_strategy=None):
    """Two broadcastable arrays that never tie: one on a grid of k/2, the other on k/2 + 1/4."""
    sa, sb = draw(broadcastable_shapes(2) if shapes_strategy is None else shapes_strategy)
    ints = st.integers(-6, 6)
    a = draw(hnp.arrays(np.int64, sa, elements=ints)) / 2
    b = draw(hnp.arrays(np.int64, sb, elements=ints)) / 2 + 0.25
    return a.astype(np.float64), b.astype(np.float64)


def dims(ndim, allow_none=False):
    """A valid ``dim`` for a tensor of ``ndim`` dimensions, negative values included."""
    lim = max(ndim, 1)
    d = st.integers(-lim, lim - 1)
    return st.none() | d if allow_none else d


def dim_tuples(ndim, min_size=1):
    """A tuple of distinct dims (as non-negative ints, some written negative)."""
    if ndim == 0:
        return st.just(())
    return (st.lists(st.integers(0, ndim - 1), min_size=min_size, max_size=ndim, unique=True)
            .flatmap(lambda ds: st.tuples(*[st.sampled_from([d, d - ndim]) for d in ds])))


def reduce_dims(ndim):
    """``dim`` for sum/mean/...: None, one int, or a tuple of ints."""
    return st.one_of(st.none(), dims(ndim), dim_tuples(ndim))


def basic_indices(shape):
    """Ints, slices (positive steps, as torch), None and Ellipsis."""
    def positive_steps(index):
        items = index if isinstance(index, tuple) else (index,)
        return all(not isinstance(i, slice) or i.step is None or i.step > 0 for i in items)
    return hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True).filter(positive_steps)


def seeds():
    """A seed for np.random.default_rng (upstream gradients, permutations)."""
    return st.integers(0, 2 ** 32 - 1)


def upstream(seed, shape, dtype):
    """A random upstream gradient (standard normal, not ones) of ``shape`` and ``dtype``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def away_from(points, gap=0.05):
    """A filter for ``strategy.filter``: values (or every element of an array) at least ``gap`` away
    from each of ``points``, the kinks of the function under test: ``floats().filter(away_from([0]))``."""
    points = tuple(points)

    def keep(value):
        a = np.asarray(value, dtype=np.float64)
        return all(bool(np.all(np.abs(a - p) > gap)) for p in points)
    return keep


def tensors(shape=None, dtype=np.float64, elements=None, low=-3.0, high=3.0, avoid=(), gap=0.05):
    """NumPy arrays to feed both libraries: ``shape`` a tuple or a strategy of shapes (default: up to 4-D,
    sides up to 5), ``dtype`` a float dtype, ``elements`` a strategy of values (default: float32-exact floats
    in [``low``, ``high``], at least ``gap`` away from each point of ``avoid``)."""
    shape = shapes() if shape is None else shape
    elements = floats(low, high, avoid, gap) if elements is None else elements
    return hnp.arrays(np.dtype(dtype), shape, elements=elements)


def broadcastable_pairs(min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE):
    """Two shapes that broadcast together, as a tuple ``(shape_a, shape_b)``."""
    return broadcastable_shapes(2, min_dims=min_dims, max_dims=max_dims, max_side=max_side).map(tuple)


def conv_geometries(d=2, small=False, transposed=False):
    """A valid ``d``-dimensional (transposed) convolution with tiny sides, as a dict: ``n``, ``c_in``,
    ``c_out``, ``groups``, ``kernel_size``, ``stride``, ``padding``, ``dilation`` (tuples of ``d``),
    ``output_padding`` (transposed), ``sizes`` (the input's spatial sides) and ``weight_shape``."""
    def as_dict(g):
        n, c_in, c_out, groups, kernel, stride, padding, dilation, out_pad, sizes = g
        w = (c_in, c_out // groups) if transposed else (c_out, c_in // groups)
        out = dict(n=n, c_in=c_in, c_out=c_out, groups=groups, kernel_size=kernel, stride=stride,
                   padding=padding, dilation=dilation, sizes=sizes, weight_shape=w + kernel)
        if transposed:
            out["output_padding"] = out_pad
        return out
    return _conv_geometry(d, small, transposed).map(as_dict)


def sides(small):
    """(most dims, largest side) of drawn shapes: tiny ones for finite differences when ``small``."""
    return (SMALL_DIMS, SMALL_SIDE) if small else (MAX_DIMS, MAX_SIDE)




@st.composite
def same_size_shape(draw, shape):
    """Another shape with as many elements as ``shape`` (``-1`` allowed once), for reshape/view."""
    n = int(np.prod(shape, dtype=np.int64))
    options = [(n,), (-1,), tuple(reversed(shape)), (1,) + tuple(shape), tuple(shape) + (1,), ()]
    options += [(n // k, k) for k in range(1, n + 1) if n % k == 0]
    options += [(-1, k) for k in range(1, n + 1) if n % k == 0]
    return draw(st.sampled_from([o for o in options if o != () or n == 1]))


@st.composite
def expand_target(draw, shape):
    """A shape ``shape`` expands to: size-1 dims stretched, new leading dims, -1 for kept dims."""
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    body = tuple(draw(st.integers(1, 3)) if n == 1 else draw(st.sampled_from([n, -1])) for n in shape)
    return lead + body




def index_to(index, wrap):
    """``index`` with its NumPy arrays passed through ``wrap`` (tc.tensor or torch.from_numpy)."""
    if isinstance(index, tuple):
        return tuple(wrap(i) if isinstance(i, np.ndarray) else i for i in index)
    return wrap(index) if isinstance(index, np.ndarray) else index


@st.composite
def indices(draw, shape):
    """An index of every kind torch takes: basic (ints, slices, None, ...), a boolean mask,
    integer arrays (repeats included: their gradients must accumulate), or arrays mixed with slices."""
    kind = draw(st.sampled_from(["basic", "bool", "int", "mixed"] if len(shape) else ["basic", "bool"]))
    if kind == "basic":
        return draw(basic_indices(shape))
    if kind == "bool":
        k = draw(st.integers(min(1, len(shape)), len(shape)))
        return draw(hnp.arrays(np.bool_, shape[:k]))
    n = shape[0]
    ints = draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
                           elements=st.integers(-n, n - 1)))
    if kind == "int" or len(shape) < 2:
        return ints
    m = shape[1]
    second = draw(st.one_of(st.just(slice(None)),
                            hnp.arrays(np.int64, ints.shape[-1:], elements=st.integers(-m, m - 1))))
    return (ints, second)

def ste_arrays(shape):
    """Inputs for straight-through estimators: bounded floats with the edges 0, ±1 drawn often."""
    return hnp.arrays(np.float64, shape, elements=floats32(-3, 3) | st.sampled_from([0.0, 1.0, -1.0]))


def python_scalars():
    """Scalars a user mixes with tensors: Python int/float, NumPy float64/float32/int64 scalars."""
    return st.one_of(st.integers(-3, 3), floats32(-2, 2), floats32(-2, 2).map(np.float64),
                     floats32(-2, 2).map(np.float32), st.integers(-3, 3).map(np.int64))



# =====================================================================================
# Section: data pipeline (tests/data/): IDX arrays, uint8 images, loader sizes
# =====================================================================================
IDX_DTYPES = [np.dtype(t) for t in ("u1", "i1", "<i2", ">i2", "<i4", ">i4", "<f4", ">f4", "<f8", ">f8")]


@st.composite
def idx_arrays(draw, max_dims=4, max_side=5):
    """Arrays IDX can hold: every IDX dtype in either byte order, 0-4 dims, zero sides included;
    floats include NaN, infinities and -0.0 (a round trip must keep their bits)."""
    dtype = draw(st.sampled_from(IDX_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    return draw(hnp.arrays(dtype, shape))


def uint8_images(batch=None, max_side=8):
    """uint8 grey images: one (H, W) when ``batch`` is False, a batch (N, H, W) when True, either when None."""
    single = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=max_side)
    batched = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=max_side)
    shape = {False: single, True: batched, None: single | batched}[batch]
    return shape.flatmap(lambda s: hnp.arrays(np.uint8, s))


def normalize_params(channels=1):
    """(mean, std) tuples of ``channels`` values (std away from 0), as given to Normalize."""
    mean = st.floats(-1, 1, width=32)
    std = st.floats(0.0625, 2, width=32) | st.floats(-2, -0.0625, width=32)
    return st.tuples(st.tuples(*[mean] * channels), st.tuples(*[std] * channels))


def loader_sizes(max_n=60, max_batch=16):
    """(dataset length, batch_size), length 0 included."""
    return st.tuples(st.integers(0, max_n), st.integers(1, max_batch))


# =====================================================================================
# Section: binarized networks (tests/compress/test_binary.py, test_packed.py)
# =====================================================================================
def bnn_arrays(shape, low=-3.0, high=3.0):
    """STE inputs with 0 and ±1 drawn often, and no tiny non-zeros (seed 000's ``sign(x + 1e-20)``
    maps (-1e-20, 0) to +1; those values are not worth comparing)."""
    return ste_arrays(shape).map(lambda a: np.where(np.abs(a) < 1e-6, 0.0, np.clip(a, low, high)))


@st.composite
def conv_configs(draw, max_channels=4, max_side=7):
    """(N, C_in, H, W, C_out, kernel, stride, padding, dilation) for a small valid conv."""
    k = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    p = draw(st.integers(0, 2))
    span = d * (k - 1) + 1
    h = draw(st.integers(max(1, span - 2 * p), max_side))
    w = draw(st.integers(max(1, span - 2 * p), max_side))
    return dict(n=draw(st.integers(1, 3)), c_in=draw(st.integers(1, max_channels)), h=h, w=w,
                c_out=draw(st.integers(1, max_channels)), kernel_size=k, stride=draw(st.integers(1, 2)),
                padding=p, dilation=d)


@st.composite
def binary_conv_geometries(draw, max_side=9):
    """A two-layer binarized conv chain (tests/compress/test_packed.py): channels that cross 8/16/32/64-bit
    word boundaries, kernel, stride, padding, dilation and groups of each layer, an optional max pool before
    or after the BatchNorm, weight quantizer, α, bias and the input size, all valid for the chain."""
    def conv(c_in):
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if c_in % g == 0]))
        c_out = groups * draw(st.integers(1, 3 if groups > 1 else 70))
        k, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        return dict(c_in=c_in, c_out=c_out, kernel_size=k, stride=draw(st.integers(1, 2)),
                    padding=draw(st.integers(0, 2)), dilation=d, groups=groups,
                    weight_quant=draw(st.sampled_from(["binary", "ternary"])),
                    scale=draw(st.sampled_from(["channel", None])), bias=draw(st.booleans()))
    first = conv(draw(st.sampled_from([1, 2, 3, 7, 8, 9, 17, 33, 65])))
    second = conv(first["c_out"])
    return dict(first=first, second=second, n=draw(st.integers(1, 3)), h=draw(st.integers(5, max_side)),
                w=draw(st.integers(5, max_side)), pool=draw(st.sampled_from([None, "before_bn", "after_bn"])),
                float_input=draw(st.booleans()))


# =====================================================================================
# Section: nn core (tests/nn/test_linear.py, test_loss.py, test_activation.py)
# =====================================================================================
@st.composite
def linear_cases(draw):
    """(batch_shape, in_features, out_features, bias, seed) for nn.Linear vs torch."""
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    return batch, draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.booleans()), draw(seeds())


@st.composite
def class_loss_cases(draw, small=False):
    """Inputs of a class-index loss: (logits (N, C[, d...]), target, weight or None, ignore_index,
    reduction, label_smoothing), with some targets equal to ignore_index."""
    n, c = draw(st.integers(1, 3 if small else 5)), draw(st.integers(2, 4 if small else 6))
    extra = draw(hnp.array_shapes(min_dims=0, max_dims=1 if small else 2, min_side=1, max_side=3))
    rng = np.random.default_rng(draw(seeds()))
    scale = draw(st.sampled_from([1.0, 5.0] if small else [1.0, 5.0, 50.0]))
    logits = rng.standard_normal((n, c) + extra) * scale
    ignore_index = draw(st.sampled_from([-100, 0, 1]))
    target = rng.integers(0, c, (n,) + extra)
    if draw(st.booleans()):
        target.flat[0] = ignore_index if ignore_index >= 0 else -100
    if (target == ignore_index).all():
        target.flat[0] = c - 1 if ignore_index != c - 1 else 0
    weight = rng.uniform(0.2, 2.0, c) if draw(st.booleans()) else None
    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 0.35]))
    return logits, target, weight, ignore_index, reduction, smoothing


@st.composite
def pair_loss_cases(draw, small=False):
    """(input, target, weight-or-None, pos_weight-or-None, reduction) float64 arrays for MSE/L1/BCE losses."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2 if small else 3, min_side=1, max_side=3 if small else 5))
    rng = np.random.default_rng(draw(seeds()))
    x = rng.standard_normal(shape) * 2
    y = rng.uniform(0, 1, shape)
    w = rng.uniform(0.2, 2.0, shape[-1:]) if draw(st.booleans()) else None
    pw = rng.uniform(0.2, 3.0, shape[-1:]) if draw(st.booleans()) else None
    return x, y, w, pw, draw(st.sampled_from(["none", "mean", "sum"]))


# =====================================================================================
# Section: masked networks and pruning (tests/compress/test_masked.py, test_prune.py,
#          test_sparse_deploy.py)
# =====================================================================================
@st.composite
def masked_linear_case(draw, max_side=6):
    """(batch, in, out, x, W, b, M, upstream seed): a masked linear layer's inputs (float64 arrays)."""
    n, i, o = draw(st.integers(1, 4)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    x = draw(arrays((n, i)))
    w = draw(arrays((o, i), -1, 1))
    b = draw(arrays((o,), -1, 1))
    m = draw(hnp.arrays(np.bool_, (o, i))).astype(np.float64)
    return n, i, o, x, w, b, m, draw(seeds())


def pruning_amounts(size):
    """An amount torch accepts for ``size`` units: a fraction in [0, 1] or a count in [0, size]."""
    return st.one_of(st.integers(0, size), st.floats(0, 1, allow_nan=False))


@st.composite
def distinct_magnitudes(draw, shape):
    """float64 arrays whose absolute values are all distinct (no ties for magnitude pruning), random signs."""
    mags = draw(distinct_arrays(shape, low=0.1))
    signs = draw(hnp.arrays(np.bool_, shape))
    return np.where(signs, -mags, mags)


# =====================================================================================
# Section: optimizers and learning-rate schedulers (tests/test_optim.py,
#          tests/test_lr_scheduler.py)
# =====================================================================================
def optim_values(low=-3.0, high=3.0):
    """Parameter and gradient values: bounded, float32-exact, and either 0 or at least 1e-3 in size
    (tiny values only exercise denormal/FMA rounding, where no two libraries agree bit for bit)."""
    return floats(low, high).filter(lambda v: v == 0 or abs(v) >= 1e-3)


def optim_lrs():
    """Learning rates, from tiny to large."""
    return floats32(1e-4, 0.5)


def _maybe_zero(strategy):
    return st.one_of(st.just(0.0), strategy)


@dataclass
class OptimProblem:
    """Initial parameter values by group, each group's lr, and K steps of gradients.

    ``grads[k]`` holds one entry per parameter (in group order, flattened); None means the
    parameter gets no gradient at step k (optimizers must skip it)."""
    init: list            # list (groups) of lists of float64 arrays (float32-exact)
    lrs: list
    grads: list           # list (steps) of lists (params) of float64 arrays or None


@st.composite
def optim_problems(draw, max_groups=3, max_params=2, min_steps=1, max_steps=8, allow_missing=True):
    """An :class:`OptimProblem`: 1..max_groups groups of 1..max_params small tensors, K steps."""
    n_groups = draw(st.integers(1, max_groups))
    group_shapes = [[draw(shapes(min_dims=0, max_dims=3, max_side=4)) for _ in range(draw(st.integers(1, max_params)))]
                    for _ in range(n_groups)]
    init = [[draw(hnp.arrays(np.float64, s, elements=optim_values())) for s in g] for g in group_shapes]
    lrs = [draw(optim_lrs()) for _ in range(n_groups)]
    flat = [s for g in group_shapes for s in g]
    grads = []
    for _ in range(draw(st.integers(min_steps, max_steps))):
        step = []
        for s in flat:
            missing = allow_missing and draw(st.integers(0, 5)) == 0
            step.append(None if missing else draw(hnp.arrays(np.float64, s, elements=optim_values())))
        grads.append(step)
    return OptimProblem(init, lrs, grads)


@st.composite
def sgd_kwargs(draw):
    """SGD hyper-parameters torch accepts (nesterov only with momentum > 0 and no dampening)."""
    momentum = draw(_maybe_zero(floats32(0.01, 0.99)))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(_maybe_zero(floats32(0.01, 0.9)))
    return dict(momentum=momentum, dampening=dampening, nesterov=nesterov,
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))), maximize=draw(st.booleans()))


def _betas():
    return st.tuples(floats32(0.0, 0.99), floats32(0.0, 0.9999))


def _eps():
    return st.one_of(st.just(1e-8), floats32(1e-8, 1e-2))


@st.composite
def adam_kwargs(draw, decoupled=False):
    """Adam / AdamW hyper-parameters (betas in [0, 1), eps, weight decay, amsgrad, maximize)."""
    return dict(betas=draw(_betas()), eps=draw(_eps()), amsgrad=draw(st.booleans()), maximize=draw(st.booleans()),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.5 if decoupled else 0.1))))


@st.composite
def adamax_kwargs(draw):
    """Adamax hyper-parameters."""
    return dict(betas=draw(_betas()), eps=draw(_eps()), weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))),
                maximize=draw(st.booleans()))


@st.composite
def rmsprop_kwargs(draw):
    """RMSprop hyper-parameters. alpha stays >= 0.8: with small alpha the centered variance
    v − ḡ² cancels catastrophically and any two float32 implementations disagree."""
    return dict(alpha=draw(floats32(0.8, 0.999)), eps=draw(_eps()), weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))),
                momentum=draw(_maybe_zero(floats32(0.01, 0.95))), centered=draw(st.booleans()),
                maximize=draw(st.booleans()))


OPTIMIZER_KWARGS = {"SGD": sgd_kwargs, "Adam": adam_kwargs, "AdamW": lambda: adam_kwargs(decoupled=True),
                    "Adamax": adamax_kwargs, "RMSprop": rmsprop_kwargs}


@st.composite
def adadelta_kwargs(draw):
    """Adadelta hyper-parameters (rho in [0, 1) — rho = 1 never moves — eps up to 1e-2)."""
    return dict(rho=draw(floats32(0.0, 0.99)), eps=draw(st.one_of(st.just(1e-6), floats32(1e-8, 1e-2))),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))), maximize=draw(st.booleans()))


@st.composite
def adagrad_kwargs(draw):
    """Adagrad hyper-parameters: lr_decay, a starting accumulator, eps, weight decay, maximize."""
    return dict(lr_decay=draw(_maybe_zero(floats32(1e-4, 0.5))),
                initial_accumulator_value=draw(_maybe_zero(floats32(1e-3, 1.0))),
                eps=draw(st.one_of(st.just(1e-10), floats32(1e-10, 1e-2))),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))), maximize=draw(st.booleans()))


@st.composite
def nadam_kwargs(draw):
    """NAdam hyper-parameters: Adam's (no amsgrad), momentum_decay, L2 or decoupled weight decay."""
    decoupled = draw(st.booleans())
    return dict(betas=draw(_betas()), eps=draw(_eps()), momentum_decay=draw(_maybe_zero(floats32(1e-4, 0.5))),
                decoupled_weight_decay=decoupled, maximize=draw(st.booleans()),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.5 if decoupled else 0.1))))


@st.composite
def radam_kwargs(draw):
    """RAdam hyper-parameters. With β2 above about 0.85, ρ_t passes 5 at step 6, so runs of up to 8
    steps meet both the plain momentum steps and the rectified ones; small β2 stays unrectified."""
    decoupled = draw(st.booleans())
    return dict(betas=draw(_betas()), eps=draw(_eps()), decoupled_weight_decay=decoupled,
                maximize=draw(st.booleans()), weight_decay=draw(_maybe_zero(floats32(1e-4, 0.5 if decoupled else 0.1))))


OPTIMIZER_KWARGS.update({"Adadelta": adadelta_kwargs, "Adagrad": adagrad_kwargs, "NAdam": nadam_kwargs,
                         "RAdam": radam_kwargs})


def scheduler_lrs(max_groups=3):
    """Initial learning rates, one per parameter group."""
    return st.lists(floats32(1e-4, 1.0), min_size=1, max_size=max_groups)


def _gammas():
    return floats32(0.05, 1.0)


@st.composite
def scheduler_specs(draw, name):
    """(kwargs, number of steps) for the scheduler ``name``; LambdaLR gets a ``lr_lambda`` spec
    ``('power', base)`` or ``('inverse', scale)`` that the test turns into a function."""
    if name == "StepLR":
        kwargs = dict(step_size=draw(st.integers(1, 10)), gamma=draw(_gammas()))
    elif name == "MultiStepLR":
        kwargs = dict(milestones=draw(st.lists(st.integers(1, 30), max_size=5)), gamma=draw(_gammas()))
    elif name == "ExponentialLR":
        kwargs = dict(gamma=draw(floats32(0.5, 1.0)))
    elif name == "CosineAnnealingLR":
        kwargs = dict(T_max=draw(st.integers(1, 20)), eta_min=draw(_maybe_zero(floats32(1e-6, 1e-4))))
    elif name == "LambdaLR":
        kwargs = dict(lr_lambda=draw(st.one_of(st.tuples(st.just("power"), floats32(0.5, 1.0)),
                                               st.tuples(st.just("inverse"), floats32(0.1, 2.0)))))
    else:
        raise ValueError(f"no strategy for scheduler {name}")
    return kwargs, draw(st.integers(1, 60))




# =====================================================================================
# Section: layer ops (tests/test_ops_layers.py): N-d and transposed convolutions, layer/group/instance
#          norm. Values are standard normal from a drawn seed (no near-constant rows for the norms).
# =====================================================================================
@st.composite
def _conv_geometry(draw, d, small, transposed):
    """(n, c_in, c_out, groups, kernel, stride, padding, dilation, output_padding, sizes) for a valid
    d-dimensional (transposed) convolution with tiny sides."""
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    top = 2 if small or d == 3 else 3
    kernel = tuple(draw(st.integers(1, top)) for _ in range(d))
    stride = tuple(draw(st.integers(1, top)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    out_pad = (0,) * d
    if transposed:
        padding = tuple(draw(st.integers(0, dl * (k - 1))) for k, dl in zip(kernel, dilation))
        out_pad = tuple(draw(st.integers(0, max(s, dl) - 1)) for s, dl in zip(stride, dilation))
        sizes = [draw(st.integers(1, top + 1)) for _ in range(d)]
        for t in range(d):                       # the output (H − 1)·s − 2p + d·(k − 1) + op + 1 must be >= 1
            while (sizes[t] - 1) * stride[t] - 2 * padding[t] + dilation[t] * (kernel[t] - 1) + out_pad[t] < 0:
                sizes[t] += 1
    else:
        padding = tuple(draw(st.integers(0, 1 if small else 2)) for _ in range(d))
        sizes = [draw(st.integers(max(1, dl * (k - 1) + 1 - 2 * p), max(top + 1, dl * (k - 1) + 1)))
                 for k, dl, p in zip(kernel, dilation, padding)]
    return (draw(st.integers(1, 2)), c_in, c_out, groups, kernel, stride, padding, dilation, out_pad,
            tuple(sizes))



# =====================================================================================
# Section: loss-aware pruning (tests/compress/test_criteria.py, test_obs.py, test_lottery.py)
# =====================================================================================
@st.composite
def small_mlp_case(draw, max_side=5):
    """(sizes, batch, seed): a Linear-ReLU-Linear net in→hidden→out and a batch size, small enough for
    exact Hessians (at most 5·5 + 5·5 weights)."""
    sizes = (draw(st.integers(2, max_side)), draw(st.integers(2, max_side)), draw(st.integers(2, 4)))
    return sizes, draw(st.integers(3, 12)), draw(st.integers(0, 2**31 - 1))


@st.composite
def obs_layer_case(draw, max_rows=4, max_cols=8):
    """(rows, cols, samples, seed): a Linear weight (rows, cols) and a calibration set of ``samples`` > cols
    inputs, so that H = 2XᵀX/N is invertible without damping."""
    rows, cols = draw(st.integers(1, max_rows)), draw(st.integers(2, max_cols))
    return rows, cols, draw(st.integers(cols + 4, 4 * cols + 8)), draw(st.integers(0, 2**31 - 1))


# =====================================================================================
# Section: k-bit quantization (tests/compress/test_quant.py)
# =====================================================================================
@st.composite
def quant_ranges(draw):
    """(quant_min, quant_max) holding 0: signed or unsigned ranges of 2 to 8 bits."""
    bits = draw(st.integers(2, 8))
    if draw(st.booleans()):
        return 0, 2 ** bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


@st.composite
def fake_quant_inputs(draw, shape, scale, zero_point):
    """float32 inputs for quantization with ``scale`` (arrays broadcasting against ``shape``): random values
    within the range and beyond it, and exact ties ``(k + ½)·s`` (round half to even is tested on them)."""
    rng = np.random.default_rng(draw(seeds()))
    s = np.asarray(scale, np.float32)
    k = rng.integers(-20, 40, shape)
    x = (k + rng.choice([0.0, 0.5, rng.uniform(-0.5, 0.5)], shape)) * s - np.asarray(zero_point) * s
    return x.astype(np.float32)
