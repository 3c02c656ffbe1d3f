"""The suite's hypothesis strategies and op-check factory: re-exported from the public kit.

They live in :mod:`tinycompress.testing.strategies` (values, shapes, tensors, conv geometries, optimizer
and scheduler hyper-parameters, losses, compressed layers, the data pipeline) and
:mod:`tinycompress.testing.factory` (``OpCase`` rows, ``op_table_tests``, the ``inputs`` builders), so that
users check their code with what the suite checks the library with. Import them from here in tests
(``from strategies import ...``: pyproject puts tests/ on pytest's ``pythonpath``); add new strategies to
the kit, not here.
"""
from tinycompress.testing.core import compare_once, compare_second_order, no_tiny_values  # noqa: F401
from tinycompress.testing.factory import (  # noqa: F401
    OpCase, binary_inputs, cat_inputs_arrays, check_op, conv_nd_inputs, double_backward_op, fn_variants,
    gradcheck_op, gradgradcheck_op, norm_inputs, op_table_tests, paired_inputs, reduce_kwargs, run_check,
    run_double_backward, run_gradcheck, run_gradgradcheck, same, scalar_and_tensor, unary_inputs, where_inputs)
from tinycompress.testing.strategies import (  # noqa: F401
    IDX_DTYPES, MAX_DIMS, MAX_SIDE, OPTIMIZER_KWARGS, SMALL_DIMS, SMALL_SIDE, OptimProblem, adadelta_kwargs,
    adagrad_kwargs, adam_kwargs, adamax_kwargs, arrays, away_from, basic_indices, binary_conv_geometries,
    bnn_arrays, broadcastable_pairs, broadcastable_shapes, class_loss_cases, conv_configs, conv_geometries, dim_tuples,
    dims, distinct_arrays, distinct_magnitudes, expand_target, floats, floats32, idx_arrays, index_to, indices,
    linear_cases, loader_sizes, masked_linear_case, matmul_shapes, nadam_kwargs, normalize_params, optim_lrs,
    optim_problems, optim_values, pair_loss_cases, pruning_amounts, python_scalars, radam_kwargs, reduce_dims,
    rmsprop_kwargs, same_size_shape, scheduler_lrs, scheduler_specs, seeds, sgd_kwargs, shapes, sides, ste_arrays,
    small_mlp_case, obs_layer_case, quant_ranges, fake_quant_inputs, tensors, uint8_images, untied_pair, upstream)

# the private names the file had before the kit, for tests written against it
from tinycompress.testing.core import _as_array, _second_order, _torch_dtype_name, flat as _flat  # noqa: E402,F401
from tinycompress.testing.factory import _no_kwargs  # noqa: E402,F401
from tinycompress.testing.strategies import _betas, _conv_geometry, _eps, _gammas, _maybe_zero  # noqa: E402,F401

_sides = sides
_no_tiny_values = no_tiny_values
