"""Check one's own code against torch: a Function, a module, an optimizer, a deployed model.

Each ``check_*`` runs both libraries on the same numbers and raises an ``AssertionError`` that says
what differs (forward, which input's or parameter's gradient, which step), with torch's mismatch report
(:func:`~tinycompress.testing.assert_close`). They return ``None`` when everything agrees.
"""
from __future__ import annotations

import numpy as np

from ._deps import require
from .assertions import assert_close, to_numpy
from .core import compare_once, compare_second_order, no_tiny_values, tolerances

__all__ = ["check_function", "check_module", "check_optimizer", "check_deployed"]


# ------------------------------------------------------------------------------------------ inputs
def _is_strategy(x) -> bool:
    return hasattr(x, "example") and hasattr(x, "flatmap") and not isinstance(x, np.ndarray)


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in x)


def _resolve(inputs, seed, draw=None) -> list:
    """Arrays from the given inputs: an array (or a list) as it is, a shape as standard normal values
    (float32-exact, from ``seed``), a hypothesis strategy drawn with ``draw``."""
    out = []
    for k, x in enumerate(inputs):
        if _is_strategy(x):
            out.append(np.asarray(draw(x, label=f"input {k}")))
        elif _is_shape(x):
            a = np.random.default_rng([seed, k]).standard_normal(x)
            out.append(a.astype(np.float32).astype(np.float64))
        elif hasattr(x, "array") or type(x).__module__.startswith("torch"):
            out.append(np.array(to_numpy(x), copy=True))
        elif isinstance(x, (np.ndarray, list, int, float, np.generic)):
            out.append(np.asarray(x))
        else:
            raise TypeError(f"input {k} is a {type(x).__name__}: give an array, a shape (a tuple of ints) or a "
                            "hypothesis strategy of arrays (pass other arguments with kwargs=... or a lambda)")
    return out


def _run(inputs, seed, max_examples, body) -> None:
    """``body(arrays, seed)`` once, or under hypothesis when some input is a strategy."""
    if not any(_is_strategy(x) for x in inputs):
        body(_resolve(inputs, seed), seed)
        return
    require("hypothesis")
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=max_examples, deadline=None, database=None)
    @given(data=st.data())
    def run(data):
        example_seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
        body(_resolve(inputs, example_seed, data.draw), example_seed)
    run()


def _name(fn) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):                       # Function.apply bound to its class
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


# ------------------------------------------------------------------------------------------ functions
def check_function(tc_fn, torch_fn, *inputs, dtypes=(np.float32, np.float64), grad=True, double_grad=False,
                   gradcheck=False, kwargs=None, rtol=None, atol=None, seed=0, max_examples=20) -> None:
    """Check ``tc_fn`` (tinycompress) against ``torch_fn`` (torch) on the same inputs.

    ``inputs``, one per positional argument: an array (its values), a shape (a tuple of ints: standard normal
    values from ``seed``) or a hypothesis strategy of arrays (then ``max_examples`` examples are drawn, each with
    its own upstream gradients). Float arrays are cast to each of ``dtypes`` and require grad; other arrays
    (integer indices, boolean masks) are passed as they are. ``kwargs`` go to both functions unchanged.

    Checked, in each dtype: forward values (``rtol``/``atol``; default 1e-4/1e-5 in float32, 1e-9/1e-11 in
    float64), output shapes and dtypes (float32 stays float32), and that forward does not mutate its inputs.
    With ``grad``: every input gradient under a random upstream gradient (not ones), its shape and dtype, and
    that backward mutates neither the inputs nor the upstream gradient. With ``double_grad`` (float64): the
    gradient differentiated again w.r.t. the inputs and the upstream gradient. With ``gradcheck`` (True, or
    "fast" for one random projection as torch's fast mode): finite differences in float64, for functions
    with a true derivative (not straight-through estimators).

    >>> check_function(tc.tanh, torch.tanh, (3, 4))                  # doctest: +SKIP
    """
    require("torch")
    import tinycompress as tc

    kwargs = kwargs or {}
    name = _name(tc_fn)
    if isinstance(dtypes, (type, np.dtype, str)):
        dtypes = (dtypes,)

    def body(arrays, example_seed):
        for dtype in dtypes:
            compare_once(tc_fn, torch_fn, arrays, kwargs, dtype=dtype, seed=example_seed, differentiable=grad,
                         rtol=rtol, atol=atol, where=f"check_function({name}) [{np.dtype(dtype).name}]")
        if double_grad:
            if not no_tiny_values(arrays):
                return                                 # a second derivative near 1e-37 is rounding error
            compare_second_order(tc_fn, torch_fn, arrays, kwargs, seed=example_seed,
                                 where=f"check_function({name}) [second derivatives]")
        if gradcheck:
            xs = [tc.tensor(a.astype(np.float64), requires_grad=True) if a.dtype.kind == "f" else tc.tensor(a)
                  for a in arrays]
            tc.autograd.gradcheck(lambda *t: tc_fn(*t, **kwargs), xs, fast_mode=gradcheck == "fast")
    _run(inputs, seed, max_examples, body)


# ------------------------------------------------------------------------------------------ modules
def copy_weights(tc_module, torch_module) -> None:
    """Load the torch module's state_dict (parameters and buffers, key for key, dtypes kept) into ``tc_module``."""
    import tinycompress as tc

    theirs = torch_module.state_dict()
    ours = tc_module.state_dict()
    missing, unexpected = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or unexpected:
        raise AssertionError(f"the two modules' state_dict keys differ: only in tinycompress {missing}, only in "
                             f"torch {unexpected}; the twins must name their parameters and buffers alike")
    tc_module.load_state_dict({k: tc.from_numpy(v) for k, v in tc.utils.from_torch_state_dict(theirs).items()})


def _module_dtype(torch_module):
    for t in list(torch_module.parameters()) + list(torch_module.buffers()):
        if t.is_floating_point():
            return np.dtype(str(t.dtype).replace("torch.", ""))
    return np.dtype(np.float32)


def check_module(tc_module, torch_module, *inputs, modes=("train", "eval"), grad=True, rtol=None, atol=None,
                 seed=0, max_examples=10) -> None:
    """Check a tinycompress module against its torch twin.

    The torch module's weights and buffers are copied into ``tc_module`` (by state_dict: the two must use
    the same keys). Then, in each of ``modes``: outputs, input gradients under a random upstream gradient,
    every parameter's gradient (by name) and every buffer after the forward (running statistics, counters)
    must agree, and no input may be mutated. ``inputs`` as for :func:`check_function`; float inputs take the
    module's dtype (that of its first float parameter). Modules that draw random numbers in training
    (dropout) cannot match torch's draws: check them with ``modes=("eval",)``. Both modules are left in the
    mode they came in, with the state of the last check.
    """
    require("torch")
    copy_weights(tc_module, torch_module)
    dtype = _module_dtype(torch_module)
    theirs = dict(torch_module.named_parameters())
    for pname, p in tc_module.named_parameters():
        if p.dtype != np.dtype(str(theirs[pname].dtype).replace("torch.", "")):
            raise AssertionError(f"check_module: parameter {pname} is {p.dtype} in tinycompress and "
                                 f"{theirs[pname].dtype} in torch: give both modules one dtype (.double() on both)")
    name = type(tc_module).__name__
    (_, _), grad_tol = tolerances(dtype, rtol, atol)
    fwd_tol, _ = tolerances(dtype, rtol, atol)
    was_training = (tc_module.training, torch_module.training)

    def body(arrays, example_seed):
        for mode in modes:
            if mode not in ("train", "eval"):
                raise ValueError(f"modes holds {mode!r}: each must be 'train' or 'eval'")
            where = f"check_module({name}) [{mode}]"
            tc_module.train(mode == "train")
            torch_module.train(mode == "train")
            for p in list(tc_module.parameters()) + list(torch_module.parameters()):
                p.grad = None
            compare_once(lambda *xs: tc_module(*xs), lambda *xs: torch_module(*xs), arrays, dtype=dtype,
                         seed=example_seed, differentiable=grad, rtol=rtol, atol=atol, where=where)
            if grad:
                theirs = dict(torch_module.named_parameters())
                for pname, p in tc_module.named_parameters():
                    tg = theirs[pname].grad
                    if tg is None:
                        assert p.grad is None or not np.any(p.grad.array), \
                            f"{where}: parameter {pname} got a gradient, torch gives none"
                        continue
                    assert p.grad is not None, f"{where}: parameter {pname} got no gradient (torch gives one)"
                    assert p.grad.shape == p.shape and p.grad.dtype == p.dtype, \
                        f"{where}: gradient of {pname} is {p.grad.dtype} {p.grad.shape}, parameter {p.dtype} {p.shape}"
                    assert_close(p.grad, tg, rtol=grad_tol[0], atol=grad_tol[1], check_dtype=False,
                                 msg=lambda m, pname=pname: f"{where}: gradient of parameter {pname}\n{m}")
            theirs = dict(torch_module.named_buffers())
            for bname, b in tc_module.named_buffers():
                if bname not in theirs:
                    continue
                tol = fwd_tol if b.dtype.kind == "f" else (0.0, 0.0)
                assert_close(b, theirs[bname], rtol=tol[0], atol=tol[1], check_dtype=False,
                             msg=lambda m, bname=bname: f"{where}: buffer {bname} after the forward\n{m}")
    try:
        _run(inputs, seed, max_examples, body)
    finally:
        tc_module.train(was_training[0])
        torch_module.train(was_training[1])


# ------------------------------------------------------------------------------------------ optimizers
def _scheduler_parts(scheduler):
    if scheduler is None:
        return None
    if not isinstance(scheduler, (tuple, list)) or len(scheduler) not in (2, 3):
        raise TypeError("scheduler must be (tinycompress scheduler class, torch scheduler class[, kwargs]), e.g. "
                        "(tc.optim.lr_scheduler.StepLR, torch.optim.lr_scheduler.StepLR, {'step_size': 2})")
    return scheduler[0], scheduler[1], dict(scheduler[2]) if len(scheduler) == 3 else {}


def check_optimizer(tc_cls, torch_cls, steps=10, scheduler=None, *, params=((3, 4), (4,)), dtype=np.float64,
                    seed=0, rtol=None, atol=None, **kwargs) -> None:
    """Check an optimizer (and optionally a learning-rate scheduler) against torch's: the same parameters,
    the same loss, ``steps`` steps, the same trajectory.

    Parameters of the shapes in ``params`` (or the arrays given there) start equal in both libraries; each
    step minimises the same quadratic ``Σ ½·a⊙p² + b⊙p + c⊙tanh(p)`` (random a, b, c from ``seed``: gradients
    that depend on the parameters and differ from step to step), through each library's own autograd,
    ``zero_grad``, ``backward`` and ``step``. ``kwargs`` go to both optimizers (``lr=0.1, momentum=0.9``).
    ``scheduler``: ``(tc scheduler class, torch scheduler class, scheduler kwargs)``, stepped after each step.
    After every step every parameter (and the learning rate of every group) must agree: ``rtol``/``atol``
    default to 1e-7/1e-9 in float64, 1e-5/1e-6 in float32.
    """
    torch = require("torch")
    import tinycompress as tc

    dtype = np.dtype(dtype)
    if rtol is None and atol is None:
        rtol, atol = (1e-7, 1e-9) if dtype == np.float64 else (1e-5, 1e-6)
    rng = np.random.default_rng(seed)
    inits = [np.asarray(p, dtype) if not _is_shape(p) else rng.standard_normal(p).astype(dtype) for p in params]
    coefs = [(rng.uniform(0.5, 2.0, a.shape).astype(dtype), rng.standard_normal(a.shape).astype(dtype),
              rng.standard_normal(a.shape).astype(dtype)) for a in inits]
    ours = [tc.nn.Parameter(tc.tensor(a.copy())) for a in inits]
    theirs = [torch.nn.Parameter(torch.tensor(a.copy())) for a in inits]
    opt_tc, opt_torch = tc_cls(ours, **kwargs), torch_cls(theirs, **kwargs)
    sched = _scheduler_parts(scheduler)
    if sched is not None:
        sched_tc, sched_torch = sched[0](opt_tc, **sched[2]), sched[1](opt_torch, **sched[2])
    name = f"check_optimizer({tc_cls.__name__} vs torch {torch_cls.__name__})"

    def loss(lib, ps):
        total = None
        for p, (a, b, c) in zip(ps, coefs):
            term = (lib.tensor(a) * p * p / 2 + lib.tensor(b) * p + lib.tensor(c) * lib.tanh(p)).sum()
            total = term if total is None else total + term
        return total

    for step in range(1, steps + 1):
        for lib, opt, ps in ((tc, opt_tc, ours), (torch, opt_torch, theirs)):
            opt.zero_grad()
            loss(lib, ps).backward()
            opt.step()
        if sched is not None:
            sched_tc.step()
            sched_torch.step()
        for k, (p, t) in enumerate(zip(ours, theirs)):
            assert p.dtype == dtype, f"{name}: step {step}: parameter {k} became {p.dtype} (was {dtype})"
            assert_close(p, t, rtol=rtol, atol=atol, check_dtype=False,
                         msg=lambda m, k=k: f"{name}: parameter {k} after step {step}\n{m}")
        for g, (a, b) in enumerate(zip(opt_tc.param_groups, opt_torch.param_groups)):
            assert_close(float(a["lr"]), float(b["lr"]), rtol=1e-12, atol=0.0,
                         msg=lambda m, g=g: f"{name}: learning rate of group {g} after step {step}\n{m}")


# ------------------------------------------------------------------------------------------ deployed models
def _batches(data, batch_size):
    """Input batches (ndarrays) from an array/Tensor (split into batches) or an iterable of batches
    (each an input or an (input, target) pair, as a DataLoader gives)."""
    if isinstance(data, np.ndarray) or hasattr(data, "array"):
        a = to_numpy(data)
        for i in range(0, len(a), batch_size):
            yield a[i:i + batch_size]
        return
    for batch in data:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        yield to_numpy(x)


def check_deployed(model, deployed, data, *, batch_size=256, rtol=None, atol=None) -> int:
    """Check that a deployed model (packed bits, CSR, factors: ``tc.compress.deploy.export(model)``) predicts
    what ``model`` predicts in eval mode, sample for sample: the argmax of the outputs must be equal, and with
    ``rtol``/``atol`` given the outputs themselves must be close. ``data``: an array or Tensor of inputs, or an
    iterable of batches (a DataLoader). Returns the number of samples compared."""
    import tinycompress as tc

    was_training = model.training
    model.eval()
    seen = 0
    try:
        with tc.no_grad():
            for x in _batches(data, batch_size):
                ours = model(tc.tensor(x)).array
                deployed_out = np.asarray(deployed(x))
                assert ours.shape == deployed_out.shape, \
                    f"check_deployed: the deployed model gives shape {deployed_out.shape}, the model {ours.shape}"
                a, b = ours.reshape(len(x), -1).argmax(1), deployed_out.reshape(len(x), -1).argmax(1)
                wrong = np.flatnonzero(a != b)
                assert wrong.size == 0, (
                    f"check_deployed: {wrong.size} of {len(x)} predictions differ in the batch starting at sample "
                    f"{seen}; first at sample {seen + wrong[0]}: the model predicts {a[wrong[0]]}, the deployed model "
                    f"{b[wrong[0]]}")
                if rtol is not None or atol is not None:
                    assert_close(deployed_out, ours, rtol=rtol or 0.0, atol=atol or 0.0, check_dtype=False,
                                 msg=lambda m: f"check_deployed: outputs of the batch at sample {seen}\n{m}")
                seen += len(x)
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("check_deployed: data holds no samples")
    return seen
