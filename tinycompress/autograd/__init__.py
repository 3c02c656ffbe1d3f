"""Autograd: ``Function`` and its context, the backward engine, grad mode, and study tools."""
from .function import AccumulateGrad, BackwardNode, Context, Function, FunctionCtx, once_differentiable
from . import function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .engine import sum_to_shape
from .grad import backward, grad
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from .graph import to_dot
from .tracing import trace
from . import functional
from .variable import Variable

Node = BackwardNode

__all__ = ["Function", "Context", "FunctionCtx", "Node", "BackwardNode", "once_differentiable", "backward", "grad", "sum_to_shape", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "to_dot", "trace", "functional", "Variable"]
