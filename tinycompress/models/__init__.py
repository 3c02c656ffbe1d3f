"""The seed architectures, built by name, each with its seed's training recipe.

``build("bn_mlp")`` returns a fresh model; ``recipe("bn_mlp")`` the defaults the CLI trains it
with (optimizer, learning rate, batch size, schedule, input normalisation). Families register
their models from their own module with :func:`register`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

_REGISTRY: dict[str, tuple[Callable, "Recipe"]] = {}


@dataclass(frozen=True)
class Recipe:
    """How a seed trains its model; every field is a CLI default that a flag can override.

    ``scheduler`` is None or a dict such as ``{"name": "step", "step_size": 40, "gamma": 0.1}``
    (names: step, multistep, exponential, cosine), stepped once per epoch. ``normalize`` is
    'half' (pixels to [-1, 1], seeds 000/004), 'mnist' (mean 0.1307, std 0.3081) or 'unit' ([0, 1]).
    ``input`` is 'flat' (N, 784) or 'image' (N, 1, 28, 28), or 'image32x3' (MNIST padded to 3×32×32).
    """
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 64
    test_batch_size: int = 1000
    epochs: int = 10
    scheduler: dict | None = None
    normalize: str = "half"
    input: str = "flat"
    optimizer_kwargs: dict = field(default_factory=dict)
    callbacks: tuple = ()          # names of callbacks the recipe always uses, e.g. ("clip_weights",)
    seed_doc: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def register(name: str, recipe: Recipe):
    """Decorator: ``@register("bn_mlp", Recipe(...))`` over a function returning the model."""
    def decorate(builder: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = (builder, recipe)
        return builder
    return decorate


def names() -> list[str]:
    return sorted(_REGISTRY)


def _entry(name: str):
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(names())}")
    return _REGISTRY[name]


def build(name: str, **kwargs):
    """A freshly initialised model (drawn from the library generator: seed it first)."""
    return _entry(name)[0](**kwargs)


def recipe(name: str) -> Recipe:
    return _entry(name)[1]


from . import binary, lowrank, masked, seed004  # noqa: E402,F401  (each registers its recipes)
from .recipes import (cifar10_loaders, make_optimizer, make_scheduler, mnist_loaders,  # noqa: E402,F401
                      mnist_transform)
