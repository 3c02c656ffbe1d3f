"""``to_dot``: the graph behind a tensor as Graphviz DOT text (or an SVG), for study and debugging.

Each Function node is drawn with its name (``MulBackward0``), the first line of its backward's formula
docstring, the shape and dtype of its output, and the tensors it saved for backward; each leaf with its
shape, dtype and whether it requires grad. ``show_values`` adds a summary of each value (the numbers
themselves when there are at most four, else mean, std and range); ``show_grads`` adds the gradient a
leaf holds in ``.grad`` after backward, and the gradient that reached each node when the backward ran
under :func:`tinycompress.autograd.trace` (or for outputs kept with ``retain_grad()``).
"""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np

from ..tensor import Tensor


def summary(array) -> str:
    """A value in a few characters: the numbers when there are at most four, else mean, std and range."""
    a = np.asarray(array)
    if a.size == 0:
        return "empty"
    if a.dtype.kind not in "fiub":
        return str(a.dtype)
    if a.size <= 4:
        return "[" + ", ".join(f"{v:.4g}" for v in a.ravel().tolist()) + "]"
    f = a.astype(np.float64)
    return f"mean {f.mean():.4g}, std {f.std():.4g}, range [{f.min():.4g}, {f.max():.4g}]"


def grad_summary(array) -> str:
    """A gradient in a few characters: its L2 norm, and the numbers when there are at most four."""
    a = np.asarray(array, dtype=np.float64)
    norm = f"norm {np.linalg.norm(a.ravel()):.4g}"
    return norm if a.size > 4 else f"{summary(array)}, {norm}"


def formula(node) -> str:
    """The first line of the backward's docstring (its formula), or ''."""
    doc = getattr(getattr(getattr(node, "_function", None), "backward", None), "__doc__", None)
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""


def saved_arrays(node) -> list:
    """The arrays a node saved for backward (None where it saved None), without unpacking checks."""
    out = []
    for entry in node._saved or ():
        if entry is None:
            out.append(None)
        elif isinstance(entry, Tensor):                 # forward still running: not yet packed
            out.append(entry.array)
        elif isinstance(entry, tuple):                  # (tensor, version)
            out.append(entry[0].array)
        else:                                           # a saved output of the node itself
            out.append(entry.array)
    return out


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _label(lines) -> str:
    return "\\n".join(_escape(line) for line in lines if line)


def to_dot(tensor: Tensor, name: str = "graph", show_values: bool = False, show_grads: bool = False,
           path: str | None = None) -> str:
    """The graph that computed ``tensor``, as DOT text: one box per leaf, one ellipse per Function node,
    edges from inputs to the operation that used them (the output in blue).

    ``show_values``/``show_grads`` add value and gradient summaries (see the module docstring). The graph
    of a gradient taken with ``create_graph=True`` draws like any other (its nodes are the backward's ops).
    With ``path``, the drawing is also written there: as SVG when Graphviz's ``dot`` is on the PATH, else
    as DOT text (the file then ends in ``.dot``); the DOT text is returned either way.
    """
    lines = [f'digraph "{_escape(name)}" {{', "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    seen = set()

    def label_leaf(t):
        key = f"t{id(t)}"
        if key not in seen:
            seen.add(key)
            flag = ", requires_grad" if t.requires_grad else ""
            text = [f"{tuple(t.shape)} {t.dtype}{flag}"]
            if show_values:
                text.append(summary(t.array))
            if show_grads and t.grad is not None:
                text.append("grad: " + grad_summary(t.grad.array))
            lines.append(f'  {key} [shape=box, label="{_label(text)}"];')
        return key

    out_key = f"out{id(tensor)}"
    text = [f"output {tuple(tensor.shape)} {tensor.dtype}"]
    if show_values:
        text.append(summary(tensor.array))
    if show_grads and tensor.grad is not None:
        text.append("grad: " + grad_summary(tensor.grad.array))
    lines.append(f'  {out_key} [shape=box, style=filled, fillcolor=lightblue, label="{_label(text)}"];')
    if tensor.grad_fn is None:
        lines.append(f"  {label_leaf(tensor)} -> {out_key};")
        return _finish(lines, path)
    lines.append(f"  n{id(tensor.grad_fn)} -> {out_key};")
    stack = [tensor.grad_fn]
    while stack:
        node = stack.pop()
        key = f"n{id(node)}"
        if key in seen:
            continue
        seen.add(key)
        lines.append(f'  {key} [shape=ellipse, label="{_label(_node_lines(node, show_values, show_grads))}"];')
        for edge in node._edges or ():
            if edge is None:
                continue
            parent, slot = edge
            if parent is None:                       # a leaf: slot is the tensor itself
                lines.append(f"  {label_leaf(slot)} -> {key};")
            else:
                lines.append(f"  n{id(parent)} -> {key};")
                stack.append(parent)
    return _finish(lines, path)


def _node_lines(node, show_values, show_grads) -> list:
    line = formula(node).split("   ")[0].strip()              # the formula, without its trailing remark
    text = [node.name(), line if len(line) <= 60 else line[:59] + "…"]
    for i, meta in enumerate(node._meta or ()):
        if meta is not None:
            text.append(f"out{'' if len(node._meta) == 1 else i}: {tuple(meta[0])} {np.dtype(meta[1])}")
    if node._freed:
        text.append("(freed by backward: saved tensors released)")
    else:
        for i, a in enumerate(saved_arrays(node)):
            if a is not None:
                text.append(f"saved[{i}]: {tuple(a.shape)}" + (f" {summary(a)}" if show_values else ""))
    if show_grads:
        grads = getattr(node, "_traced_grads", None)
        if grads is None and node._retained:
            grads = {i: ref().grad.array for i, ref in node._retained.items()
                     if ref() is not None and ref().grad is not None}
        for i, g in sorted((grads or {}).items()):
            text.append(f"grad out{'' if len(node._meta) == 1 else i}: {grad_summary(g)}")
    return text


def _finish(lines, path) -> str:
    lines.append("}")
    dot = "\n".join(lines)
    if path is not None:
        render(dot, path)
    return dot


def render(dot: str, path: str) -> str:
    """Write DOT text as an SVG at ``path`` with Graphviz's ``dot`` when it is on the PATH; otherwise write
    the DOT text itself (to ``path`` with its extension replaced by ``.dot``). Returns the path written."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    exe = shutil.which("dot")
    if exe is not None:
        result = subprocess.run([exe, "-Tsvg", "-o", path], input=dot, text=True, capture_output=True)
        if result.returncode == 0:
            return path
    path = os.path.splitext(path)[0] + ".dot"
    with open(path, "w", encoding="utf-8") as f:
        f.write(dot + "\n")
    return path
