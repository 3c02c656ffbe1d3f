"""compress.report against hand-counted small models of every kind.

Every expected figure is worked out in the test from the layer's shape and the storage rules
(float32 values, int32 CSR indices, 64-bit words of packed bits), never taken from the code under test.
"""
import json

import numpy as np
import pytest

import tinycompress as tc
from tinycompress import models, nn
from tinycompress.compress import Report, report
from tinycompress.compress import prune
from tinycompress.compress.binary import BinarizedConv2d, BinarizedLinear
from tinycompress.compress.deploy import export, load_deployed
from tinycompress.compress.lowrank import LinearSVD, truncate
from tinycompress.compress.masked import MaskedLinear
from tinycompress import cli

ROW_KEYS = {"layer", "type", "kind", "shape", "parameters", "nonzeros", "bits_per_weight", "bytes", "dense_bytes",
            "ratio", "macs_dense", "macs_float", "macs_binary", "rank", "max_rank", "energy"}


def _only(rep: Report) -> dict:
    assert len(rep.rows) == 1
    return rep.rows[0]


def _masked_3x4(kept: int | None = None, mask=None) -> MaskedLinear:
    tc.manual_seed(0)
    layer = MaskedLinear(4, 3)                          # weight (out 3, in 4)
    layer.weight.array[...] = 0.5
    layer.bias.array[...] = [1.0, 2.0, 3.0]
    if mask is None:
        mask = np.zeros(12, np.float32)
        mask[:kept] = 1
    layer.set_mask(np.reshape(mask, (3, 4)))
    return layer


def test_masked_3x4_stored_as_csr_when_smaller():
    row = _only(report(nn.Sequential(_masked_3x4(kept=2)), (1, 4)))
    # CSR: 2 values·4 B + 2 column indices·4 B + (3 rows + 1) pointers·4 B = 8 + 8 + 16 = 32 < dense 12·4 = 48
    assert row["kind"] == "masked"
    assert row["shape"] == [3, 4]
    assert row["parameters"] == 12 + 3
    assert row["nonzeros"] == 2 + 3
    assert row["bytes"] == 32 + 3 * 4
    assert row["dense_bytes"] == 15 * 4
    assert row["ratio"] == pytest.approx(60 / 44)
    assert row["bits_per_weight"] == pytest.approx(8 * 32 / 12)
    assert (row["macs_dense"], row["macs_float"], row["macs_binary"]) == (12, 2, 0)
    assert row["rank"] is None and row["energy"] is None


def test_masked_3x4_stays_dense_when_csr_is_not_smaller():
    row = _only(report(nn.Sequential(_masked_3x4(kept=5)), (1, 4)))
    # CSR would be 5·4 + 5·4 + 4·4 = 56 >= 48: stored dense, every weight multiplied
    assert row["bytes"] == 48 + 12
    assert row["nonzeros"] == 5 + 3
    assert row["bits_per_weight"] == pytest.approx(32.0)
    assert (row["macs_dense"], row["macs_float"]) == (12, 12)


def test_pruned_linear_is_masked_and_counts_its_kept_weights():
    tc.manual_seed(1)
    layer = nn.Linear(4, 3, bias=False)
    layer.weight.array[...] = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    prune.custom_from_mask(layer, "weight", np.eye(3, 4, dtype=np.float32))     # keeps 3 of 12
    row = _only(report(nn.Sequential(layer), (2, 4)))                           # a batch of 2: per-sample MACs
    assert row["kind"] == "masked"
    assert row["nonzeros"] == 3
    assert row["bytes"] == 3 * 4 + 3 * 4 + 4 * 4                                # CSR 40 < 48
    assert (row["macs_dense"], row["macs_float"]) == (12, 3)


def test_all_zero_rows_are_shrunk_away():
    tc.manual_seed(10)
    model = nn.Sequential(_masked_3x4(kept=2), nn.ReLU(), nn.Linear(3, 2))
    first, second = report(model, (1, 4)).rows
    # rows 1 and 2 of the mask are empty: those neurons output relu(bias), a constant folded into the next
    # bias, and are removed. Left: a 1×4 matrix with 2 non-zeros (CSR 2·8 + 2·4 = 24 >= dense 16) + 1 bias,
    # and the next layer 2×1 + its 2 biases.
    assert first["bytes"] == 16 + 4 and first["nonzeros"] == 2 + 1
    assert (first["macs_dense"], first["macs_float"]) == (12, 4)
    assert first["parameters"] == 15                                   # the layer as built
    assert second["bytes"] == 2 * 4 + 2 * 4 and second["macs_float"] == 2
    assert second["macs_dense"] == 6


def test_binarized_linear_packed_bits():
    tc.manual_seed(2)
    model = nn.Sequential(BinarizedLinear(100, 4))                               # binary input and weights
    row = _only(report(model, (1, 100)))
    # 4 rows × ceil(100 / 64) = 2 words × 8 B = 64 B of bits
    assert row["kind"] == "binary"
    assert row["bytes"] == 64
    assert row["parameters"] == 400 and row["nonzeros"] == 400
    assert row["bits_per_weight"] == pytest.approx(8 * 64 / 400)
    assert (row["macs_dense"], row["macs_float"], row["macs_binary"]) == (400, 0, 400)


def test_binarized_conv_with_per_channel_scales():
    tc.manual_seed(3)
    conv = BinarizedConv2d(2, 3, 3, padding=1, bias=False, scale="channel")
    row = _only(report(conv, (1, 2, 5, 5)))
    # 3 filters × 3·3 taps, each tap's 2 input channels in one 8-bit word = 27 B, + 3 float32 scales = 12 B
    assert row["kind"] == "binary"
    assert row["shape"] == [3, 2, 3, 3]
    assert row["bytes"] == 27 + 12
    assert row["parameters"] == 54 and row["nonzeros"] == 54
    # padding 1 keeps 5×5 outputs: 25 positions × 54 XNOR MACs; one α multiply per output (3·25)
    assert row["macs_dense"] == 25 * 54
    assert row["macs_binary"] == 25 * 54
    assert row["macs_float"] == 3 * 25
    assert row["bits_per_weight"] == pytest.approx(8 * 39 / 54)


def test_ternary_conv_counts_two_bits_and_its_zeros():
    conv = BinarizedConv2d(2, 1, (1, 2), bias=False, weight_quant="ternary", scale="channel")
    conv.weight.array[...] = np.array([[[[1.0, 0.2]], [[-1.0, 0.2]]]], np.float32)
    # centred over the input channels: position 0 → (1, -1), position 1 → (0, 0); |w_c| mean 0.5,
    # Δ = 0.35 keeps the two ±1 entries: 2 non-zeros of 4
    row = _only(report(conv, (1, 2, 3, 4)))                                       # output 3 × 3
    assert row["kind"] == "ternary"
    assert row["nonzeros"] == 2
    assert row["bytes"] == 2 + 2 + 4          # sign and non-zero bits: 2 taps × one 8-bit word each, + one scale
    assert row["macs_binary"] == 9 * 4 and row["macs_float"] == 9


def test_rank2_factorisation():
    tc.manual_seed(4)
    model = nn.Sequential(LinearSVD(6, 5, rank=2))                                 # W 5×6 = U (5×2) s V (6×2)ᵀ
    row = _only(report(model, (1, 6)))
    # r(m + n + 1) = 24 < 30: deployed as (V s)ᵀ 2×6 and U 5×2 → 22 floats, + 5 bias
    assert row["kind"] == "low-rank"
    assert row["parameters"] == 30 + 5
    assert row["bytes"] == (12 + 10) * 4 + 5 * 4
    assert row["nonzeros"] == 22 + 5
    assert row["bits_per_weight"] == pytest.approx(8 * 88 / 30)
    assert (row["macs_dense"], row["macs_float"]) == (30, 2 * 6 + 5 * 2)
    assert (row["rank"], row["max_rank"]) == (2, 5)


def test_truncated_rank_and_energy():
    tc.manual_seed(5)
    layer = LinearSVD(6, 5)                                                        # full rank 5, U and V orthonormal
    layer.s.array[...] = [3.0, 2.0, 1.0, 0.5, 0.1]
    model = nn.Sequential(layer)
    summary = truncate(model, 0.9)
    # s² = 9, 4, 1, 0.25, 0.01 (Σ 14.26): 9/14.26 = 0.63 < 0.9 <= 13/14.26 = 0.912 → rank 2
    row = _only(report(model, (1, 6), truncation=summary))
    assert (row["rank"], row["max_rank"]) == (2, 5)
    assert row["energy"] == pytest.approx(13 / 14.26, rel=1e-5)
    deployed_row = _only(report(export(model, meta={"truncation": summary}), (1, 6)))
    assert deployed_row["energy"] == pytest.approx(13 / 14.26, rel=1e-5)
    assert deployed_row["rank"] == 2 and deployed_row["bytes"] == row["bytes"]


def _conv_bn_net():
    tc.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(32, 3))
    model.train()
    model(tc.randn(4, 1, 4, 4))                                                    # non-trivial running statistics
    return model.eval()


def test_dense_conv_network():
    rep = report(_conv_bn_net(), (1, 1, 4, 4))
    conv, bn, fc = rep.rows
    assert conv["kind"] == "dense" and conv["bytes"] == (18 + 2) * 4             # CSR 18·8 + 3·4 = 156 > 72
    assert conv["macs_dense"] == conv["macs_float"] == 16 * 18                    # 4×4 outputs (padding 1)
    assert bn["kind"] == "norm" and bn["parameters"] == 4 and bn["bytes"] == 2 * 2 * 4   # folded scale + shift
    assert bn["nonzeros"] is None and bn["bits_per_weight"] is None
    assert fc["bytes"] == (96 + 3) * 4 and fc["macs_float"] == 96
    total = rep.total
    assert total["parameters"] == 20 + 4 + 99
    assert total["bytes"] == 80 + 16 + 396
    assert total["ratio"] == pytest.approx(1.0)
    assert total["macs_float"] == 288 + 96 and total["macs_binary"] == 0


def _bnn():
    tc.manual_seed(7)
    model = nn.Sequential(BinarizedLinear(70, 8, binarize_input=False), nn.BatchNorm1d(8), BinarizedLinear(8, 6),
                          nn.BatchNorm1d(6), BinarizedLinear(6, 5), nn.BatchNorm1d(5), nn.Linear(5, 3))
    model.train()
    model(tc.randn(16, 70))
    return model.eval()


def test_packed_bnn_by_hand():
    rep = report(_bnn(), (1, 70))
    assert rep.format == "packed"
    expected_bytes = [
        8 * 2 * 8,              # 8 rows × ceil(70/64) = 2 words of 64 bits
        8 * 4 + 8 * 1,          # BN + sign after a float-input layer: float32 threshold + bool flip
        6 * 1,                  # 6 rows × one 8-bit word (8 inputs)
        6 * 4 + 6 * 1,          # between two binary-input layers: int32 threshold + bool flip
        5 * 1,                  # 5 rows × one 8-bit word (6 inputs)
        5 * 4 * 2,              # before the float Linear: a float BatchNorm, folded scale + shift
        15 * 4 + 3 * 4,         # float Linear 5→3
    ]
    assert [r["bytes"] for r in rep.rows] == expected_bytes
    assert [r["kind"] for r in rep.rows] == ["binary", "norm", "binary", "norm", "binary", "norm", "dense"]
    assert rep.total["bytes"] == 321
    assert rep.total["parameters"] == 560 + 16 + 48 + 12 + 30 + 10 + 18
    assert rep.total["macs_binary"] == 48 + 30                        # the binary-input layers
    assert rep.total["macs_float"] == 560 + 15                        # float input × ±1, and the float Linear
    assert rep.total["ratio"] == pytest.approx(4 * 694 / 321)


@pytest.mark.parametrize("build, shape, shrunk", [
    (_bnn, (1, 70), False),
    (_conv_bn_net, (1, 1, 4, 4), False),
    (lambda: nn.Sequential(_masked_3x4(mask=np.eye(3, 4)), nn.ReLU(), nn.Linear(3, 2)), (1, 4), False),
    (lambda: nn.Sequential(_masked_3x4(kept=2), nn.ReLU(), nn.Linear(3, 2)), (1, 4), True),
    (lambda: (tc.manual_seed(8), nn.Sequential(LinearSVD(12, 10, rank=3), nn.ReLU(), nn.Linear(10, 4)))[1],
     (1, 12), False),
])
def test_deployed_report_equals_model_report(build, shape, shrunk, tmp_path):
    model = build()
    from_model = report(model, shape)
    deployed = export(model)
    deployed.save(tmp_path / "m.npz")
    for form in (deployed, load_deployed(tmp_path / "m.npz")):
        from_deployed = report(form, shape)
        assert from_deployed.source == "deployed"
        assert from_deployed.total["bytes"] == from_model.total["bytes"] == form.nbytes
        assert [r["bytes"] for r in from_deployed.rows] == [r["bytes"] for r in from_model.rows]
        for key in ("macs_float", "macs_binary", "nonzeros"):
            assert from_deployed.total[key] == from_model.total[key], key
        # a shrunk deployed model is a smaller float model: its own dense figures are smaller
        for key in ("parameters", "macs_dense", "dense_bytes"):
            assert (from_deployed.total[key] < from_model.total[key]) if shrunk else (
                from_deployed.total[key] == from_model.total[key]), key


def test_json_schema_is_stable():
    rep = report(_conv_bn_net(), (1, 1, 4, 4))
    d = json.loads(rep.to_json())
    assert set(d) == {"schema", "source", "format", "input_shape", "layers", "total"}
    assert d["schema"] == "tinycompress.report/1"
    assert d["input_shape"] == [1, 1, 4, 4] and d["source"] == "model" and d["format"] == "dense"
    assert all(set(row) == ROW_KEYS for row in d["layers"])
    assert set(d["total"]) == ROW_KEYS
    assert d == rep.to_dict()
    text = rep.table()
    assert "total" in text and "norm" in text and f"{d['total']['bytes']:,}" in text


def test_report_command_checkpoint_and_packed(tmp_path, capsys):
    tc.manual_seed(9)
    model = models.build("lenet300_100")
    config = {"model": "lenet300_100", "recipe": models.recipe("lenet300_100").to_dict()}
    tc.save({"model": model.state_dict(), "config": json.dumps(config)}, tmp_path / "last.npz")
    assert cli.main(["report", "--checkpoint", str(tmp_path / "last.npz"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # LeNet-300-100: (784·300 + 300 + 300·100 + 100 + 100·10 + 10) float32 = 266,610 · 4 bytes
    assert d["total"]["bytes"] == 266_610 * 4
    assert d["input_shape"] == [1, 784]

    prune.prune_to_sparsity(model, 0.9)                  # weight_orig / weight_mask in the state dict
    tc.save({"model": model.state_dict(), "config": json.dumps(config)}, tmp_path / "pruned.npz")
    assert cli.main(["report", "--checkpoint", str(tmp_path / "pruned.npz"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # 10% of each layer kept: 23,520 + 3,000 + 100 weights and 410 biases at most (fewer once the deployed
    # form drops neurons no kept weight reads); the layers as built are unchanged
    assert 0 < d["total"]["nonzeros"] <= 23_520 + 3_000 + 100 + 410
    assert d["total"]["parameters"] == 266_610 and d["total"]["dense_bytes"] == 266_610 * 4
    assert [r["kind"] for r in d["layers"]] == ["masked"] * 3

    export(_bnn(), meta={"recipe": {"input": "flat"}}).save(tmp_path / "bnn.npz")
    assert cli.main(["report", "--packed", str(tmp_path / "bnn.npz"), "--input-shape", "1,70"]) == 0
    out = capsys.readouterr().out
    assert "deployed model (packed form)" in out and "321" in out
