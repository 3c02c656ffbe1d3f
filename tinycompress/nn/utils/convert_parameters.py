"""``torch.nn.utils.parameters_to_vector`` / ``vector_to_parameters``."""
from __future__ import annotations

from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """All the parameters flattened and concatenated into one vector (recorded by autograd, as torch)."""
    from ...ops import cat
    if isinstance(parameters, Tensor):
        raise TypeError(f"expected an iterable of Tensors, got {type(parameters).__name__}")
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' data (each reshaped to its parameter)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[pointer:pointer + n].reshape(tuple(p.shape)).data
        pointer += n
