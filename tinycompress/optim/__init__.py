"""``tc.optim``: optimizers and learning-rate schedulers with torch.optim's names and numerics.

``Optimizer`` (param groups, per-parameter state keyed by the parameter, torch-layout
``state_dict``), ``SGD``, ``Adam``, ``AdamW``, ``Adamax``, ``RMSprop``, ``Adadelta``, ``Adagrad``,
``NAdam``, ``RAdam``, and the
``lr_scheduler`` submodule (``StepLR``, ``MultiStepLR``, ``ExponentialLR``,
``CosineAnnealingLR``, ``LambdaLR``).
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "RMSprop", "Adadelta", "Adagrad", "NAdam", "RAdam",
           "lr_scheduler"]
