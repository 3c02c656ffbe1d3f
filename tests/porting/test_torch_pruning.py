"""PyTorch's own pruning tests (pytorch/pytorch ``test/nn/test_pruning.py``), case by case, run on
torch and on tinycompress from the same code.

Each test below reproduces one of torch's cases (same name, same modules, tensors, amounts and
expected masks) and is written once against three names — ``torch``, ``nn``, ``prune`` — that the
``lib`` fixture binds either to ``torch``, ``torch.nn``, ``torch.nn.utils.prune`` or to
``tinycompress``, ``tinycompress.nn``, ``tinycompress.nn.utils.prune``: the import swap a user makes.
It passes on torch (so it says what torch does) and on tinycompress.

The cases are rewritten here rather than copied (the file is not ours to commit); torch's
``NNTestCase.assertEqual`` becomes :func:`same` (values, shapes and dtypes), ``subTest`` loops stay
loops, and ``mock.patch("torch.nn.utils.prune.X.compute_mask")`` becomes
``mock.patch.object(prune.X, "compute_mask")`` (the dotted string names torch's module).

Left out, with the reason:
- ``test_random_pruning_pickle``, ``test_pruning_serialization_model``: they pickle a whole pruned
  module (``pickle.dumps(m)``, ``torch.save(model)``); tinycompress saves with ``tc.save`` to ``.npz``
  and never pickles (loading a file must not run code), so whole-module pickling is out of scope.
  The state-dict round trip (``test_pruning_serialization_state_dict``) is kept.
- ``test_rnn_pruning``: tinycompress has no LSTM/RNN modules.
- CUDA and quantization: the current file has no such cases (its CUDA memory checks are NNTestCase
  flags that do nothing on CPU).
"""
import types
import unittest.mock as mock

import numpy as np
import pytest

torch_module = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")


def _libs():
    import torch.nn.utils.prune as tprune

    import tinycompress
    import tinycompress.nn.utils.prune as cprune
    return {"torch": types.SimpleNamespace(torch=torch_module, nn=torch_module.nn, prune=tprune),
            "tinycompress": types.SimpleNamespace(torch=tinycompress, nn=tinycompress.nn, prune=cprune)}


@pytest.fixture(params=["torch", "tinycompress"])
def lib(request):
    return _libs()[request.param]


def _np(x):
    if isinstance(x, torch_module.Tensor):
        return x.detach().numpy()
    if hasattr(x, "array"):
        return x.array
    return np.asarray(x)


def same(a, b, exact_dtype=True):
    """torch's assertEqual for tensors: same shape, same dtype, equal values (float tolerance as torch's)."""
    if isinstance(a, tuple) or isinstance(b, tuple):              # sizes
        assert tuple(a) == tuple(b)
        return
    x, y = _np(a), _np(b)
    assert x.shape == y.shape, (x.shape, y.shape)
    if exact_dtype and hasattr(a, "dtype") and hasattr(b, "dtype"):
        assert x.dtype == y.dtype, (x.dtype, y.dtype)
    np.testing.assert_allclose(x.astype(np.float64), y.astype(np.float64), rtol=1.3e-6, atol=1e-5)


def _modules(nn):
    return [nn.Linear(5, 7), nn.Conv3d(2, 2, 2)]


# ------------------------------------------------------------------------------ amount helpers
def test_validate_pruning_amount_init(lib):
    prune = lib.prune
    with pytest.raises(TypeError):
        prune._validate_pruning_amount_init(amount="I'm a string")
    for bad in (1.1, 20.0, -10):
        with pytest.raises(ValueError):
            prune._validate_pruning_amount_init(amount=bad)
    for ok in (0.34, 1500, 0, 0.0, 1, 1.0):
        prune._validate_pruning_amount_init(amount=ok)


def test_validate_pruning_amount(lib):
    prune = lib.prune
    with pytest.raises(ValueError):
        prune._validate_pruning_amount(amount=20, tensor_size=19)
    prune._validate_pruning_amount(amount=0.3, tensor_size=0)
    prune._validate_pruning_amount(amount=19, tensor_size=20)
    prune._validate_pruning_amount(amount=0, tensor_size=0)
    prune._validate_pruning_amount(amount=1, tensor_size=1)


def test_compute_nparams_to_prune(lib):
    prune = lib.prune
    assert prune._compute_nparams_toprune(amount=0, tensor_size=15) == 0
    assert prune._compute_nparams_toprune(amount=10, tensor_size=15) == 10
    assert prune._compute_nparams_toprune(amount=1, tensor_size=15) == 1        # an int is a count
    assert prune._compute_nparams_toprune(amount=1.0, tensor_size=15) == 15     # a float a fraction
    assert prune._compute_nparams_toprune(amount=0.4, tensor_size=17) == 7


# ------------------------------------------------------------------------------ the re-parametrisation
def test_random_pruning_sizes(lib):
    for m in _modules(lib.nn):
        for name in ("weight", "bias"):
            original = getattr(m, name)
            lib.prune.random_unstructured(m, name=name, amount=0.1)
            same(original.size(), getattr(m, name + "_mask").size())
            same(original.size(), getattr(m, name + "_orig").size())
            same(original.size(), getattr(m, name).size())


def test_random_pruning_orig(lib):
    for m in _modules(lib.nn):
        for name in ("weight", "bias"):
            original = getattr(m, name)
            lib.prune.random_unstructured(m, name=name, amount=0.1)
            same(original, getattr(m, name + "_orig"))


def test_random_pruning_new_weight(lib):
    for m in _modules(lib.nn):
        for name in ("weight", "bias"):
            original = getattr(m, name)
            lib.prune.random_unstructured(m, name=name, amount=0.1)
            same(getattr(m, name), getattr(m, name + "_orig") * getattr(m, name + "_mask").to(dtype=original.dtype))


def _check_mask_of_ones_changes_nothing(lib, prune_it):
    torch, nn = lib.torch, lib.nn
    input_ = torch.ones(1, 5)
    m = nn.Linear(5, 2)
    y_pre = m(input_)
    y_pre.sum().backward()
    old_grad_weight = m.weight.grad.clone()
    same(old_grad_weight, torch.ones_like(m.weight))
    old_grad_bias = m.bias.grad.clone()
    same(old_grad_bias, torch.ones_like(m.bias))
    m.zero_grad()
    prune_it(m)
    y_post = m(input_)
    same(y_pre, y_post)
    y_post.sum().backward()
    same(old_grad_weight, m.weight_orig.grad)
    same(old_grad_bias, m.bias.grad)
    same(m(input_), m(input_))                    # forward twice: the same output


def test_identity_pruning(lib):
    _check_mask_of_ones_changes_nothing(lib, lambda m: lib.prune.identity(m, name="weight"))


def test_random_pruning_0perc(lib):
    def prune_it(m):
        with mock.patch.object(lib.prune.RandomUnstructured, "compute_mask") as compute_mask:
            compute_mask.return_value = lib.torch.ones_like(m.weight)
            lib.prune.random_unstructured(m, name="weight", amount=0.9)      # the amount won't count
    _check_mask_of_ones_changes_nothing(lib, prune_it)


def _mocked_random_prune(lib, m, mask):
    with mock.patch.object(lib.prune.RandomUnstructured, "compute_mask") as compute_mask:
        compute_mask.return_value = mask
        lib.prune.random_unstructured(m, name="weight", amount=0.9)


def test_random_pruning(lib):
    torch, nn = lib.torch, lib.nn
    input_ = torch.ones(1, 5)
    m = nn.Linear(5, 2)
    mask = torch.ones_like(m.weight)
    mask[1, 0] = 0
    mask[0, 3] = 0
    _mocked_random_prune(lib, m, mask)
    m(input_).sum().backward()
    same(m.weight_orig.grad, mask)                # the grad is zero where the mask is
    same(m.bias.grad, torch.ones_like(m.bias))
    old_weight_orig = m.weight_orig.clone()
    for p in m.parameters():
        p.data.sub_(p.grad.data * 1.0)
    same(old_weight_orig[1, 0], m.weight_orig[1, 0])
    same(old_weight_orig[0, 3], m.weight_orig[0, 3])


def test_random_pruning_forward(lib):
    torch, nn = lib.torch, lib.nn
    input_ = torch.ones(1, 5)
    m = nn.Linear(5, 2)
    mask = torch.zeros_like(m.weight)
    mask[1, 0] = 1
    mask[0, 3] = 1
    _mocked_random_prune(lib, m, mask)
    yhat = m(input_)
    same(yhat[0, 0], m.weight_orig[0, 3] + m.bias[0])
    same(yhat[0, 1], m.weight_orig[1, 0] + m.bias[1])


def test_remove_pruning_forward(lib):
    torch, nn = lib.torch, lib.nn
    input_ = torch.ones(1, 5)
    m = nn.Linear(5, 2)
    mask = torch.ones_like(m.weight)
    mask[1, 0] = 0
    mask[0, 3] = 0
    _mocked_random_prune(lib, m, mask)
    y_post = m(input_)
    lib.prune.remove(m, "weight")
    same(y_post, m(input_))


def test_pruning_id_consistency(lib):
    m = lib.nn.Linear(5, 2, bias=False)
    tensor_id = id(next(iter(m.parameters())))
    lib.prune.random_unstructured(m, name="weight", amount=0.9)
    assert tensor_id == id(next(iter(m.parameters())))
    lib.prune.remove(m, "weight")
    assert tensor_id == id(next(iter(m.parameters())))


def test_multiple_pruning_calls(lib):
    torch, nn, prune = lib.torch, lib.nn, lib.prune
    m = nn.Conv3d(2, 2, 2)
    prune.l1_unstructured(m, name="weight", amount=0.1)
    weight_mask0 = m.weight_mask
    prune.ln_structured(m, name="weight", amount=0.3, n=2, dim=0)
    hook = next(iter(m._forward_pre_hooks.values()))
    assert isinstance(hook, prune.PruningContainer)
    assert hook._tensor_name == "weight"
    assert len(hook) == 2
    assert isinstance(hook[0], prune.L1Unstructured) and isinstance(hook[1], prune.LnStructured)
    assert torch.all(m.weight_mask[weight_mask0 == 0] == 0)
    prune.ln_structured(m, name="weight", amount=0.1, n=float("inf"), dim=1)
    assert next(iter(m._forward_pre_hooks.values()))._tensor_name == "weight"


# ------------------------------------------------------------------------------ containers and masks
def test_pruning_container(lib):
    prune = lib.prune
    container = prune.PruningContainer()
    container._tensor_name = "test"
    assert len(container) == 0
    p = prune.L1Unstructured(amount=2)
    p._tensor_name = "test"
    container.add_pruning_method(p)
    q = prune.L1Unstructured(amount=2)
    q._tensor_name = "another_test"
    with pytest.raises(ValueError):
        container.add_pruning_method(q)
    with pytest.raises(TypeError):
        container.add_pruning_method(10)
    with pytest.raises(TypeError):
        container.add_pruning_method("ugh")


def test_pruning_container_compute_mask(lib):
    torch, prune = lib.torch, lib.prune
    container = prune.PruningContainer()
    container._tensor_name = "test"
    p = prune.L1Unstructured(amount=2)
    p._tensor_name = "test"
    container.add_pruning_method(p)
    t = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]).to(dtype=torch.float32)
    default_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 1]])
    expected = torch.tensor([[0, 0, 1, 0], [1, 1, 0, 1]], dtype=torch.float32)
    same(expected, container.compute_mask(t, default_mask))
    q = prune.LnStructured(amount=1, n=2, dim=0)
    q._tensor_name = "test"
    container.add_pruning_method(q)
    expected = torch.tensor([[0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.float32)
    same(expected, container.compute_mask(t, default_mask))
    r = prune.LnStructured(amount=1, n=2, dim=1)
    r._tensor_name = "test"
    container.add_pruning_method(r)
    expected = torch.tensor([[0, 1, 1, 0], [0, 1, 0, 1]], dtype=torch.float32)
    same(expected, container.compute_mask(t, default_mask))


def test_l1_unstructured_pruning(lib):
    torch, nn, prune = lib.torch, lib.nn, lib.prune
    m = nn.Linear(4, 2)
    m.weight = torch.nn.Parameter(torch.tensor([[1, 2, 3, 4], [-4, -3, -2, -1]], dtype=torch.float32))
    prune.l1_unstructured(m, "weight", amount=2)
    same(torch.tensor([[0, 2, 3, 4], [-4, -3, -2, 0]], dtype=m.weight.dtype), m.weight)
    prune.l1_unstructured(m, "weight", amount=2)                     # the next two smallest survivors
    same(torch.tensor([[0, 0, 3, 4], [-4, -3, 0, 0]], dtype=m.weight.dtype), m.weight)


def test_l1_unstructured_pruning_with_importance_scores(lib):
    torch, nn, prune = lib.torch, lib.nn, lib.prune
    m = nn.Linear(4, 2)
    m.weight = torch.nn.Parameter(torch.tensor([[1, 2, 3, 4], [-4, -3, -2, -1]], dtype=torch.float32))
    scores = torch.tensor([[4, 2, 1, 3], [-3, -1, -2, -4]], dtype=torch.float32)
    prune.l1_unstructured(m, "weight", amount=2, importance_scores=scores)
    same(torch.tensor([[1, 2, 0, 4], [-4, 0, -2, -1]], dtype=m.weight.dtype), m.weight)
    prune.l1_unstructured(m, "weight", amount=2, importance_scores=scores)
    same(torch.tensor([[1, 0, 0, 4], [-4, 0, 0, -1]], dtype=m.weight.dtype), m.weight)


def test_unstructured_pruning_same_magnitude(lib):
    """Ties are pruned by count (the bottom k), never by a threshold that would take them all."""
    torch, prune = lib.torch, lib.prune
    amount = 0.2
    p = prune.L1Unstructured(amount=amount)
    t = 2 * torch.randint(low=-1, high=2, size=(10, 7))
    k = prune._compute_nparams_toprune(amount, t.nelement())
    computed_mask = p.compute_mask(t, default_mask=torch.ones_like(t))
    assert k == int(torch.sum(computed_mask == 0))


def test_random_structured_pruning_amount(lib):
    torch, prune = lib.torch, lib.prune
    amount, axis = 0.6, 2
    p = prune.RandomStructured(amount=amount, dim=axis)
    t = 2 * torch.randint(low=-1, high=2, size=(5, 4, 2)).to(dtype=torch.float32)
    prune._compute_nparams_toprune(amount, t.shape[axis])
    computed_mask = p.compute_mask(t, default_mask=torch.ones_like(t))
    remaining_axes = [d for d in range(len(t.shape)) if d != axis]
    per_column_sums = sorted(torch.sum(computed_mask == 0, axis=remaining_axes))
    assert per_column_sums == [0, 20]             # one column pruned whole, the other untouched


_CONV_W = [[[[1.0, 2.0], [1.0, 2.5]], [[0.5, 1.0], [0.1, 0.1]], [[-3.0, -5.0], [0.1, -1.0]]]]


def test_ln_structured_pruning(lib):
    torch, nn, prune = lib.torch, lib.nn, lib.prune
    m = nn.Conv2d(3, 1, 2)
    m.weight.data = torch.tensor(_CONV_W)
    expected = torch.ones_like(m.weight)
    expected[:, 1] = 0.0                          # channel 1 has the smallest L2 norm
    prune.ln_structured(m, "weight", amount=1, n=2, dim=1)
    same(expected, m.weight_mask)
    expected[:, :, :, 0] = 0.0                    # then column 0 by L1 along the last axis
    prune.ln_structured(m, "weight", amount=1, n=1, dim=-1)
    same(expected, m.weight_mask)


def test_ln_structured_pruning_importance_scores(lib):
    torch, nn, prune = lib.torch, lib.nn, lib.prune
    m = nn.Conv2d(3, 1, 2)
    m.weight.data = torch.tensor(_CONV_W)
    scores = torch.tensor([[[[10.0, 1.0], [10.0, 1.0]], [[30.0, 3.0], [30.0, 3.0]],
                            [[-20.0, -2.0], [-20.0, -2.0]]]])
    expected = torch.ones_like(m.weight)
    expected[:, 0] = 0.0
    prune.ln_structured(m, "weight", amount=1, n=2, dim=1, importance_scores=scores)
    same(expected, m.weight_mask)
    expected[:, :, :, 1] = 0.0
    prune.ln_structured(m, "weight", amount=1, n=1, dim=-1, importance_scores=scores)
    same(expected, m.weight_mask)


def test_remove_pruning(lib):
    for m in _modules(lib.nn):
        for name in ("weight", "bias"):
            lib.prune.random_unstructured(m, name, amount=0.5)
            assert name + "_orig" in dict(m.named_parameters())
            assert name + "_mask" in dict(m.named_buffers())
            assert name not in dict(m.named_parameters())
            assert hasattr(m, name)
            pruned_t = getattr(m, name)
            lib.prune.remove(m, name)
            assert name in dict(m.named_parameters())
            assert name + "_orig" not in dict(m.named_parameters())
            assert name + "_mask" not in dict(m.named_buffers())
            same(pruned_t, getattr(m, name))


def test_remove_pruning_exception(lib):
    for m in _modules(lib.nn):
        for name in ("weight", "bias"):
            assert not lib.prune.is_pruned(m)
            with pytest.raises(ValueError):
                lib.prune.remove(m, name)


def _global_pair(lib):
    torch, nn = lib.torch, lib.nn
    m, n = nn.Linear(4, 2), nn.Linear(3, 1)
    m.weight = torch.nn.Parameter(torch.tensor([[1, 2, 3, 4], [-4, -3, -2, -1]]).to(dtype=torch.float32))
    n.weight = torch.nn.Parameter(torch.tensor([[0, 0.1, -2]]).to(dtype=torch.float32))
    return m, n


def test_global_pruning(lib):
    torch, prune = lib.torch, lib.prune
    m, n = _global_pair(lib)
    prune.global_unstructured(((m, "weight"), (n, "weight")), pruning_method=prune.L1Unstructured, amount=4)
    same(torch.tensor([[0, 2, 3, 4], [-4, -3, -2, 0]], dtype=m.weight.dtype), m.weight)
    same(torch.tensor([[0, 0, -2]]).to(dtype=n.weight.dtype), n.weight)


def test_global_pruning_importance_scores(lib):
    torch, prune = lib.torch, lib.prune
    m, n = _global_pair(lib)
    scores = {(m, "weight"): torch.tensor([[4, 2, 1, 3], [-3, -1, -2, -4]], dtype=torch.float32),
              (n, "weight"): torch.tensor([[0, 10.0, -0.2]]).to(dtype=torch.float32)}
    prune.global_unstructured(((m, "weight"), (n, "weight")), pruning_method=prune.L1Unstructured, amount=4,
                              importance_scores=scores)
    same(torch.tensor([[1, 2, 0, 4], [-4, 0, -2, -1]], dtype=m.weight.dtype), m.weight)
    same(torch.tensor([[0, 0.1, 0]]).to(dtype=n.weight.dtype), n.weight)


def test_custom_from_mask_pruning(lib):
    torch, prune = lib.torch, lib.prune
    mask = torch.tensor([[0, 1, 1, 0], [0, 0, 1, 1]])
    default_mask = torch.tensor([[0, 0, 0, 0], [1, 1, 1, 1]])
    t = torch.rand_like(mask.to(dtype=torch.float32))
    computed = prune.CustomFromMask(mask=mask).compute_mask(t, default_mask)
    same(computed, torch.tensor([[0, 0, 0, 0], [0, 0, 1, 1]], dtype=computed.dtype))


def test_pruning_rollback(lib):
    """A failing compute_mask leaves the module as it was, not half re-parametrised."""
    for m in _modules(lib.nn):
        for name in ("weight", "bias"):
            with mock.patch.object(lib.prune.L1Unstructured, "compute_mask") as compute_mask:
                compute_mask.side_effect = Exception("HA!")
                with pytest.raises(Exception):
                    lib.prune.l1_unstructured(m, name=name, amount=0.9)
                assert name in dict(m.named_parameters())
                assert name + "_mask" not in dict(m.named_buffers())
                assert name + "_orig" not in dict(m.named_parameters())


def test_pruning_serialization_state_dict(lib, tmp_path):
    torch, prune = lib.torch, lib.prune

    def model():
        return torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.ReLU(), torch.nn.Linear(10, 1))
    net = model()
    assert "0.weight_orig" not in net.state_dict() and "0.weight" in net.state_dict()
    prune.l1_unstructured(module=net[0], name="weight", amount=0.9)
    assert {"0.weight_orig", "0.weight_mask"} <= set(net.state_dict()) and "0.weight" not in net.state_dict()
    assert hasattr(net[0], "weight")
    pruned_weight = net[0].weight
    prune.remove(module=net[0], name="weight")
    assert "0.weight_orig" not in net.state_dict() and "0.weight_mask" not in net.state_dict()
    fname = str(tmp_path / "sd")
    torch.save(net.state_dict(), fname)
    new = model()
    new.load_state_dict(torch.load(fname))
    assert "0.weight_orig" not in new.state_dict() and "0.weight" in new.state_dict()
    same(pruned_weight, new[0].weight)


def test_prune(lib):
    torch, prune = lib.torch, lib.prune
    p = prune.L1Unstructured(amount=2)
    t = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]).to(dtype=torch.float32)
    default_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 1]])
    expected_mask = torch.tensor([[0, 0, 1, 0], [1, 1, 0, 1]])
    same(t * expected_mask, p.prune(t, default_mask))


def test_prune_importance_scores(lib):
    torch, prune = lib.torch, lib.prune
    p = prune.L1Unstructured(amount=2)
    t = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]).to(dtype=torch.float32)
    scores = torch.tensor([[1, 2, 3, 4], [1.5, 1.6, 1.7, 1.8]]).to(dtype=torch.float32)
    default_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 1]])
    expected_mask = torch.tensor([[0, 1, 1, 0], [0, 1, 0, 1]])
    same(t * expected_mask, p.prune(t, default_mask, importance_scores=scores))


def test_prune_importance_scores_mimic_default(lib):
    torch, prune = lib.torch, lib.prune
    p = prune.L1Unstructured(amount=2)
    t = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]).to(dtype=torch.float32)
    default_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 1]])
    expected_mask = torch.tensor([[0, 0, 1, 0], [1, 1, 0, 1]])
    without = p.prune(t, default_mask)
    same(without, p.prune(t, default_mask, importance_scores=t))
    same(t * expected_mask, without)


# ------------------------------------------------------------------------------ beyond torch's file (issue 13)
def test_custom_method_written_for_torch(lib):
    """The tutorial's custom method (every other surviving entry), applied twice through a container."""
    torch, nn, prune = lib.torch, lib.nn, lib.prune

    class FooBarPruningMethod(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask

    def foobar_unstructured(module, name):
        FooBarPruningMethod.apply(module, name)
        return module

    m = nn.Linear(3, 4)
    foobar_unstructured(m, name="bias")
    same(m.bias_mask, torch.tensor([0.0, 1.0, 0.0, 1.0]))
    old_mask = m.bias_mask
    foobar_unstructured(m, name="bias")                  # among the survivors: the first of (1, 3)
    same(m.bias_mask, torch.tensor([0.0, 0.0, 0.0, 1.0]))
    same(old_mask, torch.tensor([0.0, 1.0, 0.0, 1.0]))   # a new buffer: the old one keeps its values
    assert type(m) is nn.Linear and prune.is_pruned(m)
    same(m(torch.ones(2, 3))[:, 2], m.bias_orig[2] * 0 + (m.weight[2].sum()).expand(2))


def test_prune_returns_a_tensor_of_the_inputs_dtype(lib):
    torch, prune = lib.torch, lib.prune
    for dtype in (torch.float32, torch.float64):
        t = torch.tensor([[3.0, -1.0], [0.5, 2.0]], dtype=dtype)
        out = prune.L1Unstructured(amount=1).prune(t)
        assert isinstance(out, torch.Tensor) and out.dtype == dtype
        same(out, torch.tensor([[3.0, -1.0], [0.0, 2.0]], dtype=dtype))


def test_custom_structured_method_indexing_with_a_list_of_slices(lib):
    """torch's own structured methods build ``slc = [slice(None)] * ndim; slc[dim] = keep; mask[slc] = 1``:
    a list holding slices and tensors indexes as a tuple would (torch's legacy rule, kept here)."""
    torch, nn, prune = lib.torch, lib.nn, lib.prune

    class KeepFirstRows(prune.BasePruningMethod):
        PRUNING_TYPE = "structured"
        dim = 0

        def compute_mask(self, t, default_mask):
            keep = torch.arange(t.shape[0]) < 2
            mask = torch.zeros_like(t)
            slc = [slice(None)] * len(t.shape)
            slc[self.dim] = keep
            mask[slc] = 1
            return mask * default_mask.to(dtype=mask.dtype)

    m = nn.Linear(3, 4)
    KeepFirstRows.apply(m, "weight")
    same(m.weight_mask.sum(), torch.tensor(6.0))
    same(m.weight_mask[2:], torch.zeros(2, 3))
