"""``Function``: torch's contract, on Tensors (DESIGN §1).

Every differentiable operation, the library's and the user's, is one of these::

    class Binarize(Function):
        @staticmethod
        def forward(ctx, x):                      # x: Tensor
            ctx.save_for_backward(x)
            return x.sign()                       # a Tensor (an ndarray is accepted too)

        @staticmethod
        def backward(ctx, grad_output):           # grad_output: Tensor shaped like the output
            (x,) = ctx.saved_tensors
            grad_output[x.abs() > 1] = 0          # the engine hands each backward a gradient it may overwrite
            return grad_output

    y = Binarize.apply(t)

``apply`` runs ``forward`` with recording off and, when grad mode is on and an input requires
grad, records a :class:`BackwardNode`: the context ``forward`` wrote to, which is also the
output's ``grad_fn``. The engine later calls ``backward`` with one gradient per output, with
recording on only under ``create_graph=True``: a backward written with the library's ops is then
itself recorded, and can be differentiated again.
"""
from __future__ import annotations

import functools
import weakref

import numpy as np

from . import grad_mode
from ..tensor import Tensor

_state = grad_mode._state


class BackwardNode:
    """The context of one call (``ctx``) and, once recorded, the graph node behind its outputs.

    Public, as torch's: ``needs_input_grad``, ``save_for_backward`` / ``saved_tensors``,
    ``mark_non_differentiable``, ``mark_dirty``, ``set_materialize_grads``, ``next_functions``,
    ``name()``, ``register_hook``, ``register_prehook``; ``forward`` may set any other attribute.
    """

    # What a call leaves unset reads these class defaults, so that a context costs two attribute writes
    # (``Function.apply`` makes one per call, recorded or not); each is set on the instance when used.
    materialize_grads = True
    _saved = ()
    _edges = None               # per input: None, or (parent node, output index) / (None, leaf)
    _meta = None                # per output: (shape, dtype)
    _dirty = ()
    _non_differentiable = ()
    _freed = False
    _pre_hooks = None           # {output index: [fn(grad) -> grad or None]} from Tensor.register_hook
    _retained = None            # {output index: weakref to the tensor} from retain_grad()
    _hooks = None               # node hooks: fn(grad_inputs, grad_outputs)
    _prehooks = None            # node pre-hooks: fn(grad_outputs)

    def __init__(self, function, needs_input_grad: tuple) -> None:
        self._function = function
        self.needs_input_grad = needs_input_grad

    # ----------------------------------------------------------------- what forward leaves
    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or None) for ``backward``; read them back from ``saved_tensors``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                i = next(i for i, t in enumerate(tensors) if t is not None and not isinstance(t, Tensor))
                raise TypeError(f"save_for_backward can only save tensors (or None), but argument {i} is "
                                f"of type {type(t).__name__}: wrap an array as tc.as_tensor(array)")
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The saved tensors; torch's error if the graph was freed or one was modified in place."""
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors after "
                "they have already been freed). Saved intermediate values of the graph are freed when you "
                "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
                "through the graph a second time or if you need to access saved tensors after calling backward.")
        saved = self._saved
        if type(saved) is tuple:                      # not yet packed: forward is still running
            return saved
        return tuple([_unpack(self, entry) for entry in saved])

    def mark_non_differentiable(self, *outputs) -> None:
        """Declare outputs (e.g. indices) that never carry a gradient."""
        self._non_differentiable = tuple(_array_of(o) for o in outputs)

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that ``forward`` modified in place (and returns as outputs)."""
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """When False, ``backward`` receives ``None`` (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    # ----------------------------------------------------------------- the graph
    def name(self) -> str:
        """torch's name for this node: the one the call chose (``named``), else the Function's
        ``grad_fn_name`` (a string, or a function of ctx for names that depend on the call), else
        the class name with ``Backward0`` (``Backward`` for a user's Function)."""
        own = vars(self).get("grad_fn_name") or self._function.grad_fn_name
        if own is not None:
            return own if type(own) is str else own(self)
        suffix = "0" if self._function.__module__.startswith("tinycompress.") else ""
        return f"{self._function.__name__}Backward{suffix}"

    @property
    def next_functions(self) -> tuple:
        """One ``(node, output index)`` per input: an ``AccumulateGrad`` for leaves, ``(None, 0)`` for
        inputs that need no gradient."""
        out = []
        for edge in self._edges or ():
            if edge is None:
                out.append((None, 0))
            elif edge[0] is None:
                out.append((AccumulateGrad(edge[1]), 0))
            else:
                out.append(edge)
        return tuple(out)

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` after this node's backward; may return new grad_inputs."""
        self._hooks = (self._hooks or []) + [fn]
        return _NodeHookHandle(self, "_hooks", fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` before this node's backward; may return new grad_outputs."""
        self._prehooks = (self._prehooks or []) + [fn]
        return _NodeHookHandle(self, "_prehooks", fn)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


Context = BackwardNode          # what forward and backward call ``ctx``
FunctionCtx = BackwardNode


class AccumulateGrad:
    """The node that stands for a leaf in ``next_functions`` (its ``.variable`` is the leaf)."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


class _NodeHookHandle:
    def __init__(self, node, attr, fn) -> None:
        self._node, self._attr, self._fn = weakref.ref(node), attr, fn

    def remove(self) -> None:
        node = self._node()
        hooks = getattr(node, self._attr, None) if node is not None else None
        if hooks and self._fn in hooks:
            setattr(node, self._attr, [h for h in hooks if h is not self._fn] or None)


# --------------------------------------------------------------------------- saved tensors
class _SavedOutput:
    """A saved output of the node itself: kept as its array (no reference cycle through the node),
    unpacked as a Tensor whose ``grad_fn`` is the node, so a backward that uses it is differentiable."""

    __slots__ = ("array", "index", "version_box", "version")

    def __init__(self, array, index, version_box) -> None:
        self.array, self.index, self.version_box, self.version = array, index, version_box, version_box[0]


def _unpack(node, entry):
    if entry is None:
        return None
    if type(entry) is _SavedOutput:
        version = entry.version_box[0]
        if version != entry.version:
            raise _modified_error(node, entry.array, f", which is output {entry.index} of {_op_name(node)},", version,
                                  entry.version)
        t = Tensor._wrap(entry.array, node, entry.index)
        t._vc = entry.version_box
        return t
    tensor, version = entry
    if (tensor._vc[0] if tensor._vc is not None else 0) != version:
        where = (f", which is output {tensor._out_index} of {_op_name(tensor.grad_fn)},"
                 if tensor.grad_fn is not None else "")
        raise _modified_error(node, tensor.array, where, tensor._version, version)
    return tensor


def _modified_error(node, array, where, now, expected):
    kind = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor"}.get(array.dtype, "Tensor")
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[tinycompress.{kind} {list(array.shape)}]{where} is at version {now}; expected version "
        f"{expected} instead. Hint: the backward of {node.name()} needs it; do the in-place change out of "
        "place (y = y + 1), or clone() it first.")


def _op_name(node) -> str:
    """The operation behind a node as torch's error messages name it: ``Mul`` for ``MulBackward0``."""
    name = node.name()
    return name[:name.rindex("Backward")] if "Backward" in name else name


def named(out: Tensor, grad_fn_name: str) -> Tensor:
    """``out`` with its node named as torch names it for this call (``unsqueeze`` records a reshape,
    torch an ``UnsqueezeBackward0``); nothing when ``out`` was not recorded."""
    if out.grad_fn is not None:
        out.grad_fn.grad_fn_name = grad_fn_name
    return out


def _array_of(x):
    return x.array if isinstance(x, Tensor) else x


# --------------------------------------------------------------------------- Function
class Function:
    """Base class of differentiable operations; subclass and write ``forward`` and ``backward``."""

    grad_fn_name = None     # torch's node name where it is not ours + 'Backward0' (see BackwardNode.name)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs:
            for value in kwargs.values():
                if isinstance(value, Tensor) and value.requires_grad:
                    _check_keywords(cls, kwargs)
        needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        ctx = _new_node(BackwardNode)                 # BackwardNode(cls, needs) without the call
        ctx._function, ctx.needs_input_grad = cls, needs
        if _state.enabled:
            _state.enabled = False
            try:
                result = cls.forward(ctx, *args, **kwargs)
            finally:
                _state.enabled = True
            if True in needs:
                if not ctx._dirty and not ctx._non_differentiable:
                    if type(result) is np.ndarray:
                        return _record_one(ctx, args, result)
                    if isinstance(result, np.generic):    # a full reduction's NumPy scalar: as a 0-d array
                        array = _saved_scalar(ctx._saved, args, result)
                        return _record_one(ctx, args, np.asarray(result) if array is None else array)
                return _record(cls, ctx, args, result)
        else:
            result = cls.forward(ctx, *args, **kwargs)
        if ctx._dirty:
            for t in ctx._dirty:
                t._bump()
        if type(result) is np.ndarray:                # the lean path's common case: one array out
            return Tensor._wrap(result)
        if type(result) is not tuple:
            return _lean_output(result, cls, ctx)
        return tuple([_lean_output(o, cls, ctx) for o in result])


_new_node = object.__new__


def _check_keywords(cls, kwargs) -> None:
    """Keyword arguments are not graph inputs: a tensor there that requires grad would silently get none."""
    for key, value in kwargs.items():
        if isinstance(value, Tensor) and value.requires_grad:
            raise TypeError(f"{cls.__name__}.apply: keyword argument '{key}' is a Tensor that requires grad; "
                            "tensor arguments must be positional to get a gradient")


def _lean_output(o, cls, ctx):
    if type(o) is np.ndarray:
        return Tensor._wrap(o)
    if isinstance(o, Tensor):
        if any(o is d for d in ctx._dirty):
            return o
        return o if o.grad_fn is None and not o.requires_grad else Tensor._wrap(o.array)
    return _non_tensor_output(o, cls)


def _non_tensor_output(o, cls):
    if isinstance(o, (np.ndarray, np.generic, int, float, bool)):
        return Tensor._wrap(np.asarray(o))
    if o is None:
        return None
    raise TypeError(f"{cls.__name__}.forward must return Tensors or arrays (or a tuple of them), "
                    f"got {type(o).__name__}")


def _record_one(ctx, args, array):
    """:func:`_record` for the common call: one array out, nothing dirty or non-differentiable."""
    ctx._edges = [((a.grad_fn, a._out_index) if a.grad_fn is not None else (None, a)) if need else None
                  for a, need in zip(args, ctx.needs_input_grad)]
    out = Tensor._wrap(array, ctx, 0)
    ctx._meta = [(array.shape, array.dtype)]
    if ctx._saved:
        packed = []
        for s in ctx._saved:
            if s is None:
                packed.append(None)
            elif s.array is array and not any(s is a for a in args):      # the output, saved in forward
                packed.append(_SavedOutput(array, 0, out._version_box()))
            else:
                packed.append((s, s._vc[0] if s._vc is not None else 0))
        ctx._saved = packed
    return out


def _record(cls, ctx, args, result):
    """Wrap the outputs with ``ctx`` as their ``grad_fn`` and freeze what backward needs."""
    single = type(result) is not tuple
    outputs = (result,) if single else result
    ctx._edges = [((a.grad_fn, a._out_index) if a.grad_fn is not None else (None, a)) if need else None
                  for a, need in zip(args, ctx.needs_input_grad)]
    dirty = ctx._dirty
    non_diff = ctx._non_differentiable
    saved = ctx._saved
    wrapped, meta, boxes = [], [], {}
    for i, o in enumerate(outputs):
        if o is None:
            wrapped.append(None)
            meta.append(None)
            continue
        if isinstance(o, Tensor) and any(o is d for d in dirty):
            if o.grad_fn is None and o.requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            o._bump()
            t = o
            t.grad_fn, t._out_index = ctx, i
        else:
            array = raw = o.array if isinstance(o, Tensor) else o
            if type(array) is not np.ndarray:
                array = _saved_scalar(saved, args, raw)
                if array is None:
                    array = _non_tensor_output(raw, cls).array
            t = Tensor._wrap(array, ctx, i)
            if non_diff and raw is not array and any(raw is a for a in non_diff):
                non_diff = non_diff + (array,)      # a NumPy scalar marked non-differentiable
        if any(t.array is a for a in non_diff if a is not None):
            t.grad_fn, t.requires_grad = None, False
        else:
            t.requires_grad = True
        wrapped.append(t)
        meta.append((t.array.shape, t.array.dtype))
        boxes[id(t.array)] = (t, i)
    ctx._meta = meta
    if saved:
        packed = []
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        for s in saved:
            if s is None:
                packed.append(None)
            elif id(s) not in inputs and id(s.array) in boxes and boxes[id(s.array)][0].grad_fn is ctx:
                out, index = boxes[id(s.array)]
                packed.append(_SavedOutput(out.array, index, out._version_box()))
            else:
                packed.append((s, s._version))
        ctx._saved = packed
    return wrapped[0] if single else tuple(wrapped)


def _saved_scalar(saved, args, scalar):
    """The array of a saved tensor made from ``scalar``, a NumPy scalar that forward returned.

    A ufunc on a 0-d array returns a NumPy scalar, so ``out = np.tanh(x.array);
    ctx.save_for_backward(as_tensor(out)); return out`` saves a 0-d array that is not the output's:
    the saved tensor with the same dtype and bits (made in forward: no graph, no version) is taken
    as the output, as it is for every other shape."""
    if not isinstance(scalar, np.generic) or not saved:
        return None
    for s in saved:
        if (isinstance(s, Tensor) and s.grad_fn is None and not s.requires_grad and s._vc is None
                and s.array.ndim == 0 and s.array.dtype == scalar.dtype
                and s.array.tobytes() == scalar.tobytes() and not any(s is a for a in args)):
            return s.array
    return None


# --------------------------------------------------------------------------- once_differentiable
class _DelayedError(Function):
    """Stands for a backward that exists only once: differentiating through it is an error."""

    @staticmethod
    def forward(ctx, x):
        return x.array

    @staticmethod
    def backward(ctx, *grads):
        """no formula: the backward it stands for was computed outside the graph, so this raises"""
        raise RuntimeError(ctx.message)


def once_differentiable(backward):
    """Mark a ``backward`` as computed outside the graph (NumPy, say): it runs with recording off,
    and under ``create_graph`` its results carry a node that raises if they are differentiated."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            results = backward(ctx, *grads)
        return _guard_double_backward(ctx, grads, results)
    return wrapper


def _guard_double_backward(ctx, grads, results):
    """Under ``create_graph``, attach results computed outside the graph to an error node whose edges
    are the node's own and the gradients', so that a double backward names the Function."""
    if not _state.enabled:
        return results
    edges = [e for e in (ctx._edges or ()) if e is not None]
    edges += [((g.grad_fn, g._out_index) if g.grad_fn is not None else (None, g))
              for g in grads if isinstance(g, Tensor) and g.requires_grad]
    if not edges:
        return results
    single = not isinstance(results, tuple)
    out = []
    for r in ((results,) if single else results):
        if r is None:
            out.append(None)
            continue
        array = np.asarray(_array_of(r))
        node = BackwardNode(_DelayedError, (True,) * len(edges))
        node.message = (f"trying to differentiate twice a function that was marked with @once_differentiable: "
                        f"{ctx.name()} has no double backward (its backward is computed outside the graph)")
        node._edges, node._meta = edges, [(array.shape, array.dtype)]
        out.append(Tensor._wrap(array, node, 0))
    return out[0] if single else tuple(out)
