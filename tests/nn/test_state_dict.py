"""state_dict / load_state_dict: torch's keys and values, in-place loads, torch's error messages."""
import re

import numpy as np
import pytest
import torch

import tinycompress as tc
from tinycompress import nn
from tinycompress.utils import from_torch_state_dict, to_torch_state_dict


def _twins():
    ours = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    return ours, theirs


def test_torch_twin_round_trip_gives_equal_outputs():
    ours, theirs = _twins()
    ours.load_state_dict(from_torch_state_dict(theirs.state_dict()))
    sd = ours.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"] == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(sd[k], v.numpy())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(tc.tensor(x)).array, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    theirs2 = _twins()[1]
    theirs2.load_state_dict(to_torch_state_dict(sd))
    assert all(torch.equal(a, b) for a, b in zip(theirs2.state_dict().values(), theirs.state_dict().values()))


def test_state_dict_is_a_copy_and_load_is_in_place():
    ours, _ = _twins()
    weight_array = ours[0].weight.array
    sd = ours.state_dict()
    sd["0.weight"][...] = 7.0
    assert not np.any(weight_array == 7.0)                        # state_dict gives copies
    ours.load_state_dict({k: tc.tensor(v) for k, v in sd.items()})  # Tensors accepted too
    assert ours[0].weight.array is weight_array and np.all(weight_array == 7.0)
    kept = ours.state_dict(keep_vars=True)
    assert kept["0.weight"] is ours[0].weight
    assert list(ours.state_dict(prefix="model.")) [0] == "model.0.weight"


def test_non_persistent_buffers_are_excluded():
    m = nn.Module()
    m.register_buffer("kept", tc.zeros(2))
    m.register_buffer("gone", np.ones(2, np.float32), persistent=False)
    assert list(m.state_dict()) == ["kept"] and [n for n, _ in m.named_buffers()] == ["kept", "gone"]


def test_load_errors_match_torch_messages():
    ours, theirs = _twins()
    bad = ours.state_dict()
    del bad["0.bias"]
    bad["extra"] = np.zeros(1, np.float32)
    bad["2.weight"] = np.zeros((2, 4), np.float32)
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(bad)
    with pytest.raises(RuntimeError) as theirs_err:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()})
    # identical text, except that shapes print as tuples (tinycompress has no torch.Size)
    torch_text = re.sub(r"torch\.Size\(\[([^\]]*)\]\)",
                        lambda m: str(tuple(int(v) for v in m.group(1).split(", ") if v)), str(theirs_err.value))
    assert str(ours_err.value) == torch_text
    assert "Missing key(s)" in str(ours_err.value) and '"0.bias"' in str(ours_err.value)


def test_non_strict_returns_missing_and_unexpected():
    ours, theirs = _twins()
    sd = ours.state_dict()
    del sd["2.bias"]
    sd["junk"] = np.zeros(3, np.float32)
    sd["0.weight"] = sd["0.weight"] + 1
    result = ours.load_state_dict(sd, strict=False)
    theirs_result = theirs.load_state_dict(to_torch_state_dict(sd), strict=False)
    assert result == (theirs_result.missing_keys, theirs_result.unexpected_keys) == (["2.bias"], ["junk"])
    assert result.missing_keys == ["2.bias"]
    np.testing.assert_array_equal(ours[0].weight.array, sd["0.weight"])
    sd["0.bias"] = np.zeros(5, np.float32)
    with pytest.raises(RuntimeError, match="size mismatch for 0.bias"):
        ours.load_state_dict(sd, strict=False)
