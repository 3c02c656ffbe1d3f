"""``to_dot``: the graph behind a tensor as Graphviz DOT text, for study and debugging."""
from __future__ import annotations

from ..tensor import Tensor


def to_dot(tensor: Tensor, name: str = "graph") -> str:
    """DOT text with one box per leaf (its shape) and one ellipse per Function node.

    Render it with ``dot -Tpng``; edges point from inputs to the operation that used them. The graph
    of a gradient taken with ``create_graph=True`` draws like any other (its nodes are the backward's ops).
    """
    lines = [f"digraph {name} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    seen = set()

    def label_leaf(t):
        key = f"t{id(t)}"
        if key not in seen:
            seen.add(key)
            flag = ", requires_grad" if t.requires_grad else ""
            lines.append(f'  {key} [shape=box, label="{tuple(t.shape)} {t.dtype}{flag}"];')
        return key

    out_key = f"out{id(tensor)}"
    lines.append(f'  {out_key} [shape=box, style=filled, fillcolor=lightblue, '
                 f'label="output {tuple(tensor.shape)}"];')
    if tensor.grad_fn is None:
        lines.append(f"  {label_leaf(tensor)} -> {out_key};")
        lines.append("}")
        return "\n".join(lines)
    lines.append(f"  n{id(tensor.grad_fn)} -> {out_key};")
    stack = [tensor.grad_fn]
    while stack:
        node = stack.pop()
        key = f"n{id(node)}"
        if key in seen:
            continue
        seen.add(key)
        lines.append(f'  {key} [shape=ellipse, label="{node.name()}"];')
        for edge in node._edges or ():
            if edge is None:
                continue
            parent, slot = edge
            if parent is None:                       # a leaf: slot is the tensor itself
                lines.append(f"  {label_leaf(slot)} -> {key};")
            else:
                lines.append(f"  n{id(parent)} -> {key};")
                stack.append(parent)
    lines.append("}")
    return "\n".join(lines)
