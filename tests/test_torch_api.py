"""Torch's boilerplate and Tensor API, each call run in torch and here (issue 13, items 1 and 3).

Legacy constructors (``Tensor(out, in)``, ``FloatTensor`` ...), ``autograd.Variable``, ``device``,
``cuda`` / ``accelerator``, ``.to`` / ``.cpu`` / ``.cuda``, ``Size``, ``all`` / ``any``, the
``axis`` / ``keepdims`` aliases of reductions, ``type`` / ``type_as``, ``new_*``, sizes in bytes.
"""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinycompress as tc
from strategies import shapes

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_]
TYPE_NAMES = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
              "CharTensor", "ByteTensor", "BoolTensor"]


def _dtype(t):
    return str(t.dtype).replace("torch.", "")


def _same(ours, theirs):
    """Same dtype, shape and values (a torch tensor against ours)."""
    assert str(ours.dtype) == _dtype(theirs), (ours.dtype, theirs.dtype)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


def _raises_like(call, exc=Exception):
    """Run ``call`` on both libraries: the same exception type, and the message for tinycompress."""
    with pytest.raises(exc) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(tc)
    return str(ours.value), str(theirs.value)


# ----------------------------------------------------------------------------- legacy constructors
@pytest.mark.parametrize("args", [(2, 3), (3,), (), (0,), (2, 0, 4), (np.int64(2), 3)], ids=repr)
def test_tensor_of_sizes_is_uninitialised_float32_like_torch(args):
    ours, theirs = tc.Tensor(*args), torch.Tensor(*args)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float32 and not ours.requires_grad
    assert ours.is_leaf and ours.grad is None


def test_tensor_of_a_size_and_of_sizes_then_uniform_like_torch():
    assert tc.Tensor(tc.Size([2, 3])).shape == tuple(torch.Tensor(torch.Size([2, 3])).shape)
    w = tc.Tensor(4, 5).uniform_(-0.5, 0.5)
    assert w.shape == (4, 5) and w.dtype == np.float32 and np.all(np.abs(w.array) <= 0.5)
    p = tc.nn.Parameter(tc.Tensor(3, 2))                     # seed 002's layer: Parameter(Tensor(out, in))
    assert p.shape == (3, 2) and p.requires_grad and p.dtype == np.float32


def test_legacy_tensor_follows_the_default_dtype_like_torch():
    try:
        tc.set_default_dtype(tc.float64)
        torch.set_default_dtype(torch.float64)
        _same(tc.Tensor([1, 2]), torch.Tensor([1, 2]))
        assert tc.Tensor(2).dtype == np.float64 == torch.Tensor(2).numpy().dtype
    finally:
        tc.set_default_dtype(tc.float32)
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("data", [
    [1, 2], [1.5, -2], [[1, 2], [3, 4]], [True, False], (2, 3), [], np.array(3.0, np.float32),
    np.array([1.0, 2.0], np.float32),
], ids=repr)
def test_tensor_of_data_matches_torch(data):
    _same(tc.Tensor(data), torch.Tensor(data))


def test_tensor_of_an_array_or_tensor_shares_it():
    """Tensor(ndarray) is tinycompress's zero-copy wrap: it keeps the array's dtype (torch would cast a
    float64 array to float32; tc.FloatTensor(array) does, as torch's)."""
    a = np.ones(3)
    t = tc.Tensor(a)
    assert t.array is a and t.dtype == np.float64
    assert tc.Tensor(t).array is a
    _same(tc.Tensor(torch.tensor([1, 2]).numpy()), torch.Tensor(torch.tensor([1, 2])))   # an int64 tensor stays int64
    assert tc.FloatTensor(a).dtype == np.float32


@pytest.mark.parametrize("args", [(2.5,), (np.float64(2.5),), (-1,), (2, -3)], ids=repr)
def test_tensor_constructor_errors_like_torch(args):
    ours, theirs = _raises_like(lambda L: L.Tensor(*args))
    if "negative dimension" in theirs:
        assert ours == theirs
    else:
        assert ours.startswith(theirs[:theirs.index(")") + 1])     # 'new(): data must be a sequence (got float)'


@pytest.mark.parametrize("name", TYPE_NAMES)
@pytest.mark.parametrize("args", [([1, 0, 2],), ([1.7, 2.2],), ([[True], [False]],), (2, 3), (4,)], ids=repr)
def test_typed_tensor_constructors_match_torch(name, args):
    ours, theirs = getattr(tc, name)(*args), getattr(torch, name)(*args)
    if isinstance(args[0], list):
        _same(ours, theirs)
    else:
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == _dtype(theirs)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_isinstance_of_a_tensor_type_tests_the_dtype_like_torch(dtype):
    ours, theirs = tc.tensor(np.zeros(2, dtype)), torch.tensor(np.zeros(2, dtype))
    for name in TYPE_NAMES:
        assert isinstance(ours, getattr(tc, name)) == isinstance(theirs, getattr(torch, name)), name
    assert isinstance(ours, tc.Tensor)
    assert not isinstance(np.zeros(2, dtype), tc.FloatTensor)


def test_typed_tensor_of_a_tensor_of_another_dtype_is_an_error_like_torch():
    _raises_like(lambda L: L.FloatTensor(L.tensor([1, 2])), TypeError)
    x = tc.tensor([1.0, 2.0])
    assert tc.FloatTensor(x).array is x.array


def test_tensor_types_work_as_annotations():
    def f(x: tc.FloatTensor, y: "tc.LongTensor") -> tc.Tensor:
        return x
    assert f.__annotations__["x"] is tc.FloatTensor
    assert repr(tc.FloatTensor) == "<class 'tinycompress.FloatTensor'>"


# ----------------------------------------------------------------------------- Variable
def test_variable_is_torchs_no_op_wrapper():
    from tinycompress.autograd import Variable
    for L in (tc, torch):
        x = L.ones(2)
        v = L.autograd.Variable(x)
        assert type(v) is L.Tensor and v is not x and not v.requires_grad and v.is_leaf
        v.data.mul_(3)                                          # shares memory
        assert x.tolist() == [3.0, 3.0]
        v = L.autograd.Variable(x, requires_grad=True)
        assert v.requires_grad and v.is_leaf and not x.requires_grad
        y = L.ones(2, requires_grad=True) * 2
        v = L.autograd.Variable(y)
        assert v.grad_fn is None and not v.requires_grad            # cut from the graph
        assert isinstance(x, L.autograd.Variable)
        (v * L.autograd.Variable(x, requires_grad=True)).sum()
    assert Variable is tc.autograd.Variable
    ours, theirs = _raises_like(lambda L: L.autograd.Variable([1, 2]), TypeError)
    assert ours == theirs
    with pytest.warns(UserWarning, match="volatile was removed"):
        tc.autograd.Variable(tc.ones(1), volatile=True)
    assert tc.autograd.Variable().shape == tuple(torch.autograd.Variable().shape)


# ----------------------------------------------------------------------------- devices
@pytest.mark.parametrize("spec", [("cpu",), ("cuda",), ("cuda:1",), ("cpu", 0), ("mps",), ("meta",)], ids=repr)
def test_device_matches_torch(spec):
    ours, theirs = tc.device(*spec), torch.device(*spec)
    assert (repr(ours), str(ours), ours.type, ours.index) == (repr(theirs), str(theirs), theirs.type, theirs.index)
    assert ours == tc.device(*spec) and hash(ours) == hash(tc.device(*spec)) and tc.device(ours) == ours
    assert (ours == str(ours)) == (theirs == str(theirs))


@pytest.mark.parametrize("spec", ["foo", "cuda:x", 0])
def test_bad_devices_are_errors_like_torch(spec):
    ours, theirs = _raises_like(lambda L: L.device(spec), RuntimeError)
    assert ours == theirs or (spec == "cuda:x" and "Invalid device string" in ours)


def test_cuda_and_accelerator_give_torchs_cpu_only_answers():
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here: its answers are not the CPU-only ones")
    assert tc.cuda.is_available() is torch.cuda.is_available() is False
    assert tc.cuda.device_count() == torch.cuda.device_count() == 0
    assert tc.cuda.manual_seed(0) is None and tc.cuda.manual_seed_all(0) is None
    assert tc.accelerator.is_available() is torch.accelerator.is_available()
    assert tc.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert tc.accelerator.device_count() == torch.accelerator.device_count()
    script_device = tc.device("cuda" if tc.cuda.is_available() else "cpu")   # the MNIST example's line
    assert tc.ones(2).to(script_device).device == script_device == tc.ones(1).device


def test_to_cpu_cuda_match_torch():
    for L in (tc, torch):
        x = L.ones(2)
        assert x.to("cpu") is x and x.to(L.device("cpu")) is x and x.cpu() is x and x.to(x) is x
        assert x.to(L.float32) is x and x.to(dtype=L.float32) is x
        assert x.to(L.float32, copy=True) is not x and x.to(L.float32, copy=True).tolist() == x.tolist()
        assert str(x.to("cpu", L.float64).dtype).endswith("float64")
        assert str(x.to(device="cpu", dtype=L.float64).dtype).endswith("float64")
        assert str(x.to(L.ones(1, dtype=L.int64)).dtype).endswith("int64")
        assert str(x.to(L.float64, False, True).dtype).endswith("float64")
        assert x.is_cuda is False and str(x.device) == "cpu"
    for call in (lambda x: x.cuda(), lambda x: x.to("cuda"), lambda x: x.to(tc.device("cuda:0")),
                 lambda x: x.to("mps", tc.float64)):
        with pytest.raises(RuntimeError, match="CPU only"):
            call(tc.ones(2))
    with pytest.raises(RuntimeError, match="CPU only"):
        tc.Tensor(2, device="cuda")
    y = tc.ones(2, requires_grad=True)
    z = y.to(tc.float64)
    z.sum().backward()
    assert z.grad_fn is not None and y.grad.dtype == np.float32


def test_module_to_matches_torch():
    """``model.to(device)`` (the MNIST example's line), ``.to(dtype)``, ``.to(device, dtype)``, ``.to(tensor)``:
    the module itself back, floating parameters and buffers cast, integer buffers kept, as torch."""
    for L in (tc, torch):
        model = L.nn.Sequential(L.nn.Linear(3, 2), L.nn.BatchNorm1d(2))
        assert model.to(L.device("cpu")) is model and model.to("cpu") is model and model.cpu() is model
        assert model.to(L.device("cpu"), L.float64) is model
        dtypes = {k: str(v.dtype).replace("torch.", "") for k, v in model.state_dict().items()}
        assert dtypes["0.weight"] == dtypes["1.running_mean"] == "float64"
        assert dtypes["1.num_batches_tracked"] == "int64"
        model.to(dtype=L.float32)
        assert str(model[0].weight.dtype).endswith("float32")
        model.to(L.ones(1, dtype=L.float64))
        assert str(model[0].bias.dtype).endswith("float64")
    ours, theirs = _raises_like(lambda L: L.nn.Linear(2, 2).to(L.int64), TypeError)
    assert "floating point" in ours and "floating point" in theirs
    for call in (lambda m: m.cuda(), lambda m: m.to("cuda"), lambda m: m.to(tc.device("cuda:0"))):
        with pytest.raises(RuntimeError, match="CPU only"):
            call(tc.nn.Linear(2, 2))


FACTORY_CALLS = {
    "zeros": lambda L, **kw: L.zeros(2, 3, **kw), "ones": lambda L, **kw: L.ones((2,), **kw),
    "empty": lambda L, **kw: L.empty(2, **kw), "full": lambda L, **kw: L.full((2,), 1.5, **kw),
    "tensor": lambda L, **kw: L.tensor([1.0, 2.0], **kw), "as_tensor": lambda L, **kw: L.as_tensor([1, 2], **kw),
    "arange": lambda L, **kw: L.arange(3, **kw), "linspace": lambda L, **kw: L.linspace(0, 1, 3, **kw),
    "eye": lambda L, **kw: L.eye(2, **kw), "rand": lambda L, **kw: L.rand(2, **kw), "randn": lambda L, **kw: L.randn(2, **kw),
    "randint": lambda L, **kw: L.randint(0, 5, (2,), **kw), "randperm": lambda L, **kw: L.randperm(4, **kw),
    "zeros_like": lambda L, **kw: L.zeros_like(L.ones(2), **kw), "full_like": lambda L, **kw: L.full_like(L.ones(2), 3, **kw),
    "randn_like": lambda L, **kw: L.randn_like(L.ones(2), **kw),
}


@pytest.mark.parametrize("call", FACTORY_CALLS.values(), ids=FACTORY_CALLS.keys())
def test_factories_take_a_device_like_torch(call):
    """``torch.zeros(n, device=device)`` is everywhere in torch scripts: the CPU is accepted as a string or a
    device, with the same shape and dtype as torch's; another device is the CPU-only error."""
    for where in ("cpu", "device"):
        ours = call(tc, device="cpu" if where == "cpu" else tc.device("cpu"))
        theirs = call(torch, device="cpu" if where == "cpu" else torch.device("cpu"))
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == _dtype(theirs)
    with pytest.raises(RuntimeError, match="CPU only"):
        call(tc, device="cuda")


@pytest.mark.parametrize("name", ["rand", "randn", "randint", "randperm", "randn_like"])
def test_random_factories_draw_from_a_given_generator(name):
    """``generator=`` as torch's: the same seed gives the same draws, and the library's stream is untouched."""
    call = FACTORY_CALLS[name]
    tc.manual_seed(0)
    expected_next = tc.rand(3).tolist()
    tc.manual_seed(0)
    first = call(tc, generator=tc.Generator().manual_seed(7)).tolist()
    assert call(tc, generator=tc.Generator().manual_seed(7)).tolist() == first
    assert tc.rand(3).tolist() == expected_next
    theirs = call(torch, generator=torch.Generator().manual_seed(7))   # torch takes the same keyword
    assert tuple(theirs.shape) == np.asarray(first).shape


def test_tensor_methods_and_init_draw_from_a_tc_generator():
    draws = [tc.empty(4).uniform_(-1, 1, generator=tc.Generator().manual_seed(3)).tolist() for _ in range(2)]
    assert draws[0] == draws[1]
    draws = [tc.nn.init.normal_(tc.empty(4), generator=tc.Generator().manual_seed(3)).tolist() for _ in range(2)]
    assert draws[0] == draws[1]


@pytest.mark.parametrize("build", [
    lambda L: L.nn.Linear(3, 2), lambda L: L.nn.Conv2d(1, 2, 3), lambda L: L.nn.BatchNorm1d(2),
    lambda L: L.nn.LayerNorm(3), lambda L: L.nn.GroupNorm(1, 2), lambda L: L.nn.Embedding(4, 2),
    lambda L: L.nn.PReLU(), lambda L: L.nn.ConvTranspose1d(1, 2, 3), lambda L: L.nn.InstanceNorm2d(2, affine=True),
], ids=["Linear", "Conv2d", "BatchNorm1d", "LayerNorm", "GroupNorm", "Embedding", "PReLU", "ConvTranspose1d",
        "InstanceNorm2d"])
def test_layers_are_built_in_the_default_dtype_like_torch(build):
    """Under ``set_default_dtype(float64)`` torch builds layers in float64 (floating parameters and buffers;
    counters stay int64); so do we, and float32 again after."""
    for dtype in ("float64", "float32"):
        tc.set_default_dtype(getattr(tc, dtype))
        torch.set_default_dtype(getattr(torch, dtype))
        try:
            ours, theirs = build(tc).state_dict(), build(torch).state_dict()
        finally:
            tc.set_default_dtype(tc.float32)
            torch.set_default_dtype(torch.float32)
        assert {k: str(v.dtype) for k, v in ours.items()} == {k: _dtype(v) for k, v in theirs.items()}


# ----------------------------------------------------------------------------- Size
@given(shape=shapes(0, 4))
def test_size_matches_torch(shape):
    ours, theirs = tc.zeros(*shape), torch.zeros(shape)
    for a, b in ((ours.shape, theirs.shape), (ours.size(), theirs.size())):
        assert type(a) is tc.Size and a == b == shape
        assert repr(a) == repr(b).replace("torch.", "tinycompress.") == str(a) == f"{a}"
        assert a.numel() == b.numel() == ours.numel() == ours.nelement()
        assert type(a[1:]) is tc.Size and a[1:] == b[1:] and a[::-1] == b[::-1]
        assert type(a + (5,)) is tc.Size and a + (5,) == b + (5,)
        assert type((5,) + a) is tc.Size and (5,) + a == (5,) + b
        assert type(a * 2) is tc.Size and a * 2 == b * 2
    for d in range(-len(shape), len(shape)):
        assert ours.size(d) == theirs.size(d) and ours.size(dim=d) == theirs.size(dim=d)
    assert np.zeros(ours.shape).shape == shape                  # a NumPy shape as it is


def test_size_errors_like_torch():
    for call in (lambda L: L.ones(2).size(2), lambda L: L.ones(2).size(-3), lambda L: L.ones(()).size(0),
                 lambda L: L.ones(()).size(-1)):
        ours, theirs = _raises_like(call, IndexError)
        assert ours == theirs
    ours, theirs = _raises_like(lambda L: L.Size([2.5]), TypeError)
    assert ours == theirs.replace("torch.", "tinycompress.")
    assert tc.Size([tc.tensor(2), np.int64(3)]) == torch.Size([torch.tensor(2), 3])
    assert tc.Size() == () and repr(tc.Size()) == "tinycompress.Size([])"


# ----------------------------------------------------------------------------- all / any
@st.composite
def logical_cases(draw):
    dtype = draw(st.sampled_from([np.bool_, np.float32, np.float64, np.int64, np.uint8]))
    shape = draw(shapes(0, 3))
    x = draw(hnp.arrays(dtype, shape, elements=st.sampled_from([0, 1, 2]).map(lambda v: np.asarray(v).astype(dtype))))
    ndim = len(shape)
    dim = None
    if ndim:
        dim = draw(st.none() | st.integers(-ndim, ndim - 1)
                   | st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return x, dim, draw(st.booleans())


@given(case=logical_cases(), name=st.sampled_from(["all", "any"]), method=st.booleans(),
       alias=st.booleans())
def test_all_any_match_torch(case, name, method, alias):
    x, dim, keepdim = case
    results = []
    for L in (tc, torch):
        t = L.tensor(x) if L is tc else torch.from_numpy(x.copy())
        if dim is None:
            kwargs = {}
        elif alias:
            kwargs = dict(axis=dim, keepdims=keepdim)
        else:
            kwargs = dict(dim=dim, keepdim=keepdim)
        results.append(getattr(t, name)(**kwargs) if method else getattr(L, name)(t, **kwargs))
    _same(*results)


# ----------------------------------------------------------------------------- axis / keepdims aliases
REDUCTIONS = ["sum", "mean", "var", "std", "prod", "amax", "amin", "max", "min", "argmax", "argmin",
              "logsumexp", "softmax", "log_softmax"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("keepdims", [None, True, False])
@pytest.mark.parametrize("method", [False, True])
def test_reductions_accept_numpy_axis_and_keepdims_like_torch(name, keepdims, method):
    if name in ("softmax", "log_softmax") and keepdims is not None:
        pytest.skip("torch's softmax takes axis but no keepdims")
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    kwargs = dict(axis=1) if keepdims is None else dict(axis=1, keepdims=keepdims)
    out = []
    for L in (tc, torch):
        t = L.tensor(x)
        result = getattr(t, name)(**kwargs) if method else getattr(L, name)(t, **kwargs)
        out.append(result[0] if isinstance(result, tuple) else result)
    assert str(out[0].dtype) == _dtype(out[1]) and out[0].shape == tuple(out[1].shape)
    np.testing.assert_allclose(out[0].array, out[1].numpy(), rtol=1e-5, atol=1e-6)


def test_alias_and_dim_together_is_an_error():
    with pytest.raises(TypeError, match="both 'dim' and its alias 'axis'"):
        tc.sum(tc.ones(2, 3), 0, axis=1)
    ours, theirs = _raises_like(lambda L: L.logsumexp(L.ones(2)), TypeError)
    assert ours == theirs


def test_sum_with_axis_keeps_its_gradient():
    x = tc.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    tx = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (tc.sum(x, axis=0, keepdims=True) * tc.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    (torch.sum(tx, axis=0, keepdims=True) * torch.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.array, tx.grad.numpy())


# ----------------------------------------------------------------------------- sizes in bytes, types
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_element_sizes_and_type_names_match_torch(dtype):
    ours, theirs = tc.tensor(np.zeros((2, 3), dtype)), torch.tensor(np.zeros((2, 3), dtype))
    assert (ours.numel(), ours.nelement(), ours.element_size(), ours.nbytes, ours.itemsize) == \
        (theirs.numel(), theirs.nelement(), theirs.element_size(), theirs.nbytes, theirs.itemsize)
    assert ours.type() == theirs.type().replace("torch.", "tinycompress.")


@pytest.mark.parametrize("target", ["float64", "DoubleTensor", "torch.LongTensor", "tinycompress.IntTensor",
                                    "float32"])
def test_type_casts_like_torch(target):
    def spec(L):
        if target.startswith(("torch.", "tinycompress.")):
            return target.replace("tinycompress.", "torch.") if L is torch else target
        return getattr(L, target)
    results = []
    for L in (tc, torch):
        x = L.tensor([1.5, -2.5])
        y = x.type(spec(L))
        results.append(y)
        assert (y is x) == (target == "float32")
    _same(*results)
    _same(tc.tensor([1.5, 2.0]).type_as(tc.tensor([1], dtype=tc.int32)),
          torch.tensor([1.5, 2.0]).type_as(torch.tensor([1], dtype=torch.int32)))


# ----------------------------------------------------------------------------- new_*
NEW_CALLS = [
    lambda x: x.new_zeros(2, 3), lambda x: x.new_zeros((2, 3)), lambda x: x.new_ones([2]),
    lambda x: x.new_full((2,), 3), lambda x: x.new_full((2, 1), True), lambda x: x.new_tensor([1, 2]),
    lambda x: x.new_tensor([[1.5], [2.7]]), lambda x: x.new_zeros(2, dtype=x.new_tensor([1]).dtype),
    lambda x: x.new_ones(3, requires_grad=x.is_floating_point()), lambda x: x.new_empty(2, 3).zero_(),
    lambda x: x.new_zeros(()),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("call", NEW_CALLS)
def test_new_tensors_match_torch(call, dtype):
    x, tx = tc.tensor(np.zeros(2, dtype)), torch.tensor(np.zeros(2, dtype))
    ours, theirs = call(x), call(tx)
    assert ours.requires_grad == theirs.requires_grad and ours.is_leaf
    _same(ours.detach(), theirs.detach())


def test_new_tensor_copies_and_warns_on_a_tensor_like_torch():
    x = tc.ones(2, dtype=tc.float64)
    a = np.array([1.0, 2.0], np.float32)
    y = x.new_tensor(a)
    a[0] = 9
    assert y.array[0] == 1 and y.dtype == np.float64
    with pytest.warns(UserWarning, match="sourceTensor.detach"):
        z = x.new_tensor(tc.ones(2))
    with warnings.catch_warnings(record=True), pytest.warns(UserWarning, match="sourceTensor.detach"):
        torch.ones(2).new_tensor(torch.ones(2))
    assert z.dtype == np.float64


# ----------------------------------------------------------------------------- grad_fn names
@pytest.mark.parametrize("op", [
    lambda x: x + 1, lambda x: x - 1, lambda x: x * 2, lambda x: x / 2, lambda x: -x, lambda x: x.pow(2),
    lambda x: x.sum(), lambda x: x.mean(), lambda x: x.exp(), lambda x: x.log(), lambda x: x.tanh(),
    lambda x: x.sigmoid(), lambda x: x.abs(), lambda x: x.sqrt(), lambda x: x.var(),
])
def test_grad_fn_names_carry_torchs_suffix(op):
    ours = op(tc.ones(2, requires_grad=True))
    theirs = op(torch.ones(2, requires_grad=True))
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    assert repr(ours).split("grad_fn=")[1] == repr(theirs).split("grad_fn=")[1]


# every torch op added for issue 13's "common tensor ops", written once for both libraries
_INDEX = [[0, 2, 1], [1, 0, 0]]
_NEW_OPS = {
    "cos": lambda L, x: x.cos(), "sin": lambda L, x: L.sin(x), "tan": lambda L, x: x.tan(),
    "atan": lambda L, x: x.atan(), "asin": lambda L, x: (x / 9).asin(), "acos": lambda L, x: (x / 9).acos(),
    "sinh": lambda L, x: x.sinh(), "cosh": lambda L, x: x.cosh(), "square": lambda L, x: x.square(),
    "reciprocal": lambda L, x: x.reciprocal(), "narrow": lambda L, x: x.narrow(1, 1, 2),
    "gather": lambda L, x: x.gather(1, L.tensor(_INDEX)), "scatter": lambda L, x: x.scatter(1, L.tensor(_INDEX), x),
    "scatter value": lambda L, x: x.scatter(1, L.tensor(_INDEX), 2.5),
    "scatter_add": lambda L, x: L.scatter_add(x, 1, L.tensor(_INDEX), x),
    "index_select": lambda L, x: x.index_select(1, L.tensor([2, 0, 2])),
    "masked_select": lambda L, x: x.masked_select(x > 2), "cumsum": lambda L, x: x.cumsum(1),
    "cumprod": lambda L, x: L.cumprod(x, 0), "flip": lambda L, x: x.flip(0, 1), "roll": lambda L, x: x.roll(1, 1),
    "sort": lambda L, x: x.sort(1, descending=True).values, "topk": lambda L, x: x.topk(2).values,
    "kthvalue": lambda L, x: x.kthvalue(2).values, "median": lambda L, x: x.median(),
    "median dim": lambda L, x: x.median(1).values, "argsort": lambda L, x: x.argsort(0),
    "addmm": lambda L, x: L.addmm(x[:, :2], x, x.T, beta=0.5), "bmm": lambda L, x: L.bmm(x[None], x.T[None]),
    "mv": lambda L, x: x.mv(x[0]), "dot": lambda L, x: x[0].dot(x[1]), "outer": lambda L, x: L.outer(x[0], x[1]),
    "diagonal": lambda L, x: x.diagonal(1), "trace": lambda L, x: x.trace(), "tril": lambda L, x: x.tril(),
    "triu": lambda L, x: x.triu(-1), "repeat_interleave": lambda L, x: x.repeat_interleave(L.tensor([1, 0]), dim=0),
}


@pytest.mark.parametrize("name", sorted(_NEW_OPS))
def test_common_tensor_ops_carry_torchs_values_and_grad_fn_names(name):
    values = np.array([[1.0, 4.0, 2.0], [3.0, 0.5, 5.0]])
    ours = _NEW_OPS[name](tc, tc.tensor(values, requires_grad=True))
    theirs = _NEW_OPS[name](torch, torch.tensor(values, requires_grad=True))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    assert (ours.grad_fn and ours.grad_fn.name()) == (theirs.grad_fn and theirs.grad_fn.name())


@pytest.mark.parametrize("call", [
    lambda L, x, i: x.gather(2, i), lambda L, x, i: x.gather(0, i + 5), lambda L, x, i: x.gather(0, i[0]),
    lambda L, x, i: x.scatter(1, i, x.double()), lambda L, x, i: x.index_select(0, i),
    lambda L, x, i: x.index_select(0, L.tensor([0, 7])), lambda L, x, i: x.masked_select(i),
    lambda L, x, i: x.flip(0, 0), lambda L, x, i: x.roll((1, 2), (0,)), lambda L, x, i: x[0].tril(),
    lambda L, x, i: x.narrow(0, 1, 2), lambda L, x, i: x.diagonal(0, 1, 1), lambda L, x, i: L.trace(x[None]),
    lambda L, x, i: x.topk(4), lambda L, x, i: x.kthvalue(0), lambda L, x, i: L.outer(x, x),
    lambda L, x, i: L.addmm(x, x, x), lambda L, x, i: L.mv(x, x[0, :2]),
], ids=["gather dim", "gather bounds", "gather 1-D index", "scatter dtype", "index_select 2-D",
        "index_select bounds", "masked_select int mask", "flip repeated dim", "roll misaligned", "tril 1-D",
        "narrow past end", "diagonal same dims", "trace 3-D", "topk k", "kthvalue k", "outer 2-D", "addmm shapes",
        "mv sizes"])
def test_common_tensor_ops_refuse_what_torch_refuses(call):
    """Bad dims, shapes, indices and dtypes raise the exception type torch raises (message alike)."""
    errors = []
    for L in (tc, torch):
        x, i = L.ones(2, 3), L.tensor([[0, 2, 1], [1, 0, 0]])
        with pytest.raises((RuntimeError, IndexError, TypeError)) as info:
            call(L, x, i)
        errors.append(info.type)
    assert errors[0] is errors[1], errors


def test_in_place_index_and_triangle_ops_match_torch():
    values = np.arange(12.0).reshape(3, 4) / 7
    results = []
    for L in (tc, torch):
        leaf = L.tensor(values, requires_grad=True)
        src = L.tensor(values[:2] * 2, requires_grad=True)
        index = L.tensor([[2, 0, 1, 0], [0, 1, 2, 2]])
        y = leaf * 1.0
        y.scatter_(0, index, src).tril_(1).cumsum_(1).scatter_add_(1, index[:, :2], src[:, :2]).sin_()
        y.backward(L.tensor(values[::-1].copy()))
        results.append((y.grad_fn.name(), y.detach().numpy(), leaf.grad.numpy(), src.grad.numpy()))
    assert results[0][0] == results[1][0]
    for o, t in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14)


def _operands(L):
    rng = np.random.default_rng(0)
    x, m, v = (L.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
               for shape in ((2, 3, 4), (3, 4), (4,)))
    return x, m, v, L.nn.functional


NODE_CALLS = {      # each call's node name, torch's against ours: the views, overloads and fused ops
    "select": lambda x, m, v, F, L: x[0, 1], "select after slice": lambda x, m, v, F, L: x[1:, 0],
    "slice": lambda x, m, v, F, L: x[:1], "slice after select": lambda x, m, v, F, L: x[0, 1:],
    "ellipsis select": lambda x, m, v, F, L: x[..., 0], "unsqueeze index": lambda x, m, v, F, L: x[0, None],
    "alias": lambda x, m, v, F, L: x[..., :, 0:4], "advanced": lambda x, m, v, F, L: x[0, [0, 1]],
    "mask": lambda x, m, v, F, L: x[x > 0],
    "mm": lambda x, m, v, F, L: m @ m.t(), "mv": lambda x, m, v, F, L: m @ v, "vm": lambda x, m, v, F, L: v[:3] @ m,
    "dot": lambda x, m, v, F, L: v @ v, "batched": lambda x, m, v, F, L: x @ m.t(),
    "bmm": lambda x, m, v, F, L: L.bmm(x, x.transpose(1, 2)),
    "max": lambda x, m, v, F, L: x.max(), "max dim": lambda x, m, v, F, L: x.max(1)[0],
    "min dim": lambda x, m, v, F, L: x.min(1).values, "amax": lambda x, m, v, F, L: x.amax(1),
    "amin": lambda x, m, v, F, L: x.amin(), "sum": lambda x, m, v, F, L: x.sum(),
    "sum dim": lambda x, m, v, F, L: x.sum(0), "mean dim": lambda x, m, v, F, L: x.mean((0, 1)),
    "prod dim": lambda x, m, v, F, L: x.prod(0), "norm": lambda x, m, v, F, L: x.norm(dim=1),
    "logsumexp": lambda x, m, v, F, L: x.logsumexp(1), "squeeze": lambda x, m, v, F, L: x[:, :1].squeeze(),
    "squeeze dim": lambda x, m, v, F, L: x[:, :1].squeeze(1), "unsqueeze": lambda x, m, v, F, L: x.unsqueeze(0),
    "view": lambda x, m, v, F, L: x.view(6, 4), "flatten": lambda x, m, v, F, L: x.flatten(1),
    "t": lambda x, m, v, F, L: m.t(), "transpose": lambda x, m, v, F, L: x.transpose(0, 1),
    "permute": lambda x, m, v, F, L: x.permute(2, 0, 1), "cat": lambda x, m, v, F, L: L.cat([x, x]),
    "split": lambda x, m, v, F, L: x.split(1)[0], "chunk": lambda x, m, v, F, L: x.chunk(2)[1],
    "pad": lambda x, m, v, F, L: F.pad(x, (1, 1)), "diag embed": lambda x, m, v, F, L: v.diag(),
    "clamp": lambda x, m, v, F, L: x.clamp(-1, 1), "clamp by tensors": lambda x, m, v, F, L: x.clamp(min=L.zeros(4)),
    "pow": lambda x, m, v, F, L: x ** 2, "pow tensor": lambda x, m, v, F, L: x ** x,
    "scalar pow": lambda x, m, v, F, L: 2 ** x, "rsub": lambda x, m, v, F, L: 1 - x,
    "rdiv": lambda x, m, v, F, L: 1 / x, "cast": lambda x, m, v, F, L: x.double(),
    "relu": lambda x, m, v, F, L: F.relu(x), "leaky relu": lambda x, m, v, F, L: F.leaky_relu(x),
    "log1p": lambda x, m, v, F, L: x.abs().log1p(), "sum_to_size": lambda x, m, v, F, L: x.sum_to_size(1, 3, 4),
    "linear": lambda x, m, v, F, L: F.linear(m, m, v[:3]), "linear no bias": lambda x, m, v, F, L: F.linear(m, m),
    "linear 3-D": lambda x, m, v, F, L: F.linear(x, m, v[:3]),
    "l1": lambda x, m, v, F, L: F.l1_loss(x, x.detach() * 2), "mse": lambda x, m, v, F, L: F.mse_loss(x, x.detach()),
    "bce": lambda x, m, v, F, L: F.binary_cross_entropy(x.sigmoid(), L.ones(2, 3, 4)),
    "bce logits": lambda x, m, v, F, L: F.binary_cross_entropy_with_logits(x, L.ones(2, 3, 4)),
    "cross entropy": lambda x, m, v, F, L: F.cross_entropy(m, L.tensor([0, 1, 2])),
    "nll": lambda x, m, v, F, L: F.nll_loss(m, L.tensor([0, 1, 2])),
    "conv": lambda x, m, v, F, L: F.conv2d(x[None], x[None, :, :2, :2].detach(), v[:1]),
    "conv transpose": lambda x, m, v, F, L: F.conv_transpose2d(x[None], L.ones(2, 2, 2, 2), L.ones(2)),
    "max pool": lambda x, m, v, F, L: F.max_pool2d(x[None], 2), "avg pool": lambda x, m, v, F, L: F.avg_pool2d(x[None], 2),
    "max pool 1d": lambda x, m, v, F, L: F.max_pool1d(x, 2), "global avg pool": lambda x, m, v, F, L: F.adaptive_avg_pool2d(x[None], 1),
    "batch norm": lambda x, m, v, F, L: F.batch_norm(m, None, None, training=True),
    "layer norm": lambda x, m, v, F, L: F.layer_norm(x, (4,), v, v), "group norm": lambda x, m, v, F, L: F.group_norm(x, 1),
    "dropout": lambda x, m, v, F, L: F.dropout(x, 0.5), "zero_": lambda x, m, v, F, L: x.clone().zero_(),
    "fill_": lambda x, m, v, F, L: x.clone().fill_(1), "copy_": lambda x, m, v, F, L: x.clone().copy_(x),
    "clamp_": lambda x, m, v, F, L: x.clone().clamp_(0, 1), "sub_": lambda x, m, v, F, L: x.clone().sub_(1),
}


@pytest.mark.parametrize("call", NODE_CALLS.values(), ids=NODE_CALLS.keys())
def test_grad_fn_names_are_torchs_for_each_call(call):
    """torch names a node by the call (``x[0]`` a Select, ``x[:1]`` a Slice, ``m @ v`` an Mv); so do we.
    Composite functional activations (gelu, silu, elu ...) still show their last op's node."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = call(*_operands(torch), torch).grad_fn.name()
        ours = call(*_operands(tc), tc).grad_fn.name()
    assert ours == theirs
