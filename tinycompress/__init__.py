"""tinycompress: model compression from first principles, on a NumPy autograd engine.

``import tinycompress as tc`` mirrors ``import torch``: ``tc.tensor``, ``tc.randn``,
``tc.no_grad()``, ``tc.nn``, ``tc.optim``, ``tc.autograd.Function`` ...
"""
from .tensor import Size, Tensor, device
from . import autograd, ops
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .factories import (arange, as_tensor, bool, double, empty, empty_like, eye, float, float16, float32,
                        float64, from_numpy, full, full_like, get_default_dtype, half, int, int8, int16,
                        int32, int64, linspace, long, ones, ones_like, rand, rand_like, randint, randn,
                        randn_like, randperm, set_default_dtype, tensor, uint8, zeros, zeros_like)
from .factories import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
                        LongTensor, ShortTensor)
from .ops import *  # noqa: F401,F403  (tc.exp, tc.sum, tc.cat, ... as torch has them)
from .ops import abs, all, any, max, min, pow, sum  # noqa: F401  (shadowing builtins on purpose, as torch does)
from .random import Generator, get_rng_state, initial_seed, manual_seed, set_rng_state
from .threads import get_num_threads, set_num_threads
from .serialization import load, save
from . import nn, optim, data, utils, compress, models  # noqa: E402  (they import the core above)
from .nn import utils as _nn_utils  # noqa: E402,F401  (binds tc.nn.utils: torch.nn.utils' prune, clip_grad_norm_ ...)
from . import accelerator, cuda  # noqa: E402

__version__ = "0.1.0"
