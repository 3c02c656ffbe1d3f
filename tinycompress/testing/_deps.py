"""The kit's optional dependencies, imported when first needed, with an error that says what to install."""
from __future__ import annotations

import importlib

_EXTRA = 'pip install -e ".[test]"  (or: pip install "tinycompress[test]")'
_WHY = {"torch": "torch is the oracle tinycompress.testing compares against",
        "hypothesis": "tinycompress.testing draws its examples with hypothesis",
        "pytest": "tinycompress.testing builds its parametrized tests with pytest"}


def require(name: str):
    """Import and return the module ``name`` (torch, hypothesis, pytest), or raise an ImportError that
    names the ``[test]`` extra."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(f"{_WHY.get(name, name + ' is needed here')}, and it is not installed: {_EXTRA}") \
            from error
