"""Autograd: ``Function`` and its context, the backward engine, grad mode, and study tools."""
from .function import Context, Function, Node
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .engine import backward, sum_to_shape
from .gradcheck import gradcheck, GradcheckError
from .graph import to_dot

FunctionCtx = Context

__all__ = ["Function", "Context", "FunctionCtx", "Node", "backward", "sum_to_shape", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "gradcheck", "GradcheckError", "to_dot"]
