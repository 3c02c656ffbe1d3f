"""``tinycompress.nn.functional`` (``F``): torch.nn.functional's names over the library's Functions."""
from __future__ import annotations

from ..ops import flatten, hardtanh, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh, unflatten  # noqa: F401
from ..ops.linear import linear  # noqa: F401
from ..ops.losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss,  # noqa: F401
                          mse_loss, nll_loss)

from ..ops.dropout import dropout, dropout1d, dropout2d, dropout3d  # noqa: F401
from ..ops.conv import (adaptive_avg_pool2d, avg_pool2d, conv1d, conv2d, conv3d, conv_transpose1d,  # noqa: F401
                        conv_transpose2d, conv_transpose3d, max_pool2d)
from ..ops.normalization import batch_norm, group_norm, instance_norm, layer_norm  # noqa: F401


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def identity(input):
    return input
