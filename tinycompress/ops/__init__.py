"""The primitive differentiable operations, each a :class:`~tinycompress.autograd.Function`.

Families: ``elementwise`` (arithmetic, math, activations, comparisons), ``reduce`` (sums,
extremes, norms, softmax), ``shape`` (reshape, permute, cat, indexing ...), ``linalg`` (matmul).
``TENSOR_METHODS`` names the functions that ``tensor.py`` binds as Tensor methods.
"""
from .elementwise import (abs, greater, greater_equal, less, less_equal, not_equal, add, allclose, cast, clamp, clip, div, divide, eq, equal, erf, exp, ge, gt,
                          hardtanh, isfinite, isnan, le, leaky_relu, log, log1p, logical_and, logical_not,
                          logical_or, logical_xor, lt, maximum, minimum, mul, multiply, ne, neg, negative,
                          pow, relu, rsqrt, sigmoid, sign, softplus, sqrt, sub, subtract, tanh, true_divide,
                          where)
from .linalg import bmm, dot, matmul, mm
from .reduce import (all, amax, amin, any, argmax, argmin, log_softmax, logsumexp, max, mean, min, norm, prod,
                     softmax, std, sum, var)
from .shape import (broadcast_to, cat, chunk, clone, concat, concatenate, contiguous, diag, expand,
                    expand_as, flatten, getitem, masked_fill, pad, permute, repeat, reshape, split,
                    squeeze, stack, swapaxes, t, transpose, unflatten, unsqueeze, unwrap_index, view,
                    view_as, sum_to_size, overwrite, index_put)

TENSOR_METHODS = (
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "mm", "bmm", "dot",
    "exp", "erf", "log", "log1p", "sqrt", "rsqrt", "abs", "sign", "clamp", "clip", "maximum", "minimum",
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "logsumexp",
    "sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "norm", "argmax", "argmin", "all", "any",
    "reshape", "view", "view_as", "flatten", "unflatten", "permute", "transpose", "t", "squeeze",
    "unsqueeze", "expand", "expand_as", "repeat", "split", "chunk", "masked_fill", "diag", "clone",
    "contiguous", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not",
    "logical_xor", "isnan", "isfinite", "equal", "allclose", "swapaxes", "sum_to_size",
)

# Bound as in-place Tensor methods (``add_``, ``clamp_`` ...), recorded by autograd as torch records them.
INPLACE_METHODS = ("add", "sub", "mul", "div", "pow", "neg", "abs", "sign", "exp", "log", "sqrt", "rsqrt",
                   "clamp", "clip", "relu", "sigmoid", "tanh", "masked_fill")

__all__ = sorted(set(TENSOR_METHODS) | {
    "cast", "divide", "true_divide", "multiply", "subtract", "negative", "hardtanh", "leaky_relu",
    "softplus", "where", "greater", "less", "greater_equal", "less_equal", "not_equal",
    "cat", "concat", "concatenate", "stack", "pad", "getitem", "broadcast_to", "unwrap_index",
    "overwrite", "index_put",
})
