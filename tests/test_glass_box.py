"""The glass box: to_dot with values and gradients, trace() of backprop, the GradientFlow callback.
What they show is checked against torch (gradients) or against quantities computed here by hand."""
import io
import json
import os
import re

import numpy as np
import pytest
import torch

import tinycompress as tc
from tinycompress.callbacks import GradientFlow
from tinycompress.train import Trainer


def _chain(lib, x, w):
    """y = Σ tanh(x @ w) · c with c a fixed weighting, in either library; returns (y, h = x @ w, t = tanh(h))."""
    h = x @ w
    t = h.tanh()
    c = lib.tensor(np.linspace(-1, 1, int(np.prod(tuple(t.shape)))).reshape(tuple(t.shape)))
    return (t * c).sum(), h, t


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 3)), rng.standard_normal((3, 4))


# ----------------------------------------------------------------------------- to_dot
def test_to_dot_shows_values_saved_tensors_formulas_and_torchs_gradients(arrays):
    xa, wa = arrays
    x, w = tc.tensor(xa, requires_grad=True), tc.tensor(wa, requires_grad=True)
    y, _, _ = _chain(tc, x, w)
    before = tc.autograd.to_dot(y, show_values=True, show_grads=True)
    assert "grad:" not in before                                   # no backward yet
    assert "TanhBackward0" in before and "d tanh(x)" in before     # node name and its formula line
    assert "saved[0]: (2, 4)" in before                            # tanh saved its (2, 4) output
    assert f"mean {xa.mean():.4g}, std {xa.std():.4g}, range [{xa.min():.4g}, {xa.max():.4g}]" in before
    y.backward(retain_graph=True)
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    _chain(torch, tx, tw)[0].backward()
    after = tc.autograd.to_dot(y, show_values=True, show_grads=True)
    for g in (tx.grad, tw.grad):
        assert f"grad: norm {np.linalg.norm(g.numpy()):.4g}" in after
    assert after.startswith('digraph "graph" {') and after.rstrip().endswith("}")


def test_to_dot_draws_traced_gradients_at_every_node_as_torch_computes_them(arrays):
    xa, wa = arrays
    x, w = tc.tensor(xa, requires_grad=True), tc.tensor(wa, requires_grad=True)
    y, _, _ = _chain(tc, x, w)
    with tc.autograd.trace(print_steps=False):
        y.backward(retain_graph=True)
    dot = tc.autograd.to_dot(y, show_grads=True)
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    ty, th, tt = _chain(torch, tx, tw)
    th.retain_grad()
    tt.retain_grad()
    ty.backward()
    _, h, t = _chain(tc, x, w)                                     # the nodes' names, whatever they are
    matmul = re.search(rf'label="{h.grad_fn.name()}[^"]*grad out: norm ([0-9.e+-]+)', dot)
    tanh = re.search(rf'label="{t.grad_fn.name()}[^"]*grad out: norm ([0-9.e+-]+)', dot)
    assert float(matmul.group(1)) == pytest.approx(np.linalg.norm(th.grad.numpy()), rel=1e-3)
    assert float(tanh.group(1)) == pytest.approx(np.linalg.norm(tt.grad.numpy()), rel=1e-3)


def test_to_dot_draws_the_graph_of_a_gradient(arrays):
    x = tc.tensor(arrays[0], requires_grad=True)
    (g,) = tc.autograd.grad((x.tanh() ** 2).sum(), x, create_graph=True)
    dot = tc.autograd.to_dot(g, show_values=True)
    assert dot.count("shape=ellipse") >= 3 and "TanhBackward0" in dot


def test_to_dot_renders_svg_with_graphviz_and_dot_text_without(tmp_path, monkeypatch, arrays):
    y = _chain(tc, tc.tensor(arrays[0], requires_grad=True), tc.tensor(arrays[1]))[0]
    import shutil
    if shutil.which("dot"):
        written = tc.autograd.graph.render(tc.autograd.to_dot(y), str(tmp_path / "g.svg"))
        assert written.endswith(".svg") and "<svg" in open(written).read()
    monkeypatch.setenv("PATH", "")
    text = tc.autograd.to_dot(y, path=str(tmp_path / "h.svg"))
    assert open(tmp_path / "h.dot").read().strip() == text


# ----------------------------------------------------------------------------- trace
def test_trace_prints_each_step_in_order_with_torchs_gradient_norms(arrays):
    xa, wa = arrays
    x, w = tc.tensor(xa, requires_grad=True), tc.tensor(wa, requires_grad=True)
    y, _, _ = _chain(tc, x, w)
    out = io.StringIO()
    with tc.autograd.trace(file=out) as steps:
        y.backward()
    chain, node = [], y.grad_fn                                    # the graph's nodes, output to input
    while node is not None:
        chain.append(node.name())
        node = next((n for n, _ in node.next_functions if n is not None and n.name() != "AccumulateGrad"), None)
    assert [s.name for s in steps] == chain and len(chain) == 4     # sum, mul, tanh, matmul: in backward's order
    assert [s.index for s in steps] == [1, 2, 3, 4]
    assert out.getvalue().rstrip("\n") == str(steps) and "d tanh(x) = g·(1-tanh²(x))" in out.getvalue()
    tx, tw = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    _chain(torch, tx, tw)[0].backward()
    last = steps[-1]
    assert [g[2] for g in last.grad_inputs] == ["leaf (2, 3)", "leaf (3, 4)"]
    assert last.grad_inputs[0][1] == pytest.approx(np.linalg.norm(tx.grad.numpy()), rel=1e-12)
    assert last.grad_inputs[1][1] == pytest.approx(np.linalg.norm(tw.grad.numpy()), rel=1e-12)
    assert steps[0].grad_outputs == [((), 1.0)]                   # the implicit seed of a scalar backward


def test_no_trace_no_records(arrays):
    x = tc.tensor(arrays[0], requires_grad=True)
    with tc.autograd.trace(print_steps=False) as steps:
        pass
    y = x.exp().sum()
    y.backward(retain_graph=True)
    assert steps == [] and not hasattr(y.grad_fn, "_traced_grads")


# ----------------------------------------------------------------------------- GradientFlow
def _loader(n, d, classes, batch, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return tc.utils.data.DataLoader(tc.utils.data.TensorDataset(tc.tensor(x), tc.tensor(y)), batch_size=batch), x, y


def test_gradient_flow_records_torchs_gradients_and_the_sgd_update():
    """One step per epoch, plain SGD: |ΔW| = lr·|∇W|, and |∇W| and |∂L/∂logits| equal torch's."""
    tc.manual_seed(0)
    model = tc.nn.Sequential(tc.nn.Linear(5, 4), tc.nn.ReLU(), tc.nn.Linear(4, 3))
    twin = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)).double()
    twin.load_state_dict({k: torch.from_numpy(np.asarray(getattr(v, "array", v), np.float64)) for k, v in model.state_dict().items()})
    loader, x, y = _loader(8, 5, 3, 8)
    flow = GradientFlow()
    Trainer(model, tc.optim.SGD(model.parameters(), lr=0.1), loader, epochs=2, callbacks=[flow],
            progress=False, log=lambda m: None).fit()
    assert [r["epoch"] for r in flow.history] == [1, 2] and set(flow.history[0]["layers"]) == {"0", "2"}
    first = flow.history[0]["layers"]
    out = twin(torch.tensor(x, dtype=torch.float64))
    out.retain_grad()
    torch.nn.functional.cross_entropy(out, torch.tensor(y)).backward()
    for name in ("0", "2"):
        layer = dict(twin.named_children())[name]
        grad = torch.sqrt(layer.weight.grad.norm() ** 2 + layer.bias.grad.norm() ** 2).item()
        assert first[name]["grad"] == pytest.approx(grad, rel=1e-4)
        assert first[name]["update"] == pytest.approx(0.1 * first[name]["grad"], rel=1e-4)
    assert first["2"]["output_grad"] == pytest.approx(out.grad.norm().item(), rel=1e-4)
    assert "flip" not in first["0"]


def test_gradient_flow_counts_latent_weight_sign_flips_and_survives_a_checkpoint():
    from tinycompress.compress.binary import BINARIZED_LAYERS, BinarizedLinear
    tc.manual_seed(1)
    model = tc.nn.Sequential(BinarizedLinear(6, 5), tc.nn.Linear(5, 2))
    loader, _, _ = _loader(32, 6, 2, 8)
    start = model[0].weight.array.copy()
    flow = GradientFlow(flip_layers=BINARIZED_LAYERS)
    metrics = Trainer(model, tc.optim.SGD(model.parameters(), lr=0.5), loader, epochs=1, callbacks=[flow],
                      progress=False, log=lambda m: None).fit()
    flipped = np.mean((model[0].weight.array >= 0) != (start >= 0))
    assert flipped > 0                                              # lr 0.5: some weights cross zero
    assert flow.history[0]["layers"]["0"]["flip"] == pytest.approx(flipped)
    assert metrics[0]["flip_ratio"] == pytest.approx(flipped)
    assert "flip" not in flow.history[0]["layers"]["1"]
    again = GradientFlow()
    again.load_state_dict(json.loads(json.dumps(flow.state_dict())))
    assert again.history == flow.history


def test_plot_curves_draws_the_gradient_flow_beside_the_curves(tmp_path):
    pytest.importorskip("matplotlib")
    from tinycompress.plots import plot_curves
    rows = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.1 / e, "train_acc": 0.5, "test_acc": 0.5} for e in (1, 2)]
    flow = [{"epoch": e, "layers": {"0": {"grad": 0.1 * e, "update": 0.01, "weight": 1.0, "output_grad": 0.2}}}
            for e in (1, 2)]
    path = plot_curves(rows, str(tmp_path / "c.png"), grad_flow=flow)
    assert os.path.getsize(path) > 0


@pytest.mark.slow                      # three CLI trainings with plots: `pytest -m slow` runs it
def test_train_plot_keeps_the_gradient_flow_of_every_epoch_through_a_resume(tmp_path):
    """--plot adds GradientFlow before the checkpoint: a run resumed after epoch 1 has both epochs' rows, the
    same flip ratios in its metrics as an uninterrupted run, and (--plot or not) the same training."""
    pytest.importorskip("matplotlib")
    from runs import read_metrics, run_cli
    common = ["train", "--model", "bnn_mlp", "--max-steps", "2", "--test-batch-size", "2000", "--plot"]
    run_cli(common + ["--epochs", "2", "--out", str(tmp_path / "full")])
    run_cli(common + ["--epochs", "1", "--out", str(tmp_path / "split")])
    run_cli(["train", "--epochs", "2", "--out", str(tmp_path / "split"), "--resume", "--max-steps", "2", "--plot"])
    full, split = (tc.load(tmp_path / name / "last.npz") for name in ("full", "split"))
    rows = [json.loads(str(next(c for c in s["callbacks"] if "history" in c)["history"])) for s in (full, split)]
    assert [r["epoch"] for r in rows[1]] == [1, 2] and rows[0] == rows[1]
    assert read_metrics(tmp_path / "split") == read_metrics(tmp_path / "full")
    assert all(0 < row["flip_ratio"] < 1 for row in read_metrics(tmp_path / "full"))
    assert (tmp_path / "split" / "curves.png").exists()
