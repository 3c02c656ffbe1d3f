"""`compare` end to end on the bundled MNIST subset: one epoch of a few batches per method."""
import json

import pytest

from tinycompress.compare import METHODS, pareto_front, run_compare

RESULT_KEYS = {"method", "description", "format", "accuracy", "model_accuracy", "bytes", "macs_float", "macs_binary",
               "macs_dense", "parameters", "nonzeros", "bits_per_weight", "ratio_vs_float32", "epochs",
               "train_seconds", "deployed_file", "report", "ratio_vs_dense", "pareto"}


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """No MNIST anywhere but the subset inside the package, and no folder named (a named folder that
    does not exist is an error, never a fallback: issue 14)."""
    monkeypatch.delenv("TINYCOMPRESS_DATA", raising=False)
    monkeypatch.chdir(tmp_path)                       # no ./data
    return None


def _run(out, data):
    return run_compare(epochs=1, seed=3, out_dir=str(out), data=data, max_steps=3, progress=False,
                       log=lambda message: None)


def test_compare_end_to_end(tmp_path, bundled):
    result = _run(tmp_path / "cmp", bundled)
    written = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert written == json.loads(json.dumps(result))
    assert set(written) == {"schema", "config", "results"}
    assert written["config"]["data"] == "bundled subset"
    assert [r["method"] for r in written["results"]] == list(METHODS)
    by_method = {r["method"]: r for r in written["results"]}
    for r in written["results"]:
        assert set(r) == RESULT_KEYS
        assert 0.0 <= r["accuracy"] <= 1.0
        assert r["bytes"] == r["report"]["total"]["bytes"]
        assert (tmp_path / "cmp" / r["deployed_file"]).exists()
    # each method in its own deployed form; the binarized one runs XNOR MACs, the others none
    assert {m: r["format"] for m, r in by_method.items()} == {"dense": "dense", "binarized": "packed",
                                                              "pruned": "sparse", "low-rank": "factorized"}
    assert by_method["binarized"]["macs_binary"] > 0
    assert all(by_method[m]["macs_binary"] == 0 for m in ("dense", "pruned", "low-rank"))
    # LeNet-300-100 in float32: 266,610 parameters · 4 bytes
    assert by_method["dense"]["bytes"] == 266_610 * 4 and by_method["dense"]["ratio_vs_dense"] == 1.0
    # pruned to >= 90% sparsity: at most 10% of the 266,200 weights (+ 410 biases) left
    assert by_method["pruned"]["nonzeros"] <= 26_620 + 410
    assert by_method["binarized"]["bytes"] < by_method["pruned"]["bytes"] < by_method["dense"]["bytes"]
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert table.startswith("| method |") and all(f"| {m} |" in table for m in METHODS)
    png = tmp_path / "cmp" / "compare.png"
    if _has_matplotlib():
        assert png.exists() and png.stat().st_size > 0


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def test_compare_is_deterministic_under_its_seed(tmp_path, bundled):
    a = _run(tmp_path / "a", bundled)["results"]
    b = _run(tmp_path / "b", bundled)["results"]
    for ra, rb in zip(a, b):
        assert (ra["accuracy"], ra["bytes"], ra["macs_float"]) == (rb["accuracy"], rb["bytes"], rb["macs_float"])


def test_pareto_front():
    # (bytes, accuracy): the second is dominated by the first (bigger and less accurate)
    assert pareto_front([(10, 0.9), (20, 0.8), (30, 0.95), (5, 0.5)]) == [True, False, True, True]
    assert pareto_front([(10, 0.9), (10, 0.9)]) == [True, True]          # ties dominate nothing


def test_curves_points_are_deployed_files_and_reproducible_by_seed(tmp_path, bundled):
    """A quick sweep of two families: every point measured on its own deployed file, the PTQ points quantize
    the dense run, and the same seed gives the same points."""
    from tinycompress.compare import QUICK_SWEEPS, run_curves
    from tinycompress.compress.deploy import load_deployed

    def run(out):
        return run_curves(epochs=1, seed=5, out_dir=str(out), max_steps=2, progress=False, quick=True,
                          families=["binarized", "quantized"], log=lambda message: None)
    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    points = a["points"]
    assert [(p["family"], p["knob"]) for p in points] == [("binarized", "2 binary layers"), ("quantized", "PTQ 8-bit"),
                                                          ("quantized", "QAT 4-bit")]
    assert len(points) == sum(len(QUICK_SWEEPS[f]) for f in ("binarized", "quantized"))
    for p in points:
        deployed = load_deployed(tmp_path / "a" / p["deployed_file"])
        assert p["bytes"] == deployed.nbytes and p["format"] == deployed.format
    by_knob = {p["knob"]: p for p in points}
    assert by_knob["PTQ 8-bit"]["epochs"] == 0 and by_knob["QAT 4-bit"]["epochs"] == 1
    assert by_knob["QAT 4-bit"]["bytes"] < by_knob["PTQ 8-bit"]["bytes"] < 266_610 * 4 / 3.9
    assert any(p["pareto"] for p in points)
    for pa, pb in zip(points, b["points"]):
        assert (pa["accuracy"], pa["bytes"], pa["knob"]) == (pb["accuracy"], pb["bytes"], pb["knob"])
    assert (tmp_path / "a" / "curves.md").read_text().startswith("| family |")
