"""``tinycompress.testing``: check your own Functions, modules, optimizers and deployed models against torch.

::

    import torch, tinycompress as tc
    from tinycompress.testing import check_function, check_module, check_optimizer, assert_close

    check_function(MyExp.apply, torch.exp, (3, 4))                  # forward, gradients, no mutation, dtypes
    check_module(MyLinear(4, 2), torch.nn.Linear(4, 2), (5, 4))     # weights copied by state_dict
    check_optimizer(MySGD, torch.optim.SGD, steps=10, lr=0.1, momentum=0.9)

torch (the oracle) and hypothesis are imported when first needed; without them the error names the extra to
install: ``pip install -e ".[test]"``. :mod:`.strategies` holds hypothesis strategies (tensors, shapes,
broadcastable pairs, conv geometries, away-from-kink filters); :mod:`.factory` the op-table factory that
tinycompress's own tests run on.
"""
from .assertions import assert_close, default_tolerances, to_numpy
from .checks import check_deployed, check_function, check_module, check_optimizer, copy_weights

__all__ = ["assert_close", "default_tolerances", "to_numpy", "check_function", "check_module", "check_optimizer",
           "check_deployed", "copy_weights", "strategies", "factory"]


def __getattr__(name):
    """``tinycompress.testing.strategies`` and ``.factory`` load on first use (they need hypothesis)."""
    if name in ("strategies", "factory", "core"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
