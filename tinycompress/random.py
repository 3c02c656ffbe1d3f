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


class Generator:
    """``torch.Generator`` on CPU: a seedable stream of its own, for ``DataLoader(generator=...)``,
    the samplers and ``random_split`` (NumPy's PCG64 inside, like the library's default generator).

        g = tc.Generator().manual_seed(0)
        loader = DataLoader(ds, batch_size=64, shuffle=True, generator=g)
    """

    def __init__(self, device="cpu") -> None:
        if str(device) != "cpu":
            raise RuntimeError(f"tinycompress runs on the CPU only: Generator(device={device!r}) is not available")
        self.device = "cpu"
        self._seed = int(np.random.SeedSequence().entropy % 2 ** 63)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Re-seed from fresh entropy; returns the new seed (``torch.Generator.seed``)."""
        self.manual_seed(int(np.random.SeedSequence().entropy % 2 ** 63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self._rng.bit_generator.state = state
        return self

    @property
    def numpy(self) -> np.random.Generator:
        """The NumPy generator drawn from (replaced by :meth:`manual_seed`)."""
        return self._rng


def as_numpy_generator(generator) -> np.random.Generator:
    """What to draw from: a :class:`Generator`'s stream, a NumPy Generator as given, or (None) the
    library's default generator, fetched now (``manual_seed`` replaces it)."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a tinycompress.Generator, a numpy.random.Generator or None "
                    f"(the library's), got {type(generator).__name__}")
