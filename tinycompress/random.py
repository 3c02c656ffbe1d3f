"""The library's one random number generator.

Every random operation in tinycompress (``rand``, ``randn``, initialisers, dropout, shuffling,
stochastic binarization, random pruning) draws from :func:`default_generator`, so
``tc.manual_seed(n)`` makes a whole run reproducible, as ``torch.manual_seed`` does.
The streams are NumPy's PCG64, not torch's Mersenne Twister: the same seed gives the same
numbers run after run, not the numbers torch would give.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.Generator(np.random.PCG64(0))
_seed = 0


def default_generator() -> np.random.Generator:
    """The generator every random op of the library draws from."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the library's generator (``torch.manual_seed``); returns it."""
    global _generator, _seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    return _generator


def initial_seed() -> int:
    """The seed last given to :func:`manual_seed` (0 if never called)."""
    return _seed


def get_rng_state() -> dict:
    """The generator's state as a plain dict (JSON-able), for checkpoints."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state
