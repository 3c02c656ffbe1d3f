"""tc.optim against torch.optim: whole trajectories, state dicts, zero_grad, bad arguments.

Every optimizer runs beside its torch twin from the same initial parameters, through the same
random gradients (some parameters skipping some steps), over hypothesis-drawn hyper-parameters
and several parameter groups with different learning rates; parameters are compared after every
step (float32: float32 tolerance; float64: tight), and the final per-parameter state too.
"""
import contextlib
import math
import os
import tempfile

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import tinycompress as tc
from tinycompress import optim
from tinycompress.optim import optimizer as optimizer_module
from strategies import OPTIMIZER_KWARGS, optim_problems

NAMES = list(OPTIMIZER_KWARGS)
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def make_pair(name, problem, kwargs, dtype):
    """Our optimizer and torch's over the same parameter groups; returns (ours, theirs, opt, topt)."""
    ours = [[tc.tensor(a.astype(dtype), requires_grad=True) for a in g] for g in problem.init]
    theirs = [[torch.tensor(a.astype(dtype), requires_grad=True) for a in g] for g in problem.init]
    opt = getattr(optim, name)([{"params": g, "lr": lr} for g, lr in zip(ours, problem.lrs)], **kwargs)
    topt = getattr(torch.optim, name)([{"params": g, "lr": lr} for g, lr in zip(theirs, problem.lrs)], **kwargs)
    return sum(ours, []), sum(theirs, []), opt, topt


def set_grads(ours, theirs, grads, dtype):
    for p, tp, g in zip(ours, theirs, grads):
        p.grad = None if g is None else tc.tensor(g.astype(dtype))
        tp.grad = None if g is None else torch.tensor(g.astype(dtype))


def assert_params_close(ours, theirs, dtype, where=""):
    for i, (p, tp) in enumerate(zip(ours, theirs)):
        assert p.array.dtype == dtype, f"param {i} became {p.array.dtype}{where}"
        np.testing.assert_allclose(p.array, tp.detach().numpy(), **TOL[dtype], err_msg=f"param {i}{where}")


def assert_state_matches_torch(opt, topt, dtype):
    """Same state entries as torch, same values (torch's float 'step' tensor vs our int)."""
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for index, tstate in tsd["state"].items():
        state = sd["state"][index]
        assert sorted(state) == sorted(k for k, v in tstate.items() if v is not None)
        for key, tv in tstate.items():
            if key == "step":
                assert state[key] == int(tv.item())
            elif key == "mu_product":           # NAdam's: a float32 scalar tensor in torch, a float here
                assert isinstance(state[key], float) and state[key] == tv.item(), (state[key], tv.item())
            elif tv is not None:
                assert state[key].dtype == dtype, f"state {key} is {state[key].dtype}"
                np.testing.assert_allclose(state[key], tv.numpy(), **TOL[dtype], err_msg=f"state {index} {key}")
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        for key, value in g.items():
            assert key in tg, f"group entry {key!r} unknown to torch"
            assert value == tg[key] or (isinstance(value, tuple) and list(value) == list(tg[key])), key


@contextlib.contextmanager
def block_size(n):
    """Run updates in blocks of ``n`` elements (the default only blocks arrays above 32768)."""
    saved = optimizer_module.BLOCK
    optimizer_module.BLOCK = n
    try:
        yield
    finally:
        optimizer_module.BLOCK = saved


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_trajectory_matches_torch(name, dtype, data):
    problem = data.draw(optim_problems(), label="problem")
    kwargs = data.draw(OPTIMIZER_KWARGS[name](), label="kwargs")
    block = data.draw(st.sampled_from([optimizer_module.BLOCK, 1, 5]), label="block")
    with block_size(block):
        check_trajectory(name, dtype, problem, kwargs)


def check_trajectory(name, dtype, problem, kwargs):
    ours, theirs, opt, topt = make_pair(name, problem, kwargs, dtype)
    arrays = [p.array for p in ours]
    for k, grads in enumerate(problem.grads):
        set_grads(ours, theirs, grads, dtype)
        before = [None if p.grad is None else p.grad.array.copy() for p in ours]
        opt.step()
        topt.step()
        assert_params_close(ours, theirs, dtype, where=f" after step {k + 1}")
        for p, g in zip(ours, before):         # the gradients are read, never written
            if g is not None:
                np.testing.assert_array_equal(p.grad.array, g)
    assert all(p.array is a for p, a in zip(ours, arrays)), "updates must be in place on p.array"
    assert all(isinstance(key, tc.Tensor) for key in opt.state), "state is keyed by the parameters themselves"
    assert_state_matches_torch(opt, topt, dtype)


LAYOUTS = ["C", "F", "strided", "mixed"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", NAMES)
def test_large_and_non_contiguous_parameters_match_torch(name, layout):
    """Parameters above the block size, stored C- or F-ordered, strided, or with a gradient in
    another order than the parameter (processed whole): all give torch's trajectory."""
    rng = np.random.default_rng(0)
    shape = (150, 300)                                   # 45000 elements > BLOCK: several blocks
    base = rng.standard_normal((300, 150) if layout in ("F", "mixed") else (150, 600)).astype(np.float32)
    data = {"C": base[:, :300].copy(), "F": base.T, "strided": base[:, ::2], "mixed": base.T}[layout]
    assert data.shape == shape
    p = tc.Tensor(data, requires_grad=True)              # keeps the layout (no copy)
    assert np.shares_memory(p.array, base) or layout == "C"
    tp = torch.tensor(np.ascontiguousarray(data), requires_grad=True)
    kwargs = {"SGD": dict(momentum=0.9, dampening=0.1, weight_decay=1e-3), "Adam": dict(amsgrad=True, weight_decay=0.1),
              "AdamW": {}, "Adamax": dict(weight_decay=0.01), "RMSprop": dict(momentum=0.5, centered=True),
              "Adadelta": dict(rho=0.5, weight_decay=0.01), "Adagrad": dict(lr_decay=0.1, initial_accumulator_value=0.2),
              "NAdam": dict(weight_decay=0.1, decoupled_weight_decay=True),
              "RAdam": dict(betas=(0.5, 0.6), weight_decay=0.01)}[name]
    opt = getattr(optim, name)([p], lr=0.01, **kwargs)
    topt = getattr(torch.optim, name)([tp], lr=0.01, **kwargs)
    for _ in range(3):
        g = rng.standard_normal(shape).astype(np.float32)
        g = np.asfortranarray(g) if layout == "F" else g
        p.grad, tp.grad = tc.Tensor(g), torch.tensor(np.ascontiguousarray(g))
        opt.step()
        topt.step()
        np.testing.assert_allclose(p.array, tp.detach().numpy(), **TOL[np.float32])
    if layout != "C":
        assert np.shares_memory(p.array, base), "the parameter's own array is updated"
    assert all(v.shape == shape for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_gradient_of_the_wrong_shape_is_an_error():
    p = _p()
    p.grad = tc.tensor(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match=r"shape \(2,\) has a gradient of shape \(3,\)"):
        optim.SGD([p], lr=0.1).step()


def _walk(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _walk(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v)
    else:
        yield obj


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_state_dict_round_trip_continues_the_same_trajectory(name, data):
    """Save after K1 steps (through tc.save/tc.load, .npz), load into a fresh optimizer built with
    other settings, continue K2 steps: the same parameters as the uninterrupted run, and as torch."""
    dtype = np.float32
    problem = data.draw(optim_problems(min_steps=2), label="problem")
    kwargs = data.draw(OPTIMIZER_KWARGS[name](), label="kwargs")
    split = data.draw(st.integers(1, len(problem.grads) - 1), label="split")
    ours, theirs, opt, topt = make_pair(name, problem, kwargs, dtype)
    for grads in problem.grads[:split]:
        set_grads(ours, theirs, grads, dtype)
        opt.step()
        topt.step()
    sd = opt.state_dict()
    for leaf in _walk(sd):
        assert leaf is None or isinstance(leaf, (np.ndarray, bool, int, float, str)), type(leaf)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "optim.npz")
        tc.save(sd, path)
        loaded = tc.load(path)
    resumed = [tc.tensor(p.array.copy(), requires_grad=True) for p in ours]
    groups, i = [], 0
    for g in problem.init:                      # same group sizes, deliberately different lr
        groups.append({"params": resumed[i:i + len(g)], "lr": 0.123})
        i += len(g)
    opt2 = getattr(optim, name)(groups, **kwargs)
    opt2.load_state_dict(loaded)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    for grads in problem.grads[split:]:
        set_grads(ours, theirs, grads, dtype)
        for p, g in zip(resumed, grads):
            p.grad = None if g is None else tc.tensor(g.astype(dtype))
        opt.step()
        opt2.step()
        topt.step()
        for p, q in zip(ours, resumed):
            np.testing.assert_array_equal(q.array, p.array)
        assert_params_close(resumed, theirs, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_loaded_state_is_a_copy(name):
    """Loading another optimizer's state_dict must not share its arrays (both continue independently)."""
    p, q = (tc.tensor(np.ones(3, np.float32), requires_grad=True) for _ in range(2))
    a, b = getattr(optim, name)([p], lr=0.1), getattr(optim, name)([q], lr=0.1)
    if name == "SGD":
        a, b = optim.SGD([p], lr=0.1, momentum=0.9), optim.SGD([q], lr=0.1, momentum=0.9)
    p.grad = tc.tensor(np.array([1.0, -2.0, 3.0], np.float32))
    a.step()
    b.load_state_dict(a.state_dict())
    for key, value in a.state[p].items():
        if isinstance(value, np.ndarray):
            assert not np.shares_memory(value, b.state[q][key]), key


def test_load_state_dict_errors():
    p, q = tc.tensor(np.ones(3, np.float32), requires_grad=True), tc.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = tc.tensor(np.ones(3, np.float32))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": [p]}, {"params": [q]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([p, q]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"has shape \(3,\).*parameter has shape \(2,\)"):
        optim.Adam([q]).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.Adam([p]).load_state_dict({"state": {}})


def test_load_casts_state_to_the_parameter_dtype():
    p = tc.tensor(np.ones(3, np.float64), requires_grad=True)
    q = tc.tensor(np.ones(3, np.float32), requires_grad=True)
    a = optim.Adam([p], lr=0.1)
    p.grad = tc.tensor(np.ones(3, np.float64))
    a.step()
    b = optim.Adam([q], lr=0.1)
    b.load_state_dict(a.state_dict())
    assert b.state[q]["exp_avg"].dtype == np.float32 and b.state[q]["step"] == 1


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32_with_numpy_float64_hyper_parameters(name):
    p = tc.tensor(np.linspace(-1, 1, 6, dtype=np.float32), requires_grad=True)
    opt = getattr(optim, name)([p], lr=np.float64(0.05), weight_decay=np.float64(0.01))
    for _ in range(3):
        p.grad = tc.tensor(np.linspace(1, -2, 6, dtype=np.float32))
        opt.step()
    assert p.array.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = tc.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    q = tc.tensor(np.ones(4, np.float32), requires_grad=True)      # never gets a gradient
    opt = optim.SGD([p, q], lr=0.1)
    (p * p).sum().backward()
    grad_array = p.grad.array
    assert np.any(grad_array != 0)
    opt.zero_grad(set_to_none=set_to_none)
    assert q.grad is None
    if set_to_none:
        assert p.grad is None
    else:
        assert p.grad.array is grad_array and p.grad.dtype == np.float32
        assert not np.any(p.grad.array) and not p.grad.requires_grad
    opt.zero_grad()                                                # default: set_to_none=True
    assert p.grad is None


def test_step_with_closure_matches_torch():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float32)
    p, tp = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    opt, topt = optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)

    def closure():
        opt.zero_grad()
        loss = (p * p * p).sum()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = (tp * tp * tp).sum()
        loss.backward()
        return loss

    for _ in range(3):
        with tc.no_grad():                     # step() turns grad mode on for the closure, as torch
            loss = opt.step(closure)
        tloss = topt.step(tclosure)
        assert math.isclose(loss.item(), tloss.item(), rel_tol=1e-5)
        np.testing.assert_allclose(p.array, tp.detach().numpy(), rtol=1e-6)
    assert opt.step() is None


def test_param_groups_and_add_param_group_match_torch():
    ps = [tc.tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(3)]
    tps = [torch.ones(2, requires_grad=True) for _ in range(3)]
    opt = optim.Adam([{"params": ps[:1]}, {"params": ps[1], "lr": 0.5, "betas": (0.5, 0.6)}], lr=0.01)
    topt = torch.optim.Adam([{"params": tps[:1]}, {"params": tps[1], "lr": 0.5, "betas": (0.5, 0.6)}], lr=0.01)
    opt.add_param_group({"params": [ps[2]], "eps": 1e-3})
    topt.add_param_group({"params": [tps[2]], "eps": 1e-3})
    assert len(opt.param_groups) == len(topt.param_groups) == 3
    for g, tg in zip(opt.param_groups, topt.param_groups):
        assert len(g["params"]) == len(tg["params"])
        for key in g:
            if key != "params":
                assert g[key] == tg[key], key
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is ps[1]
    assert "Parameter Group 2" in repr(opt) and repr(opt).startswith("Adam (")


def test_named_parameters_give_param_names():
    model = tc.nn.Linear(3, 2)
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == [n for n, _ in model.named_parameters()]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


def _p():
    return tc.tensor(np.ones(2, np.float32), requires_grad=True)


INVALID = [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(lr=0.1, momentum=-0.5)), ("SGD", dict(lr=0.1, weight_decay=-1e-3)),
    ("SGD", dict(lr=0.1, nesterov=True)), ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-1e-3)), ("Adam", dict(eps=-1e-8)), ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))), ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(betas=(0.9, 1.0))), ("AdamW", dict(lr=-1.0)),
    ("Adamax", dict(lr=-2e-3)), ("Adamax", dict(betas=(-0.1, 0.999))), ("Adamax", dict(eps=-1.0)),
    ("Adamax", dict(weight_decay=-0.1)),
    ("RMSprop", dict(lr=-0.01)), ("RMSprop", dict(alpha=-0.5)), ("RMSprop", dict(momentum=-0.1)),
    ("RMSprop", dict(eps=-1e-8)), ("RMSprop", dict(weight_decay=-1.0)),
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(rho=-0.1)), ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-0.1)),
    ("Adagrad", dict(lr=-0.01)), ("Adagrad", dict(lr_decay=-0.1)), ("Adagrad", dict(weight_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)), ("Adagrad", dict(eps=-1e-10)),
    ("NAdam", dict(lr=-1.0)), ("NAdam", dict(eps=-1.0)), ("NAdam", dict(betas=(1.0, 0.999))),
    ("NAdam", dict(betas=(0.9, 1.0))), ("NAdam", dict(weight_decay=-0.1)), ("NAdam", dict(momentum_decay=-0.1)),
    ("RAdam", dict(lr=-1.0)), ("RAdam", dict(eps=-1.0)), ("RAdam", dict(betas=(-0.1, 0.999))),
    ("RAdam", dict(betas=(0.9, 1.0))), ("RAdam", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name,kwargs", INVALID)
def test_invalid_hyper_parameters_raise_like_torch(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([_p()], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_invalid_params_raise():
    p = _p()
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p, _p()]}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": p})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.Adam(p)
    with pytest.raises(TypeError, match="can only optimize Tensors.*numpy.ndarray"):
        optim.Adam([np.ones(2)])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.Adam([{"params": {p}}])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([p * 2])
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([_p()])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)


def test_base_step_is_abstract():
    with pytest.raises(NotImplementedError):
        optim.Optimizer([_p()], dict(lr=0.1)).step()


def test_masked_zero_entries_stay_zero():
    """A weight entry at 0 with a zero gradient and zero state stays exactly 0 (weight decay included)."""
    w = np.array([0.0, 1.0, -2.0, 0.0], np.float32)
    g = np.array([0.0, 0.5, -0.25, 0.0], np.float32)
    cases = [("SGD", dict(momentum=0.9, nesterov=True, weight_decay=1e-2)), ("Adam", dict(weight_decay=0.1)),
             ("AdamW", {}), ("Adamax", dict(weight_decay=0.1)), ("RMSprop", dict(momentum=0.5, centered=True)),
             ("Adadelta", dict(weight_decay=0.1)), ("Adagrad", dict(weight_decay=0.1, lr_decay=0.5)),
             ("NAdam", dict(weight_decay=0.1)), ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
             ("RAdam", dict(weight_decay=0.1)), ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True))]
    for name, kwargs in cases:
        p = tc.tensor(w.copy(), requires_grad=True)
        opt = getattr(optim, name)([p], lr=0.1, **kwargs)
        for _ in range(8):                     # RAdam's rectified steps start at step 6
            p.grad = tc.tensor(g)
            opt.step()
        assert p.array[0] == 0 and p.array[3] == 0, name
        assert np.all(p.array[1:3] != w[1:3]), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled", [False, True])
def test_radam_crosses_into_rectified_steps_like_torch(dtype, decoupled):
    """ρ_t passes 5 at step 6 for β2 = 0.999: plain momentum steps first, then rectified ones."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4)).astype(dtype)
    p, tp = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kwargs = dict(lr=0.05, weight_decay=0.05, decoupled_weight_decay=decoupled)
    opt, topt = optim.RAdam([p], **kwargs), torch.optim.RAdam([tp], **kwargs)
    for k in range(12):
        g = rng.standard_normal((3, 4)).astype(dtype)
        p.grad, tp.grad = tc.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        assert_params_close([p], [tp], dtype, where=f" after step {k + 1}")


def test_adagrad_state_exists_from_construction_like_torch():
    """torch's Adagrad fills every constructor parameter's state at once (step 0, the accumulator at
    the constructor's initial_accumulator_value, whatever a group says); a group added later gets it at
    its first step."""
    ps = [tc.tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(3)]
    tps = [torch.ones(2, requires_grad=True) for _ in range(3)]
    groups = lambda q: [{"params": [q[0]]}, {"params": [q[1]], "initial_accumulator_value": 5.0}]
    opt = optim.Adagrad(groups(ps), lr=0.1, initial_accumulator_value=0.5)
    topt = torch.optim.Adagrad(groups(tps), lr=0.1, initial_accumulator_value=0.5)
    opt.add_param_group({"params": [ps[2]]})
    topt.add_param_group({"params": [tps[2]]})
    assert_state_matches_torch(opt, topt, np.float32)
    for p, tp in zip(ps, tps):
        p.grad, tp.grad = tc.tensor(np.array([1.0, -2.0], np.float32)), torch.tensor([1.0, -2.0])
    opt.step()
    topt.step()
    assert_params_close(ps, tps, np.float32)
    assert_state_matches_torch(opt, topt, np.float32)


@pytest.mark.parametrize("name,defaults", [
    ("Adadelta", dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)),
    ("Adagrad", dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False)),
    ("NAdam", dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                   decoupled_weight_decay=False, maximize=False)),
    ("RAdam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                   maximize=False)),
])
def test_defaults_match_torch(name, defaults):
    opt, topt = getattr(optim, name)([_p()]), getattr(torch.optim, name)([torch.ones(2, requires_grad=True)])
    assert opt.defaults == defaults
    for key, value in defaults.items():
        assert topt.defaults[key] == value, key
