"""``Tensor``: an ndarray (``.array``) with the autograd bookkeeping around it.

A Tensor holds its array, its gradient (``.grad``, a Tensor or None), whether it requires
one, and ``grad_fn``, the graph node of the Function that produced it (None for leaves).
Arithmetic and methods are not written here one by one: they are bound at the bottom of
this file from one table onto the functions of :mod:`tinycompress.ops`, each a ``Function``.
"""
from __future__ import annotations

import numbers
import operator
import warnings
import weakref

import numpy as np

_FLOATING = (np.float16, np.float32, np.float64)

# torch's legacy tensor-type names, by dtype (``Tensor.type()``, ``tc.FloatTensor`` ...)
TENSOR_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
                     np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor",
                     np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
                     np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
                     np.dtype(np.bool_): "BoolTensor"}


class Size(tuple):
    """torch.Size: the tuple of a tensor's sizes, printed ``tinycompress.Size([2, 3])``.

    Slicing, ``+`` and ``*`` give Sizes, ``numel()`` the number of elements; everywhere else it is
    the tuple it is (``==``, unpacking, NumPy shapes)."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        try:
            return tuple.__new__(cls, [operator.index(n) for n in sizes])
        except TypeError:
            bad = next(i for i, n in enumerate(sizes) if not hasattr(n, "__index__"))
            raise TypeError(f"tinycompress.Size() takes an iterable of 'int' (item {bad} is "
                            f"'{type(sizes[bad]).__name__}')") from None

    def __repr__(self) -> str:
        return f"tinycompress.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for side in self:
            n *= side
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return tuple.__new__(Size, out) if isinstance(index, slice) else out

    def __add__(self, other):
        return tuple.__new__(Size, tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return tuple.__new__(Size, tuple(other) + tuple(self))

    def __mul__(self, n):
        return tuple.__new__(Size, tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __reduce__(self):
        return (Size, (tuple(self),))


_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                 "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class device:
    """torch.device: ``device('cpu')``, ``device('cuda:0')``, ``device('cuda', 0)``.

    Any of torch's device types can be named (scripts build ``device('cuda' if ... else 'cpu')``),
    but tensors live on the CPU only: moving one elsewhere is an error."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None) -> None:    # noqa: A002  (torch's argument name)
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        kind, colon, number = type.partition(":")
        if kind not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device "
                               f"string: {type}")
        if colon:
            if index is not None or not number.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(number)
        self.type, self.index = kind, (None if index is None else operator.index(index))

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


_CPU = device("cpu")


def _to_cpu_only(where) -> None:
    """Accept 'cpu' (a str or a device); name any other device in a clear error."""
    target = where if isinstance(where, device) else device(where)
    if target.type != "cpu":
        raise RuntimeError(f"tinycompress runs on the CPU only (NumPy): cannot move a tensor to '{target}'. "
                           "Use 'cpu' (tc.cuda.is_available() is False), or drop the .to()/.cuda() call")


def _default_dtype_for(data) -> np.dtype | None:
    """torch's inference: Python floats give float32, ints int64, bools bool; arrays keep theirs."""
    if isinstance(data, np.ndarray):
        return None
    if isinstance(data, np.generic):
        return None
    probe = np.asarray(data)
    if probe.dtype.kind == "f":
        return np.dtype(np.float32)
    if probe.dtype.kind in "iu":
        return np.dtype(np.int64)
    return None


class Tensor:
    """A multi-dimensional array that can record the operations applied to it."""

    __slots__ = ("array", "grad", "requires_grad", "grad_fn", "_out_index", "_vc", "_hooks", "__weakref__")
    __array_ufunc__ = None            # NumPy defers to our reflected operators: ndarray + Tensor -> Tensor
    __hash__ = object.__hash__        # == is elementwise, identity hashing keeps tensors usable as keys

    def __init__(self, *args, dtype=None, requires_grad: bool = False, device=None) -> None:
        """torch's legacy constructor: ``Tensor(*sizes)`` is an uninitialised tensor of the default
        float dtype; ``Tensor(sequence)`` holds the data in that dtype. ``Tensor(ndarray)`` and
        ``Tensor(tensor)`` share the array and keep its dtype (tinycompress's zero-copy wrap)."""
        if len(args) == 1 and type(args[0]) is np.ndarray and dtype is None:     # the common wrap
            self.array = args[0]
        else:
            self.array = _legacy_array(args, dtype, "Tensor")
        if device is not None:
            _to_cpu_only(device)
        self.grad = None
        self.grad_fn = None
        self._out_index = 0
        self._vc = None
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_data(cls, data, dtype=None) -> "Tensor":
        """A Tensor holding ``data`` with torch.tensor's dtype inference (Python floats give
        float32, ints int64, bools bool; arrays and Tensors keep theirs), sharing arrays."""
        if isinstance(data, Tensor):
            data = data.array
        dtype = np.dtype(dtype) if dtype is not None else _default_dtype_for(data)
        return cls._wrap(np.asarray(data, dtype=dtype))

    @classmethod
    def _wrap(cls, array: np.ndarray, grad_fn=None, index: int = 0) -> "Tensor":
        """A Tensor around ``array`` with no copy and no checks (the engine's constructor)."""
        t = object.__new__(cls)
        t.array = array
        t.grad = None
        t.grad_fn = grad_fn
        t._out_index = index
        t._vc = None
        t._hooks = None
        t.requires_grad = grad_fn is not None
        return t

    # ----------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on (of
        ``inputs`` only, when given); ``create_graph`` records the backward for higher derivatives."""
        _engine.backward(self, gradient, retain_graph, create_graph, inputs)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and self.array.dtype.type not in _FLOATING:
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, this one is "
                               f"{self.array.dtype}: convert it with .float() first")
        self.requires_grad = bool(requires_grad)
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it.
        Returns a handle whose ``remove()`` unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            handle = _RemovableHandle(self._hooks)
            self._hooks[handle.id] = hook
            return handle
        node = self.grad_fn
        if node._pre_hooks is None:
            node._pre_hooks = {}
        hooks = node._pre_hooks.setdefault(self._out_index, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (accumulated, as torch)."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self.grad_fn._retained is None:
            self.grad_fn._retained = {}
        self.grad_fn._retained[self._out_index] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        return bool(node is not None and node._retained and self._out_index in node._retained)

    def detach(self) -> "Tensor":
        """The same array, cut from the graph (shares memory and the version counter, as torch's)."""
        t = Tensor._wrap(self.array)
        t._vc = self._version_box()
        return t

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self.requires_grad = False
        return self

    # version counter: bumped by every in-place change, checked by backwards that saved the tensor
    @property
    def _version(self) -> int:
        return self._vc[0] if self._vc is not None else 0

    def _version_box(self) -> list:
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def _bump(self) -> None:
        if self._vc is None:
            self._vc = [1]
        else:
            self._vc[0] += 1

    @property
    def data(self) -> "Tensor":
        """torch's ``.data``: a Tensor sharing this one's memory, outside the graph."""
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__}; "
                            "to swap the NumPy array itself, assign tensor.array")
        self.array = value.array

    # ----------------------------------------------------------------- array facts
    @property
    def shape(self) -> Size:
        return tuple.__new__(Size, self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def size(self, dim: int | None = None):
        """The sizes as a :class:`Size`, or the size of dimension ``dim``."""
        if dim is None:
            return tuple.__new__(Size, self.array.shape)
        ndim = self.array.ndim
        if ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
        return self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return self.array.size

    nelement = numel

    def element_size(self) -> int:
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    @property
    def itemsize(self) -> int:
        return self.array.itemsize

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    # ----------------------------------------------------------------- conversion
    def item(self):
        if self.array.size != 1:
            raise RuntimeError(f"a Tensor with {self.array.size} elements cannot be converted to a Python "
                               "scalar: index it first or use .tolist()")
        return self.array.item()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy()")
        return self.array

    def tolist(self):
        return self.array.tolist()

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of a Tensor with {self.array.size} values is ambiguous")
        return bool(self.array)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.array)

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None) -> "Tensor":
        """torch's ``.to(dtype)``, ``.to(device[, dtype])``, ``.to(other)``: a cast (differentiable), or
        this tensor itself when nothing changes (a copy with ``copy=True``). Devices other than the
        CPU are an error."""
        flags = []
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.array.dtype
            elif isinstance(arg, (str, _device_type)):
                device = arg
            elif isinstance(arg, bool):
                flags.append(arg)                           # positional non_blocking, copy
            else:
                dtype = arg
        if len(flags) > 1:
            copy = flags[1]
        if device is not None:
            _to_cpu_only(device)
        out = self if dtype is None else _ops.cast(self, _tensor_type_dtype(dtype))
        return _ops.clone(out) if copy and out is self else out

    def cpu(self, memory_format=None) -> "Tensor":
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None) -> "Tensor":
        _to_cpu_only(device if isinstance(device, (str, _device_type)) else "cuda")

    def type(self, dtype=None, non_blocking=False):
        """``type()`` is torch's type name ('tinycompress.FloatTensor'); ``type(t)`` casts to ``t``, a
        dtype, a tensor type (``tc.DoubleTensor``) or its name ('torch.DoubleTensor' reads too)."""
        if dtype is None:
            return "tinycompress." + TENSOR_TYPE_NAMES.get(self.array.dtype, str(self.array.dtype))
        return self.to(_tensor_type_dtype(dtype))

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.array.dtype)

    # ----------------------------------------------------------------- new tensors like this one
    def new_tensor(self, data, dtype=None, requires_grad=False, device=None) -> "Tensor":
        """A new tensor holding a copy of ``data``, of this tensor's dtype unless told."""
        if isinstance(data, Tensor):
            warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                          "or sourceTensor.detach().clone().requires_grad_(True), rather than "
                          "tensor.new_tensor(sourceTensor).", UserWarning, stacklevel=2)
            data = data.array
        return self._new(np.array(data, dtype=dtype or self.array.dtype), requires_grad, device)

    def new_zeros(self, *size, dtype=None, requires_grad=False, device=None) -> "Tensor":
        return self._new(np.zeros(_sizes(size), dtype or self.array.dtype), requires_grad, device)

    def new_ones(self, *size, dtype=None, requires_grad=False, device=None) -> "Tensor":
        return self._new(np.ones(_sizes(size), dtype or self.array.dtype), requires_grad, device)

    def new_empty(self, *size, dtype=None, requires_grad=False, device=None) -> "Tensor":
        return self._new(np.empty(_sizes(size), dtype or self.array.dtype), requires_grad, device)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False, device=None) -> "Tensor":
        return self._new(np.full(_sizes((size,)), fill_value, dtype or self.array.dtype), requires_grad, device)

    @staticmethod
    def _new(array, requires_grad, device) -> "Tensor":
        if device is not None:
            _to_cpu_only(device)
        t = Tensor._wrap(array)
        return t.requires_grad_(True) if requires_grad else t

    def float(self) -> "Tensor":
        return self.to(np.float32)

    def double(self) -> "Tensor":
        return self.to(np.float64)

    def half(self) -> "Tensor":
        return self.to(np.float16)

    def long(self) -> "Tensor":
        return self.to(np.int64)

    def int(self) -> "Tensor":
        return self.to(np.int32)

    def bool(self) -> "Tensor":
        return self.to(np.bool_)

    # ----------------------------------------------------------------- in place
    def _inplace(self, compute, what: str) -> "Tensor":
        """Replace this tensor's values by ``compute(self)`` in its own memory, as torch's in-place ops.

        Recorded when grad mode is on and this tensor or an operand requires grad: ``compute`` runs
        on a stand-in holding the old values, and this tensor takes the result's ``grad_fn``.
        """
        operands_need_grad = getattr(compute, "needs_grad", False)
        if _grad_mode._state.enabled and (self.requires_grad or operands_need_grad):
            if self.grad_fn is None and self.requires_grad:
                raise RuntimeError(f"{what}: a leaf Variable that requires grad is being used in an in-place "
                                   "operation. Do it under `with tc.no_grad():` (or on .data).")
            old = Tensor._wrap(self.array.copy(), self.grad_fn, self._out_index)
            old.requires_grad = self.requires_grad
            result = compute(old)
            self._write(result.array, what)
            self.grad_fn, self._out_index, self.requires_grad = result.grad_fn, result._out_index, result.requires_grad
            if result.grad_fn is not None:
                result.grad_fn._meta[result._out_index] = (self.array.shape, self.array.dtype)
        else:
            with _grad_mode.no_grad():
                result = compute(self)
            self._write(result.array if isinstance(result, Tensor) else result, what)
        self._bump()
        return self

    def _write(self, values, what: str) -> None:
        values = np.asarray(values)
        if values.shape != self.array.shape and np.broadcast_shapes(values.shape, self.array.shape) != self.array.shape:
            raise RuntimeError(f"{what}: output with shape {list(self.array.shape)} doesn't match the broadcast "
                               f"shape {list(np.broadcast_shapes(values.shape, self.array.shape))}")
        if not np.can_cast(values.dtype, self.array.dtype, "same_kind"):
            raise RuntimeError(f"{what}: result type {values.dtype} can't be cast to the desired output type "
                               f"{self.array.dtype}")
        np.copyto(self.array, values, casting="unsafe")

    def zero_(self):
        return _named(self._inplace(_overwrite(0), "zero_"), "ZeroBackward0")

    def fill_(self, value):
        return _named(self._inplace(_overwrite(value), "fill_"),
                      "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")

    def copy_(self, src, non_blocking=False):
        src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        if np.broadcast_shapes(src.shape, self.shape) != self.shape:
            raise RuntimeError(f"copy_: source of shape {tuple(src.shape)} cannot be broadcast to {tuple(self.shape)}")
        return _named(self._inplace(_overwrite(src), "copy_"), "torch::autograd::CopyBackwards")

    def uniform_(self, a=0.0, b=1.0, generator=None):
        gen = _random.as_numpy_generator(generator)
        return self._inplace(_overwrite(gen.uniform(a, b, self.shape)), "uniform_")

    def normal_(self, mean=0.0, std=1.0, generator=None):
        gen = _random.as_numpy_generator(generator)
        return self._inplace(_overwrite(gen.normal(mean, std, self.shape)), "normal_")

    def __setitem__(self, index, value) -> None:
        self._inplace(_with_operands(lambda s, v: _ops.index_put(s, index, v), value), "index assignment")

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ----------------------------------------------------------------- printing
    def __repr__(self) -> str:
        """torch's repr (``torch/_tensor_str.py``): same value formatting, wrapping and suffixes."""
        prefix = "tensor("
        suffixes = []
        if self.array.size == 0:
            body = "[]"
            if self.array.ndim != 1:
                suffixes.append(f"size={self.array.shape}")
        else:
            summarize = self.array.size > _PRINT_THRESHOLD
            shown = _summarized(self.array) if summarize else self.array
            body = _tensor_str(self.array, len(prefix), summarize, _Formatter(shown))
        if self.array.dtype not in (np.float32, np.int64, np.bool_):
            suffixes.append(f"dtype=tinycompress.{self.array.dtype}")
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        text = prefix + body
        last_line = len(text) - text.rfind("\n") + 1          # torch counts this way
        for suffix in suffixes:
            if last_line + len(suffix) + 2 > _LINE_WIDTH:
                text += ",\n" + " " * len(prefix) + suffix
                last_line = len(prefix) + len(suffix)
            else:
                text += ", " + suffix
                last_line += len(suffix) + 2
        return text + ")"


# ----------------------------------------------------------------------------- printing, as torch
_PRINT_THRESHOLD, _EDGE_ITEMS, _LINE_WIDTH, _PRECISION = 1000, 3, 80, 4


class _Formatter:
    """One format for every element: floats are whole ('1.'), fixed ('1.0000') or scientific
    ('1.0000e+00', when finite non-zero magnitudes span > 1000x, exceed 1e8, or, for non-whole
    values, go below 1e-4); all padded to the widest finite non-zero value."""

    def __init__(self, data: np.ndarray) -> None:
        self.floating = data.dtype.kind == "f"
        self.whole, self.sci, self.width = True, False, 0
        if not self.floating:
            self.width = max(len(str(v)) for v in data.reshape(-1).tolist())
            return
        finite = data[np.isfinite(data) & (data != 0)].astype(np.float64)
        if finite.size == 0:
            return
        lo, hi = np.abs(finite).min(), np.abs(finite).max()
        self.whole = bool(np.all(finite == np.ceil(finite)))
        self.sci = hi / lo > 1000.0 or hi > 1.0e8 or (not self.whole and lo < 1.0e-4)
        self.width = max(len(self._text(v)) for v in finite.tolist())

    def _text(self, v) -> str:
        if not self.floating:
            return str(v)
        if self.sci:
            return f"{v:.{_PRECISION}e}"
        if self.whole:
            return f"{v:.0f}" + ("" if np.isinf(v) or np.isnan(v) else ".")
        return f"{v:.{_PRECISION}f}"

    def format(self, v) -> str:
        return self._text(v).rjust(self.width)


def _summarized(data: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows (edge items of every dimension)."""
    if data.ndim == 0:
        return data
    if data.shape[0] > 2 * _EDGE_ITEMS:
        data = np.concatenate([data[:_EDGE_ITEMS], data[-_EDGE_ITEMS:]])
    if data.ndim == 1:
        return data
    return np.stack([_summarized(row) for row in data])


def _tensor_str(data: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    """Nested brackets, torch's line filling (elements per line from the width) and '...' rows."""
    if data.ndim == 0:
        return formatter.format(data.item())
    long = summarize and data.shape[0] > 2 * _EDGE_ITEMS
    if data.ndim == 1:
        values = data.tolist()
        items = ([formatter.format(v) for v in values[:_EDGE_ITEMS]] + [" ..."] +
                 [formatter.format(v) for v in values[-_EDGE_ITEMS:]]) if long else [formatter.format(v) for v in values]
        per_line = max(1, (_LINE_WIDTH - indent) // (formatter.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(data.shape[0])
    if long:
        rows = list(range(_EDGE_ITEMS)) + [None] + list(range(data.shape[0] - _EDGE_ITEMS, data.shape[0]))
    parts = ["..." if i is None else _tensor_str(data[i], indent + 1, summarize, formatter) for i in rows]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


# ----------------------------------------------------------------------------- construction helpers
_device_type = device


def _sizes(size) -> tuple:
    """The sizes of ``f(*size)``: ints, or one tuple / list / Size of them; negative ones are an error."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        size = tuple(operator.index(n) for n in size)
    except TypeError:
        raise TypeError(f"sizes must be ints or one tuple of ints, got {tuple(size)!r}") from None
    for n in size:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: {list(size)}")
    return size


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _legacy_array(args, dtype, name):
    """The array of torch's legacy constructors (``Tensor``, ``FloatTensor`` ...): ``(*sizes)`` or a
    ``Size`` gives an uninitialised array, one sequence gives its data. ``dtype=None`` means the
    default float dtype for sizes and sequences, and the own dtype of an ndarray or a Tensor."""
    if all(_is_int(a) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
        sizes = _sizes(args) if args else (0,)
        return np.empty(sizes, dtype=np.dtype(dtype) if dtype is not None else _factories.get_default_dtype())
    if len(args) != 1:
        raise TypeError(f"{name}() takes either sizes (ints) or one sequence of data, got "
                        f"({', '.join(type(a).__name__ for a in args)}); pass dtype= by keyword")
    data = args[0]
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, numbers.Number):
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__}): use "
                        f"tc.tensor({data!r}) for a 0-d tensor, or {name}(n) with an int n for n elements")
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data, dtype=dtype)
    return np.asarray(data).astype(np.dtype(dtype) if dtype is not None else _factories.get_default_dtype(), copy=False)


def _tensor_type_dtype(dtype):
    """A dtype from a dtype, a tensor type (``tc.DoubleTensor``) or its name ('torch.DoubleTensor')."""
    if isinstance(dtype, str) and dtype.rpartition(".")[2] in _DTYPE_OF_TYPE_NAME:
        return _DTYPE_OF_TYPE_NAME[dtype.rpartition(".")[2]]
    tensor_type_dtype = getattr(dtype, "_tensor_type_dtype", None)
    return tensor_type_dtype if tensor_type_dtype is not None else dtype


_DTYPE_OF_TYPE_NAME = {name: dtype for dtype, name in TENSOR_TYPE_NAMES.items()}


# ----------------------------------------------------------------------------- in-place helpers
class _RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks, hook=None) -> None:
        self.hooks, self.hook = hooks, hook
        _RemovableHandle._next_id += 1
        self.id = _RemovableHandle._next_id

    def remove(self) -> None:
        if isinstance(self.hooks, dict):
            self.hooks.pop(self.id, None)
        elif self.hook in self.hooks:
            self.hooks.remove(self.hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _with_operands(fn, *operands):
    """``compute(self)`` for ``Tensor._inplace``, knowing whether an operand requires grad."""
    compute = lambda s: fn(s, *operands)     # noqa: E731
    compute.needs_grad = any(isinstance(o, Tensor) and o.requires_grad for o in operands)
    return compute


def _overwrite(value):
    """``compute`` for fill_/zero_/copy_/uniform_/normal_: the result is ``value`` broadcast to the
    tensor (its gradient flows to ``value`` when that requires grad; the old values get none)."""
    return _with_operands(lambda s, v: _ops.overwrite(s, v), value)


def _inplace_method(name):
    op = getattr(_ops, name)

    def method(self, *args, **kwargs):
        return self._inplace(_with_operands(lambda s, *a: op(s, *a, **kwargs), *args), name + "_")
    method.__name__ = name + "_"
    method.__doc__ = f"In-place ``{name}`` (torch's ``Tensor.{name}_``)."
    return method


# ----------------------------------------------------------------------------- operator table
# Every arithmetic operator and op-method of Tensor is bound here, from one table onto the
# functions of tinycompress.ops (DESIGN §8: a table of bindings, not dozens of dunders).
from . import random as _random  # noqa: E402
from .autograd import engine as _engine, grad_mode as _grad_mode  # noqa: E402
from .autograd.function import named as _named  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import factories as _factories  # noqa: E402


def _reflected(fn, grad_fn_name=None):
    """``other OP self``; torch names some of these nodes differently (``1 - x`` is an Rsub)."""
    if grad_fn_name is None:
        return lambda self, other: fn(other, self)
    return lambda self, other: _named(fn(other, self), grad_fn_name)


_OPERATORS = {
    "__add__": _ops.add, "__radd__": _reflected(_ops.add),
    "__sub__": _ops.sub, "__rsub__": _reflected(_ops.sub, "RsubBackward1"),
    "__mul__": _ops.mul, "__rmul__": _reflected(_ops.mul),
    "__truediv__": _ops.div, "__rtruediv__": _reflected(_ops.div, "MulBackward0"),
    "__pow__": _ops.pow, "__rpow__": _reflected(_ops.pow),
    "__matmul__": _ops.matmul, "__rmatmul__": _reflected(_ops.matmul),
    "__neg__": _ops.neg, "__pos__": lambda self: self, "__abs__": _ops.abs,
    "__eq__": _ops.eq, "__ne__": _ops.ne, "__lt__": _ops.lt, "__le__": _ops.le,
    "__gt__": _ops.gt, "__ge__": _ops.ge,
    "__and__": _ops.logical_and, "__or__": _ops.logical_or, "__xor__": _ops.logical_xor,
    "__invert__": _ops.logical_not,
    "__getitem__": _ops.getitem,
}
for _name, _fn in _OPERATORS.items():
    setattr(Tensor, _name, _fn)
for _name in _ops.TENSOR_METHODS:
    setattr(Tensor, _name, getattr(_ops, _name))
for _name in _ops.INPLACE_METHODS:
    setattr(Tensor, _name + "_", _inplace_method(_name))
Tensor.T = property(lambda self: _ops.permute(self, *reversed(range(self.ndim))))
Tensor.mT = property(lambda self: _ops.transpose(self, -2, -1))
