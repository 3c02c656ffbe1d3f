"""``tinycompress.nn.functional`` (``F``): torch.nn.functional's names over the library's Functions.

The activations and utilities defined here are compositions of the library's ops (formula in the
docstring), so their derivatives of every order are those ops' own.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..ops import (flatten, hardtanh, leaky_relu, log_softmax, pad, relu, sigmoid, softmax, softplus, tanh,  # noqa: F401
                   unflatten)
from ..ops._util import as_tensor
from ..tensor import Tensor
from ..ops.linear import linear  # noqa: F401
from ..ops.losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss,  # noqa: F401
                          kl_div, l1_loss, margin_ranking_loss, mse_loss, nll_loss, smooth_l1_loss, soft_margin_loss)

from ..ops.dropout import dropout, dropout1d, dropout2d, dropout3d  # noqa: F401
from ..ops.conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d,  # noqa: F401
                        conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, max_pool1d, max_pool2d)
from ..ops.normalization import batch_norm, group_norm, instance_norm, layer_norm  # noqa: F401



# ----------------------------------------------------------------------------- activations
# ``inplace`` is accepted for torch's signatures and computed out of place (see nn/activation.py).


def relu6(input, inplace=False):
    """min(max(x, 0), 6)"""
    return hardtanh(input, 0.0, 6.0)


def identity(input):
    return input


def silu(input, inplace=False):
    """x·σ(x)"""
    input = as_tensor(input)
    return input * input.sigmoid()


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, α(eˣ − 1) otherwise (eˣ taken of min(x, 0), so a large x never overflows)"""
    input = as_tensor(input)
    return ops.where(input.array > 0, input, alpha * (input.clamp(max=0).exp() - 1))


def selu(input, inplace=False):
    """λ·elu(x, α) with torch's λ = 1.0507009873554805, α = 1.6732632423543772"""
    return 1.0507009873554804934193349852946 * elu(input, 1.6732632423543772848170429916717)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, α(e^{x/α} − 1))"""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu's alpha must not be 0")
    input = as_tensor(input)
    return ops.where(input.array > 0, input, alpha * ((input.clamp(max=0) / alpha).exp() - 1))


def gelu(input, approximate="none"):
    """x·Φ(x) = ½x(1 + erf(x/√2)); ``approximate='tanh'``: ½x(1 + tanh(√(2/π)(x + 0.044715x³)))"""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")
    input = as_tensor(input)
    if approximate == "none":
        return 0.5 * input * (1 + ops.erf(input * (1 / math.sqrt(2))))
    return 0.5 * input * (1 + (math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)).tanh())


def logsigmoid(input):
    """log σ(x) = −softplus(−x)"""
    return -softplus(-as_tensor(input))


def softsign(input):
    """x / (1 + |x|)"""
    input = as_tensor(input)
    return input / (1 + input.abs())


def tanhshrink(input):
    """x − tanh(x)"""
    input = as_tensor(input)
    return input - input.tanh()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(−x) along ``dim``"""
    return softmax(-as_tensor(input), dim, dtype)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6"""
    return relu6(as_tensor(input) + 3) / 6


def hardswish(input, inplace=False):
    """x·relu6(x + 3) / 6"""
    input = as_tensor(input)
    return input * relu6(input + 3) / 6


def mish(input, inplace=False):
    """x·tanh(softplus(x))"""
    input = as_tensor(input)
    return input * softplus(input).tanh()


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``"""
    input = as_tensor(input)
    return ops.where(input.array > threshold, input, value)


def hardshrink(input, lambd=0.5):
    """x where |x| > λ, else 0"""
    input = as_tensor(input)
    return ops.where(np.abs(input.array) > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    """x − λ·sign(x) where |x| > λ, else 0"""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    input = as_tensor(input)
    return ops.where(np.abs(input.array) > lambd, input - lambd * input.sign(), 0.0)


def glu(input, dim=-1):
    """a·σ(b), a and b the two halves of x along ``dim``"""
    input = as_tensor(input)
    if input.ndim == 0 or input.shape[dim] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size "
                           f"{input.shape[dim] if input.ndim else 0}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def prelu(input, weight):
    """max(0, x) + w·min(0, x), w one value or one per channel (dim 1)"""
    input, weight = as_tensor(input), as_tensor(weight)
    if weight.ndim > 1:
        raise RuntimeError("prelu: weight must be a scalar or a 1-D tensor")
    if weight.numel() not in (1, input.shape[1] if input.ndim >= 2 else 1):
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.numel()} and channel size = {input.shape[1] if input.ndim >= 2 else 1}.")
    w = weight.reshape((1, -1) + (1,) * (input.ndim - 2)) if input.ndim >= 2 and weight.ndim == 1 else weight.reshape(())
    return ops.where(input.array > 0, input, w * input)


# ----------------------------------------------------------------------------- utilities


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(‖x‖_p, eps) along ``dim``"""
    input = as_tensor(input)
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)


def one_hot(tensor, num_classes=-1):
    """int64 (*, num_classes) with a 1 at each index (num_classes = max + 1 when −1)."""
    idx = np.asarray(getattr(tensor, "array", tensor))
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if idx.size and idx.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    n = int(idx.max()) + 1 if num_classes == -1 and idx.size else int(num_classes)
    if num_classes == -1 and not idx.size:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    if idx.size and idx.max() >= n:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return Tensor._wrap((idx[..., None] == np.arange(n)).astype(np.int64))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Σ x̂1·x̂2 along ``dim``, x̂ = x / max(‖x‖, eps) (torch's form: each norm clamped on its own)"""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    n1, n2 = (x.norm(2, dim, keepdim=True).clamp(min=eps) for x in (x1, x2))
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """‖x1 − x2 + eps‖_p over the last dim"""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """weight[input]: rows of ``weight`` gathered by the integer ``input``; the row ``padding_idx`` gets
    no gradient. max_norm, scale_grad_by_freq and sparse are not implemented (a clear error)."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not implemented")
    weight = as_tensor(weight)
    idx = np.asarray(getattr(input, "array", input))
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {idx.dtype} instead")
    if padding_idx is not None:
        padding_idx = padding_idx + weight.shape[0] if padding_idx < 0 else padding_idx
        rows = np.zeros((weight.shape[0], 1), bool)
        rows[padding_idx] = True
        weight = ops.where(rows, weight.detach(), weight)            # no gradient into the padding row
    return weight[idx]


def pixel_shuffle(input, upscale_factor):
    """(*, C·r², H, W) → (*, C, H·r, W·r)"""
    input, r = as_tensor(input), int(upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H·r, W·r) → (*, C·r², H, W)"""
    input, r = as_tensor(input), int(downscale_factor)
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, "
                           f"got {h} x {w} and {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
