"""Higher-order derivatives on the engine: every backward is written with the library's own ops,
so ``create_graph=True`` records it and it can be differentiated again.

1. Newton's method on the Rosenbrock function, with its exact Hessian (``tc.autograd.functional.hessian``):
   x ← x − H⁻¹∇f.
2. The first four derivatives of tanh, each the gradient of the one before (DeZero's picture), plotted
   to ``higher_order_tanh.png`` when matplotlib is installed, and the graph of the second derivative
   drawn as DOT text (``higher_order_tanh2.dot``; ``dot -Tsvg`` renders it).
3. A Hessian-vector product of an MNIST MLP's loss (``hvp``: one double backward) checked against
   central finite differences of the gradient, (∇L(w + εv) − ∇L(w − εv)) / 2ε.

    python examples/higher_order.py [--data DIR] [--out DIR]
"""
import argparse
import os

import numpy as np

import tinycompress as tc
import tinycompress.nn.functional as F
from tinycompress import nn
from tinycompress.autograd.functional import hessian, hvp


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def newton(start, steps=8):
    """Newton's method: exact gradient and Hessian from the engine, the step from a 2×2 solve."""
    p = tc.tensor(start, dtype=tc.float64, requires_grad=True)
    for step in range(steps):
        f = rosenbrock(p)
        (g,) = tc.autograd.grad(f, p)
        H = hessian(rosenbrock, p)
        with tc.no_grad():
            p = p - tc.tensor(np.linalg.solve(H.numpy(), g.numpy()))
        p.requires_grad_(True)
        print(f"  step {step + 1}: x = {p.array.round(6).tolist()}  f = {rosenbrock(p).item():.3e}")
    return p


def tanh_derivatives(x, order=4):
    """[tanh, tanh', tanh'', ...] at ``x``: each the gradient of the previous, with create_graph."""
    y = tc.tanh(x)
    curves = [y]
    for _ in range(order):
        (y,) = tc.autograd.grad(y.sum(), x, create_graph=True)
        curves.append(y)
    return curves


def mlp_hvp_check(data, seed=0, eps=1e-4):
    """Hessian-vector product of a small MLP's cross-entropy on 256 MNIST images, vs finite differences."""
    from tinycompress.data import MNIST
    tc.manual_seed(seed)
    ds = MNIST(data, train=False, allow_subset=True)
    x = tc.tensor(ds.data[:256].reshape(256, -1).astype(np.float64) / 255.0)
    y = tc.tensor(ds.targets[:256])
    model = nn.Sequential(nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 10)).double()
    params = tuple(model.parameters())
    shapes = [p.shape for p in params]
    sizes = [int(np.prod(s)) for s in shapes]

    def loss_of(*ws):
        h = F.linear(x, ws[0], ws[1]).tanh()
        return F.cross_entropy(F.linear(h, ws[2], ws[3]), y)

    rng = np.random.default_rng(seed)
    v = tuple(tc.tensor(rng.standard_normal(s)) for s in shapes)
    _, Hv = hvp(loss_of, params, v)

    def flat_grad(w_flat):
        ws, start = [], 0
        for s, n in zip(shapes, sizes):
            ws.append(tc.tensor(w_flat[start:start + n].reshape(s), requires_grad=True))
            start += n
        grads = tc.autograd.grad(loss_of(*ws), ws)
        return np.concatenate([g.numpy().ravel() for g in grads])

    w = np.concatenate([p.array.ravel() for p in params])
    v_flat = np.concatenate([t.array.ravel() for t in v])
    numeric = (flat_grad(w + eps * v_flat) - flat_grad(w - eps * v_flat)) / (2 * eps)
    analytic = np.concatenate([h.array.ravel() for h in Hv])
    rel = np.abs(analytic - numeric).max() / np.abs(numeric).max()
    print(f"  {'bundled subset' if ds.is_subset else 'full MNIST'}: |Hv| = {np.linalg.norm(analytic):.4f}, "
          f"max |Hv - finite differences| / max |Hv| = {rel:.2e}")
    return rel


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="a folder holding MNIST (else $TINYCOMPRESS_DATA or the bundled subset)")
    parser.add_argument("--out", default=".", help="where to write the plot and the DOT file")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    print("1. Newton's method on Rosenbrock from (-1.2, 1.0):")
    p = newton([-1.2, 1.0])
    assert np.allclose(p.array, [1.0, 1.0], atol=1e-6), "Newton did not reach the minimum (1, 1)"

    print("2. tanh and its first four derivatives:")
    x = tc.linspace(-4, 4, 201, dtype=tc.float64, requires_grad=True)
    curves = tanh_derivatives(x)
    t = np.tanh(x.array)
    exact = [t, 1 - t**2, -2 * t * (1 - t**2), (1 - t**2) * (6 * t**2 - 2), 8 * t * (1 - t**2) * (2 - 3 * t**2)]
    for k, (c, e) in enumerate(zip(curves, exact)):
        print(f"  order {k}: max |engine - closed form| = {np.abs(c.array - e).max():.1e}")
    dot = tc.autograd.to_dot(tanh_derivatives(x, order=2)[-1], name="tanh_second_derivative")
    with open(os.path.join(args.out, "higher_order_tanh2.dot"), "w") as f:
        f.write(dot)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        for k, c in enumerate(curves):
            ax.plot(x.array, c.array, label="tanh" if k == 0 else f"order {k}")
        ax.set_xlabel("x"), ax.legend(), ax.set_title("tanh and its derivatives, by repeated autograd.grad")
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "higher_order_tanh.png"), dpi=100)
        print(f"  plot: {os.path.join(args.out, 'higher_order_tanh.png')}")
    except ImportError:
        print("  (install matplotlib for the plot: pip install -e '.[plot]')")

    print("3. Hessian-vector product of an MNIST MLP's loss:")
    rel = mlp_hvp_check(args.data)
    assert rel < 1e-5, "the Hessian-vector product disagrees with finite differences"


if __name__ == "__main__":
    main()
