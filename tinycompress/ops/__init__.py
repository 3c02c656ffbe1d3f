"""The primitive differentiable operations, each a :class:`~tinycompress.autograd.Function`.

Families: ``elementwise`` (arithmetic, math, activations, comparisons), ``reduce`` (sums,
extremes, norms, softmax), ``shape`` (reshape, permute, cat, indexing ...), ``linalg`` (matmul).
``TENSOR_METHODS`` names the functions that ``tensor.py`` binds as Tensor methods.
"""
from .elementwise import (abs, acos, arccos, arcsin, arctan, asin, atan, cos, cosh, reciprocal, sin, sinh, square, tan,
                          greater, greater_equal, less, less_equal, not_equal, add, allclose, cast, clamp, clip, div, divide, eq, equal, erf, exp, ge, gt,
                          hardtanh, isfinite, isnan, le, leaky_relu, log, log1p, logical_and, logical_not,
                          logical_or, logical_xor, lt, maximum, minimum, mul, multiply, ne, neg, negative,
                          pow, relu, rsqrt, sigmoid, sign, softplus, sqrt, sub, subtract, tanh, true_divide,
                          where)
from .linalg import addmm, addmv, baddbmm, bmm, dot, ger, matmul, mm, mv, outer
from .reduce import (all, amax, amin, any, argmax, argmin, argsort, cumprod, cumsum, kthvalue, median, sort, topk,
                     log_softmax, logsumexp, max, mean, min, norm, prod,
                     softmax, std, sum, var)
from .shape import (broadcast_to, cat, chunk, clone, concat, concatenate, contiguous, diag, expand,
                    expand_as, flatten, getitem, masked_fill, pad, permute, repeat, reshape, split,
                    squeeze, stack, swapaxes, t, transpose, unflatten, unsqueeze, unwrap_index, view,
                    view_as, sum_to_size, overwrite, index_put, diagonal, flip, fliplr, flipud, gather,
                    index_add, index_fill, index_select, masked_select, narrow, take_along_dim, repeat_interleave, roll, scatter, scatter_add, trace,
                    tril, triu)

TENSOR_METHODS = (
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "mm", "bmm", "dot",
    "exp", "erf", "log", "log1p", "sqrt", "rsqrt", "abs", "sign", "clamp", "clip", "maximum", "minimum",
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "logsumexp",
    "sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "norm", "argmax", "argmin", "all", "any",
    "reshape", "view", "view_as", "flatten", "unflatten", "permute", "transpose", "t", "squeeze",
    "unsqueeze", "expand", "expand_as", "repeat", "split", "chunk", "masked_fill", "diag", "clone",
    "contiguous", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not",
    "logical_xor", "isnan", "isfinite", "equal", "allclose", "swapaxes", "sum_to_size",
    "sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "square", "reciprocal",
    "narrow", "gather", "scatter", "scatter_add", "index_select", "index_add", "index_fill", "take_along_dim", "masked_select", "flip", "fliplr", "flipud", "roll",
    "repeat_interleave", "tril", "triu", "diagonal", "trace", "mv", "outer", "ger", "addmm", "addmv", "baddbmm",
    "cumsum", "cumprod", "sort", "argsort", "topk", "kthvalue", "median",
)

# Bound as in-place Tensor methods (``add_``, ``clamp_`` ...), recorded by autograd as torch records them.
INPLACE_METHODS = ("add", "sub", "mul", "div", "pow", "neg", "abs", "sign", "exp", "log", "sqrt", "rsqrt",
                   "clamp", "clip", "relu", "sigmoid", "tanh", "masked_fill",
                   "sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "square",
                   "reciprocal", "scatter", "scatter_add", "index_add", "index_fill", "tril", "triu", "cumsum", "cumprod", "addmm", "addmv",
                   "baddbmm")

__all__ = sorted(set(TENSOR_METHODS) | {
    "cast", "divide", "true_divide", "multiply", "subtract", "negative", "hardtanh", "leaky_relu",
    "softplus", "where", "greater", "less", "greater_equal", "less_equal", "not_equal",
    "cat", "concat", "concatenate", "stack", "pad", "getitem", "broadcast_to", "unwrap_index",
    "overwrite", "index_put",
})
