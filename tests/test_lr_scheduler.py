"""tc.optim.lr_scheduler against torch.optim.lr_scheduler: lr sequences, state dicts, warnings."""
import math
import os
import tempfile
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import tinycompress as tc
from tinycompress import optim
from tinycompress.optim import lr_scheduler
from strategies import scheduler_lrs, scheduler_specs

NAMES = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR"]


def make_lambda(spec):
    kind, c = spec
    if kind == "power":
        return lambda epoch: c ** epoch
    return lambda epoch: 1.0 / (1.0 + c * epoch)


def build(name, lrs, kwargs, lib):
    """(optimizer, scheduler) of ``lib`` ('tc' or 'torch'): SGD over one tensor per group."""
    kwargs = dict(kwargs)
    if name == "LambdaLR":
        kwargs["lr_lambda"] = make_lambda(kwargs["lr_lambda"])
    if lib == "tc":
        groups = [{"params": [tc.tensor(np.zeros(2, np.float32), requires_grad=True)], "lr": lr} for lr in lrs]
        opt = optim.SGD(groups, lr=0.1)
        return opt, getattr(lr_scheduler, name)(opt, **kwargs)
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    opt = torch.optim.SGD(groups, lr=0.1)
    return opt, getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)


def assert_lrs_equal(ours, theirs, where=""):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), f"{a} != {b}{where}"


def advance(opt, sched, n):
    """n epochs: optimizer step (no gradients, so parameters stay) then scheduler step."""
    lrs = []
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
    return lrs


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_lr_sequence_matches_torch(name, data):
    lrs = data.draw(scheduler_lrs(), label="lrs")
    kwargs, n = data.draw(scheduler_specs(name), label="spec")
    opt, sched = build(name, lrs, kwargs, "tc")
    topt, tsched = build(name, lrs, kwargs, "torch")
    assert [g["initial_lr"] for g in opt.param_groups] == lrs
    assert_lrs_equal(sched.get_last_lr(), tsched.get_last_lr(), " after construction")
    assert sched.last_epoch == tsched.last_epoch == 0
    ours, theirs = advance(opt, sched, n), advance(topt, tsched, n)
    for epoch, (a, b) in enumerate(zip(ours, theirs), 1):
        assert_lrs_equal(a, b, f" at epoch {epoch}")
    assert_lrs_equal([g["lr"] for g in opt.param_groups], [g["lr"] for g in topt.param_groups])
    assert sched.last_epoch == tsched.last_epoch == n


def _as_plain(value):
    if isinstance(value, dict):
        return {k: _as_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_plain(v) for v in value]
    return value


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_state_dict_round_trip(name, data):
    """Save optimizer + scheduler after n1 epochs (tc.save/.npz), rebuild both, load, continue n2
    epochs: the same rates as the uninterrupted run and as torch; and the same state_dict as torch."""
    lrs = data.draw(scheduler_lrs(), label="lrs")
    kwargs, n = data.draw(scheduler_specs(name), label="spec")
    n1 = data.draw(st.integers(0, n), label="n1")
    opt, sched = build(name, lrs, kwargs, "tc")
    topt, tsched = build(name, lrs, kwargs, "torch")
    advance(opt, sched, n1)
    advance(topt, tsched, n1)
    sd, tsd = sched.state_dict(), tsched.state_dict()
    assert sorted(sd) == sorted(tsd)
    for key, value in tsd.items():
        if key == "milestones":
            assert dict(sd[key]) == dict(value)
        elif key != "lr_lambdas":
            assert _as_plain(sd[key]) == pytest.approx(_as_plain(value)), key
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ckpt.npz")
        tc.save({"optimizer": opt.state_dict(), "scheduler": sd}, path)
        loaded = tc.load(path)
    opt2, sched2 = build(name, [0.5] * len(lrs), kwargs, "tc")        # fresh run, other rates
    opt2.load_state_dict(loaded["optimizer"])                         # torch's order: scheduler built first
    sched2.load_state_dict(loaded["scheduler"])
    assert sched2.get_last_lr() == sched.get_last_lr()
    rest = advance(opt, sched, n - n1)
    rest2 = advance(opt2, sched2, n - n1)
    trest = advance(topt, tsched, n - n1)
    assert rest2 == rest
    for a, b in zip(rest2, trest):
        assert_lrs_equal(a, b)


class Warmup:
    """A callable object: LambdaLR saves its __dict__ (functions and lambdas are left out)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.epochs)


def test_lambda_lr_state_dict_skips_functions_and_keeps_callable_objects():
    groups = [{"params": [tc.tensor(np.zeros(1, np.float32), requires_grad=True)]} for _ in range(2)]
    tgroups = [{"params": [torch.zeros(1, requires_grad=True)]} for _ in range(2)]
    opt, topt = optim.SGD(groups, lr=0.1), torch.optim.SGD(tgroups, lr=0.1)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 0.5 ** e, Warmup(4)])
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, [lambda e: 0.5 ** e, Warmup(4)])
    sd, tsd = sched.state_dict(), tsched.state_dict()
    assert sd["lr_lambdas"] == tsd["lr_lambdas"] == [None, {"epochs": 4}]
    fresh = lr_scheduler.LambdaLR(optim.SGD([{"params": [tc.tensor(np.zeros(1), requires_grad=True)]}
                                             for _ in range(2)], lr=0.1), [lambda e: 1.0, Warmup(9)])
    fresh.load_state_dict(sd)
    assert fresh.lr_lambdas[1].epochs == 4 and "lr_lambdas" in sd            # sd left intact
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_initial_lr_and_resuming_with_last_epoch():
    p = tc.tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and sched.base_lrs == [0.1]
    opt.param_groups[0]["lr"] = 0.7                      # initial_lr is kept by a second scheduler
    again = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert again.base_lrs == [0.1] and opt.param_groups[0]["lr"] == 0.7


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR"])
def test_step_with_epoch_uses_the_closed_form_like_torch(name):
    kwargs = {"StepLR": dict(step_size=3, gamma=0.5), "MultiStepLR": dict(milestones=[2, 5, 5], gamma=0.3),
              "ExponentialLR": dict(gamma=0.9), "CosineAnnealingLR": dict(T_max=7, eta_min=1e-3)}[name]
    opt, sched = build(name, [0.1, 0.02], kwargs, "tc")
    topt, tsched = build(name, [0.1, 0.02], kwargs, "torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in [4, 9, 1, 6]:
            opt.step()
            topt.step()
            sched.step(epoch)
            tsched.step(epoch)
            assert_lrs_equal(sched.get_last_lr(), tsched.get_last_lr(), f" at epoch {epoch}")
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(3)


def test_warnings_like_torch():
    opt, sched = build("StepLR", [0.1], dict(step_size=2), "tc")
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    opt, sched = build("StepLR", [0.1], dict(step_size=2), "tc")
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()                                     # the right order: no warning


def test_invalid_scheduler_arguments():
    opt, _ = build("ExponentialLR", [0.1], dict(gamma=0.5), "tc")
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be non-zero"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        lr_scheduler.LambdaLR(opt, 0.5)


def test_seed000_recipe_adam_with_step_lr():
    """Seed 000: Adam(lr=0.01) with StepLR(40, 0.1) stepped per epoch: 0.01, then 0.001 from epoch 40."""
    opt, sched = build("StepLR", [0.01], dict(step_size=40, gamma=0.1), "tc")
    topt, tsched = build("StepLR", [0.01], dict(step_size=40, gamma=0.1), "torch")
    assert_lrs_equal(sum(advance(opt, sched, 100), []), sum(advance(topt, tsched, 100), []))
    assert sched.get_last_lr()[0] == pytest.approx(1e-4)
