"""Layer ops against torch.nn.functional, one table through the op factory (``strategies.check_op``):
conv1d/conv3d (the N-d convolution behind conv2d), conv_transpose1d/2d/3d (the convolution's input-gradient
Function), layer_norm, group_norm and instance_norm. Each row: forward and gradients in float32 and float64,
finite differences, double backward against torch's and gradgradcheck.
"""
import numpy as np
import torch
import torch.nn.functional as TF

import tinycompress as tc
from tinycompress.nn import functional as F
from strategies import (conv_nd_inputs, norm_inputs, op_table_tests, OpCase)


def _with_stats(fn, wrap):
    """Call ``fn`` with instance_norm's running statistics (arrays in kwargs) converted by ``wrap``."""
    def call(*xs, **kw):
        kw = {k: wrap(v.copy()) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        return fn(*xs, **kw)
    return call


def _row(name, tc_fn, torch_fn, inputs, **opts):
    return OpCase(name, [(f"F.{name}", tc_fn, torch_fn)], inputs, **opts)


CASES = [
    _row("conv1d", F.conv1d, TF.conv1d, conv_nd_inputs(1)),
    _row("conv3d", F.conv3d, TF.conv3d, conv_nd_inputs(3), max_examples=15),
    _row("conv_transpose1d", F.conv_transpose1d, TF.conv_transpose1d, conv_nd_inputs(1, transposed=True)),
    _row("conv_transpose2d", F.conv_transpose2d, TF.conv_transpose2d, conv_nd_inputs(2, transposed=True)),
    _row("conv_transpose3d", F.conv_transpose3d, TF.conv_transpose3d, conv_nd_inputs(3, transposed=True),
         max_examples=15),
    _row("layer_norm", lambda x, *wb, normalized_shape, eps: F.layer_norm(x, normalized_shape, *wb, eps=eps),
         lambda x, *wb, normalized_shape, eps: TF.layer_norm(x, normalized_shape, *wb, eps=eps),
         norm_inputs("layer_norm"), rtol32=1e-4, atol32=1e-4),
    _row("group_norm", lambda x, *wb, num_groups, eps: F.group_norm(x, num_groups, *wb, eps=eps),
         lambda x, *wb, num_groups, eps: TF.group_norm(x, num_groups, *wb, eps=eps),
         norm_inputs("group_norm"), rtol32=1e-4, atol32=1e-4),
    _row("instance_norm",
         _with_stats(lambda x, *wb, **kw: F.instance_norm(x, weight=wb[0] if wb else None,
                                                          bias=wb[1] if len(wb) > 1 else None, **kw), tc.tensor),
         _with_stats(lambda x, *wb, **kw: TF.instance_norm(x, weight=wb[0] if wb else None,
                                                           bias=wb[1] if len(wb) > 1 else None, **kw), torch.tensor),
         norm_inputs("instance_norm"), rtol32=1e-4, atol32=1e-4),
]


# the four tests of the table: forward and gradients vs torch (float32, float64), gradcheck, double backward
# vs torch, gradgradcheck
test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = op_table_tests(
    CASES, gradcheck_examples=4, double_examples=4, gradgrad_examples=2)
