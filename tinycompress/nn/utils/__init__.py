"""``tc.nn.utils``, as ``torch.nn.utils``: ``prune`` (the pruning module), ``clip_grad_norm_``,
``clip_grad_value_``, ``get_total_norm``, ``parameters_to_vector``, ``vector_to_parameters``."""
from . import prune
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["prune", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters"]
