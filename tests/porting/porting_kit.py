"""What the porting tests share: the import rewrite a user makes, running torch code both ways,
copying weights from the torch twin, and the bundled MNIST subset as arrays.

Torch code is kept as text and executed twice: as it is (under torch) and with its imports rewritten
(:func:`port`). The rewrite touches import lines only; :func:`port` checks that.
"""
import re
from contextlib import contextmanager

import numpy as np
import torch

import tinycompress as tc

_IMPORT = re.compile(r"^(\s*)(import|from)\s+torch(\.[\w.]+)?\b(.*)$")


def port(source: str, extra=()) -> str:
    """``import torch`` → ``import tinycompress as torch``; ``import torch.X as Y`` / ``from torch.X import Y``
    → the same under ``tinycompress``. ``extra`` holds ``(old line, new line)`` pairs for the lines a
    port must change besides imports (a dataset line); each must occur."""
    out = []
    for line in source.splitlines():
        m = _IMPORT.match(line)
        if m:
            indent, kind, sub, rest = m.groups()
            sub = sub or ""
            if kind == "import" and not sub and not rest.strip().startswith("as"):
                line = f"{indent}import tinycompress as torch{rest}"
            else:
                line = f"{indent}{kind} tinycompress{sub}{rest}"
        out.append(line)
    ported = "\n".join(out) + ("\n" if source.endswith("\n") else "")
    for old, new in extra:
        assert old in ported, f"the port expects the line {old!r}"
        ported = ported.replace(old, new)
    return ported


def changed_lines(source: str, ported: str):
    """The (before, after) pairs of lines a port changed."""
    before, after = source.splitlines(), ported.splitlines()
    assert len(before) == len(after)
    return [(a, b) for a, b in zip(before, after) if a != b]


def load(source: str, ported: bool, name: str = "<torch code>", extra=(), env=None) -> dict:
    """The code's namespace after running it as torch code or, ported, as tinycompress code."""
    if ported:
        source = port(source, extra)
    namespace = {"__name__": name}
    namespace.update(env or {})
    exec(compile(source, name, "exec"), namespace)
    return namespace


def copy_weights(src_torch, dst_tc) -> None:
    """``dst_tc`` takes the torch twin's state dict, key for key (dtypes kept)."""
    dst_tc.load_state_dict({k: tc.from_numpy(v) for k, v in tc.utils.from_torch_state_dict(src_torch.state_dict()).items()})


def to_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def assert_state_close(ours, theirs, rtol=1e-9, atol=1e-11) -> None:
    """Every parameter and buffer of the two models, key for key."""
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_allclose(to_np(a[k]), to_np(b[k]), rtol=rtol, atol=atol, err_msg=k)


@contextmanager
def default_dtype(dtype_name: str):
    """Both libraries' default dtype set (float64 for trajectories), restored afterwards."""
    t_old, c_old = torch.get_default_dtype(), tc.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype_name))
    tc.set_default_dtype(getattr(tc, dtype_name))
    try:
        yield
    finally:
        torch.set_default_dtype(t_old)
        tc.set_default_dtype(c_old)


_SUBSET = {}


def mnist_subset(train=True, n=None):
    """The bundled MNIST subset's (uint8 images (N, 28, 28), int64 labels), first ``n``."""
    if train not in _SUBSET:
        ds = tc.data.MNIST(tc.data.BUNDLED_DIR, train=train)
        _SUBSET[train] = (ds.data, ds.targets)
    x, y = _SUBSET[train]
    return (x, y) if n is None else (x[:n], y[:n])
