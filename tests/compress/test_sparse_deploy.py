"""CSR and structurally shrunk deployments equal the masked/pruned model (eval mode)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.compress import prune
from tinycompress.compress.deploy import CSR, load_deployed, to_sparse
from tinycompress.compress.masked import MaskedLinear, gen_mask


def _reference(model, x):
    model.eval()
    with tc.no_grad():
        return model(tc.tensor(x)).array


def _mlp(sizes, bn):
    layers = []
    for k, (i, o) in enumerate(zip(sizes, sizes[1:])):
        layers.append(MaskedLinear(i, o, mask=gen_mask(o, i, 0.5)) if k % 2 else nn.Linear(i, o))
        if k < len(sizes) - 2:
            if bn:
                layers.append(nn.BatchNorm1d(o))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _randomise_bn(model, rng):
    for m in model.modules():
        if type(m).__name__.startswith("BatchNorm"):
            m.running_mean.array[...] = rng.standard_normal(m.running_mean.shape)
            m.running_var.array[...] = rng.uniform(0.5, 2, m.running_var.shape)
            m.weight.array[...] = rng.standard_normal(m.weight.shape)
            m.bias.array[...] = rng.standard_normal(m.bias.shape)


@settings(max_examples=15)
@given(sizes=st.lists(st.integers(2, 9), min_size=3, max_size=4), seed=st.integers(0, 2 ** 16),
       amount=st.floats(0, 0.95), rows=st.integers(0, 3), bn=st.booleans(), fmt=st.sampled_from(["auto", "csr"]),
       scipy_path=st.booleans())
def test_deployed_equals_masked_model(sizes, seed, amount, rows, bn, fmt, scipy_path):
    if bn and not hasattr(nn, "BatchNorm1d"):
        bn = False
    tc.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _mlp(sizes, bn)
    _randomise_bn(model, rng)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    prune.l1_unstructured(linears[0], "weight", amount)
    # node pruning among the rows the unstructured step left alive (asking for more raises, as torch does)
    alive_rows = int(linears[0].weight_mask.array.any(axis=1).sum())
    prune.ln_structured(linears[0], "weight", min(rows, max(alive_rows - 1, 0)), n=1, dim=0)
    prune.ln_structured(linears[-1], "weight", min(rows, sizes[-2] - 1), n=2, dim=1)   # unused inputs
    x = rng.standard_normal((5, sizes[0])).astype(np.float32)
    ref = _reference(model, x)
    dep = to_sparse(model, format=fmt, use_scipy=scipy_path)
    np.testing.assert_allclose(dep(x), ref, rtol=1e-4, atol=1e-5)
    assert dep(x).dtype == np.float32
    unshrunk = to_sparse(model, format=fmt, shrink=False)
    np.testing.assert_allclose(unshrunk(x), ref, rtol=1e-4, atol=1e-5)
    widths = [op.weight.shape[0] for op in dep.ops if hasattr(op, "weight")]
    full = [op.weight.shape[0] for op in unshrunk.ops if hasattr(op, "weight")]
    # layer 0's neurons that are removable: all-zero rows, or inputs the next weight never reads
    w0, w1 = prune.effective_weight(linears[0]), prune.effective_weight(linears[1])
    removable = int((~w0.any(1) | ~w1.any(0)).sum())
    assert widths[0] == (full[0] - removable if removable < full[0] else full[0])


def test_csr_round_trip_nbytes_and_int32():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 11)).astype(np.float32) * (rng.random((7, 11)) < 0.3)
    w[3] = 0                                                  # an empty row
    c = CSR.from_dense(w)
    np.testing.assert_array_equal(c.to_dense(), w)
    assert c.indices.dtype == np.int32 and c.indptr.dtype == np.int32
    assert c.nbytes == c.values.nbytes + c.indices.nbytes + c.indptr.nbytes
    x = rng.standard_normal((4, 11)).astype(np.float32)
    for use_scipy in (True, False):
        np.testing.assert_allclose(c.rmatmul_t(x, use_scipy), x @ w.T, rtol=1e-5, atol=1e-6)


def test_save_load_npz_no_pickle(tmp_path):
    tc.manual_seed(0)
    model = _mlp([6, 5, 4], bn=False)
    prune.l1_unstructured(model[0], "weight", 0.8)
    dep = to_sparse(model, format="csr")
    dep.save(tmp_path / "m.npz")
    back = load_deployed(tmp_path / "m.npz")
    x = np.random.default_rng(1).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_array_equal(back(x), dep(x))
    assert back.nbytes == dep.nbytes
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]          # no temp file left behind
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert "0.indices" in z


def test_unsupported_layer_is_named():
    class Odd(nn.Module):
        def forward(self, x):
            return x
    with pytest.raises(ValueError, match="'1'.*Odd"):
        to_sparse(nn.Sequential(nn.Linear(2, 2), Odd()))


def test_conv_deploy_if_available():
    if not hasattr(nn, "Conv2d"):
        pytest.skip("nn.Conv2d is not written yet")
    tc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 2, stride=2), nn.Flatten(),
                          nn.Linear(3 * 3 * 3, 5))
    prune.l1_unstructured(model[0], "weight", 0.6)
    prune.ln_structured(model[0], "weight", 2, n=2, dim=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 7)).astype(np.float32)
    dep = to_sparse(model, format="csr")
    np.testing.assert_allclose(dep(x), _reference(model, x), rtol=1e-4, atol=1e-5)
    assert dep.ops[0].weight.shape[0] == 2              # the two pruned filters are gone
