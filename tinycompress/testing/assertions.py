"""``assert_close``: torch.testing.assert_close's rule and message, on anything array-like.

``actual`` and ``expected`` may be tinycompress Tensors, torch tensors, NumPy arrays or Python numbers
(mixed freely); they are compared as NumPy arrays, element by element::

    |actual - expected| <= atol + rtol * |expected|

with torch's default tolerances for the dtype when neither is given (float32: rtol 1.3e-6, atol 1e-5;
float64: 1e-7 and 1e-7; integers and bools: exact). On failure the message is torch's: how many elements
mismatch, and the greatest absolute and relative differences with their index.
"""
from __future__ import annotations

import numpy as np

# torch.testing._comparison's defaults: (rtol, atol) by dtype; exact for everything else
_DEFAULT_TOLERANCES = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
                       np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.complex64): (1.3e-6, 1e-5),
                       np.dtype(np.complex128): (1e-7, 1e-7)}


def to_numpy(x) -> np.ndarray:
    """An array of ``x``: a tinycompress Tensor's array, a torch tensor's (detached, on the CPU), or
    ``np.asarray(x)``. torch is never imported here."""
    if hasattr(x, "array") and isinstance(getattr(x, "array"), np.ndarray):     # tinycompress.Tensor
        return x.array
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().resolve_conj().resolve_neg().numpy()
    return np.asarray(x)


def default_tolerances(*dtypes) -> tuple[float, float]:
    """torch's (rtol, atol) for comparing values of these dtypes: the loosest of theirs."""
    pairs = [_DEFAULT_TOLERANCES.get(np.dtype(d), (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _dtype_name(dtype) -> str:
    return f"torch.{np.dtype(dtype).name}" if np.dtype(dtype).name != "bool" else "torch.bool"


def _is_scalar(x) -> bool:
    """A Python number (bools included): torch reports two of them as 'Scalars', not 'Tensor-likes'."""
    return isinstance(x, (int, float, complex))


def _fail(message: str, msg):
    if msg is None:
        raise AssertionError(message)
    raise AssertionError(msg(message) if callable(msg) else msg)


def assert_close(actual, expected, *, rtol: float | None = None, atol: float | None = None,
                 equal_nan: bool = False, check_dtype: bool = True, check_shape: bool = True, msg=None) -> None:
    """Assert that ``actual`` and ``expected`` are close, as ``torch.testing.assert_close`` does.

    - shape and (``check_dtype``) dtype must match, else the message names both;
    - ``rtol`` and ``atol`` are given together or not at all; omitted, they are torch's defaults for
      the dtypes (exact for integers and bools);
    - NaN equals NaN only with ``equal_nan``; infinities must match exactly;
    - ``msg`` replaces the message, or, when callable, receives it and returns the one to raise
      (``msg=lambda m: f"layer 3: {m}"``).
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'atol' if atol is None else 'rtol'}.")
    scalars = _is_scalar(actual) and _is_scalar(expected)
    a, e = to_numpy(actual), to_numpy(expected)
    if check_shape and a.shape != e.shape:
        _fail(f"The values for attribute 'shape' do not match: {_size(a.shape)} != {_size(e.shape)}.", msg)
    if check_dtype and not scalars and a.dtype != e.dtype:
        _fail(f"The values for attribute 'dtype' do not match: {_dtype_name(a.dtype)} != {_dtype_name(e.dtype)}.",
              msg)
    if rtol is None:
        rtol, atol = default_tolerances(a.dtype, e.dtype)
    exact = rtol == 0 and atol == 0
    inexact = a.dtype.kind in "fc" or e.dtype.kind in "fc"
    if not inexact:                              # integers and bools: as int64, as torch does
        a, e = a.astype(np.int64), e.astype(np.int64)
    a, e = np.broadcast_arrays(a, e)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(a - e)
        if exact:
            ok = a == e
        else:
            ok = diff <= atol + rtol * np.abs(e)
        if inexact:
            ok |= a == e                         # equal infinities
            if equal_nan:
                ok |= np.isnan(a) & np.isnan(e)
    if ok.all():
        return
    _fail(_mismatch_message(a, e, diff, ok, rtol, atol, inexact, scalars), msg)


def _size(shape) -> str:
    return f"torch.Size({list(shape)})"


def _mismatch_message(a, e, diff, ok, rtol, atol, inexact, scalars) -> str:
    exact = rtol == 0 and atol == 0
    what = "equal" if exact else "close"
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = diff / np.abs(e)
    if scalars or a.ndim == 0:
        a_v, e_v, d_v, r_v = a.item(), e.item(), diff.item(), rel.item()
        lines = [f"{'Scalars' if scalars else 'Tensor-likes'} are not {what}!", "",
                 f"Expected {e_v} but got {a_v}.",
                 f"Absolute difference: {d_v}{_allowed(atol, exact)}",
                 f"Relative difference: {r_v}{_allowed(rtol, exact)}"]
        return "\n".join(lines)
    diff = np.where(ok, 0, diff).ravel()
    rel = np.where(ok, 0, rel).ravel()
    bad = int(ok.size - np.count_nonzero(ok))
    i_abs, i_rel = int(np.argmax(diff)), int(np.argmax(rel))     # argmax finds a NaN first, as torch.max
    index = lambda i: tuple(int(k) for k in np.unravel_index(i, a.shape))
    return "\n".join([f"Tensor-likes are not {what}!", "",
                      f"Mismatched elements: {bad} / {ok.size} ({bad / ok.size:.1%})",
                      f"Greatest absolute difference: {_number(diff[i_abs])} at index {index(i_abs)}"
                      f"{_allowed(atol, exact)}",
                      f"Greatest relative difference: {_number(rel[i_rel])} at index {index(i_rel)}"
                      f"{_allowed(rtol, exact)}"])


def _number(v):
    return int(v) if isinstance(v, np.integer) else float(v)


def _allowed(tol, exact) -> str:
    return "" if exact else f" (up to {tol} allowed)"
