"""``tc.nn.utils`` against ``torch.nn.utils``: gradient clipping, parameters <-> vector, the prune path."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import tinycompress as tc
from strategies import seeds


def _twins(seed, dtype):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) * rng.uniform(0.1, 5) for s in ((3, 4), (4,), (2, 2, 2))]
    ours = [tc.nn.Parameter(tc.tensor(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    for p, q, a in zip(ours, theirs, arrays):
        g = rng.standard_normal(a.shape).astype(dtype)
        p.grad, q.grad = tc.tensor(g), torch.tensor(g)
    return ours, theirs


@given(seed=seeds(), norm_type=st.sampled_from([2.0, 1.0, 3.0, float("inf")]),
       max_norm=st.floats(0.01, 20.0), dtype=st.sampled_from([np.float32, np.float64]))
def test_clip_grad_norm_equals_torch(seed, norm_type, max_norm, dtype):
    ours, theirs = _twins(seed, dtype)
    total = tc.nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(total.item(), ref.item(), rtol=rtol)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=rtol, atol=1e-7)


@given(seed=seeds(), clip=st.floats(0.01, 3.0))
def test_clip_grad_value_equals_torch(seed, clip):
    ours, theirs = _twins(seed, np.float32)
    tc.nn.utils.clip_grad_value_(ours, clip)
    torch.nn.utils.clip_grad_value_(theirs, clip)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.array, q.grad.numpy())


def test_nonfinite_norm_error_as_torch():
    ours, theirs = _twins(0, np.float32)
    ours[0].grad.array[0, 0], theirs[0].grad[0, 0] = np.inf, float("inf")
    for lib, params in ((tc, ours), (torch, theirs)):
        with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
            lib.nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


def test_parameters_to_vector_and_back_as_torch():
    ours, theirs = _twins(3, np.float64)
    v, w = tc.nn.utils.parameters_to_vector(ours), torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(v.array, w.detach().numpy())
    for p in ours:
        p.grad = None
    (v * tc.arange(v.shape[0], dtype=tc.float64)).sum().backward()        # recorded, as torch's cat of views
    np.testing.assert_array_equal(ours[1].grad.array, np.arange(12, 16, dtype=np.float64))
    tc.nn.utils.vector_to_parameters(v * 2, ours)
    torch.nn.utils.vector_to_parameters(w * 2, theirs)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.array, q.detach().numpy())


def test_prune_is_importable_by_torchs_path():
    import tinycompress.nn.utils.prune as prune
    from tinycompress.compress import prune as library_prune
    assert tc.nn.utils.prune is prune and library_prune.l1_unstructured is prune.l1_unstructured
    m = prune.l1_unstructured(tc.nn.Linear(3, 2), "weight", amount=2)
    assert type(m) is tc.nn.Linear and prune.is_pruned(m)
