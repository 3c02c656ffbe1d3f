"""``tc.optim``: optimizers and learning-rate schedulers with torch.optim's names and numerics.

``Optimizer`` (param groups, per-parameter state keyed by the parameter, torch-layout
``state_dict``), ``SGD``, ``Adam``, ``AdamW``, ``Adamax``, ``RMSprop``, and the
``lr_scheduler`` submodule (``StepLR``, ``MultiStepLR``, ``ExponentialLR``,
``CosineAnnealingLR``, ``LambdaLR``).
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .adamax import Adamax
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "RMSprop", "lr_scheduler"]
