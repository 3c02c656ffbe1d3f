"""Winograd F(2×2, 3×3) (Lavin & Gray 2016) in NumPy, forward + both gradients, against the im2col path the
library uses: a probe, kept to show why the library does not use it (it is slower here).

    python benchmarks/winograd_probe.py

Layout (C, H, W, N), batch innermost, as the library's im2col. Forward: V = Bᵀ d B per 4×4 input tile,
U = G g Gᵀ per kernel, M[ξ] = U[ξ] V[ξ] (16 GEMMs over channels), y = Aᵀ M A per 2×2 output tile. Input
gradient: dM = A dy Aᵀ, dV[ξ] = U[ξ]ᵀ dM[ξ], dx = Σ over tiles of B dV Bᵀ. Weight gradient: dU[ξ] = dM[ξ] V[ξ]ᵀ,
dW = Gᵀ dU G. Prints the largest relative difference from the im2col results and the minimum (median) time
of each, ms, for bnn_conv's two binary layers and a third shape.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
from tinycompress.ops import conv as C  # noqa: E402


G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])


def tiles(n):            # output size n -> tile count
    return -(-n // 2)


def input_transform(xl, pad, out_hw):
    """xl (C, H, W, N) -> V (16, C, th*tw*N)."""
    c, h, w, n = xl.shape
    oh, ow = out_hw
    th, tw = tiles(oh), tiles(ow)
    (pt, pb), (pl, pr) = pad
    xp = np.zeros((c, 2 * th + 2, 2 * tw + 2, n), xl.dtype)
    hh, ww = min(h, 2 * th + 2 - pt), min(w, 2 * tw + 2 - pl)
    xp[:, pt:pt + hh, pl:pl + ww] = xl[:, :hh, :ww]
    d = [xp[:, :, j:j + 2 * tw:2] for j in range(4)]                 # (C, Hp, tw, N)
    u = [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]         # along W
    V = np.empty((4, 4, c, th, tw, n), xl.dtype)
    for b in range(4):
        r = [u[b][:, i:i + 2 * th:2] for i in range(4)]
        np.subtract(r[0], r[2], out=V[0, b])
        np.add(r[1], r[2], out=V[1, b])
        np.subtract(r[2], r[1], out=V[2, b])
        np.subtract(r[1], r[3], out=V[3, b])
    return V.reshape(16, c, th * tw * n)


def weight_transform(w):
    Gd = G.astype(w.dtype)
    U = np.einsum('ai,ocij,bj->aboc', Gd, w, Gd)
    return U.reshape(16, w.shape[0], w.shape[1])


def output_transform(M, out_hw, n):
    """M (16, O, T) -> Y (O, OH, OW, N)."""
    oh, ow = out_hw
    th, tw = tiles(oh), tiles(ow)
    o = M.shape[1]
    M = M.reshape(4, 4, o, th, tw, n)
    r0 = M[0] + M[1]
    r0 += M[2]
    r1 = M[1] - M[2]
    r1 -= M[3]
    Y = np.empty((o, th, 2, tw, 2, n), M.dtype)
    for a, r in enumerate((r0, r1)):
        t = np.add(r[0], r[1], out=Y[:, :, a, :, 0])
        t += r[2]
        t = np.subtract(r[1], r[2], out=Y[:, :, a, :, 1])
        t -= r[3]
    return Y.reshape(o, 2 * th, 2 * tw, n)[:, :oh, :ow]


def grad_transform(gl, out_hw):
    """dY (O, OH, OW, N) -> dM (16, O, T) = A dY Aᵀ per tile (the adjoint of output_transform)."""
    o, oh, ow, n = gl.shape
    th, tw = tiles(oh), tiles(ow)
    if (oh, ow) != (2 * th, 2 * tw):
        gp = np.zeros((o, 2 * th, 2 * tw, n), gl.dtype)
        gp[:, :oh, :ow] = gl
        gl = gp
    y0, y1 = gl[:, 0::2], gl[:, 1::2]                                # rows of each tile (O, th, 2tw, N)
    rows = [y0, y0 + y1, y0 - y1, -y1]
    dM = np.empty((4, 4, o, th, tw, n), gl.dtype)
    for a, r in enumerate(rows):
        c0, c1 = r[:, :, 0::2], r[:, :, 1::2]
        np.copyto(dM[a, 0], c0)
        np.add(c0, c1, out=dM[a, 1])
        np.subtract(c0, c1, out=dM[a, 2])
        np.negative(c1, out=dM[a, 3])
    return dM.reshape(16, o, th * tw * n)


def input_grad(dV, in_shape, pad, out_hw):
    """dV (16, C, T) -> dx (C, H, W, N): B dV Bᵀ per tile, overlapping tiles summed, padding cropped."""
    c, h, w, n = in_shape
    oh, ow = out_hw
    th, tw = tiles(oh), tiles(ow)
    dV = dV.reshape(4, 4, c, th, tw, n)
    rows = [dV[0], dV[1] - dV[2], dV[1] + dV[2], -dV[3]]
    rows[1] += dV[3]
    rows[2] -= dV[0]
    dxp = np.zeros((c, 2 * th + 2, 2 * tw + 2, n), dV.dtype)
    for i, r in enumerate(rows):
        cols = [r[0], r[1] - r[2], r[1] + r[2], -r[3]]
        cols[1] += r[3]
        cols[2] -= r[0]
        for j, piece in enumerate(cols):
            dxp[:, i:i + 2 * th:2, j:j + 2 * tw:2] += piece
    (pt, _), (pl, _) = pad
    return dxp[:, pt:pt + h, pl:pl + w]


def weight_grad(dM, V):
    dU = np.matmul(dM, V.transpose(0, 2, 1))                          # (16, O, C)
    o, c = dU.shape[1:]
    Gd = G.astype(dU.dtype)
    return np.einsum('ai,aboc,bj->ocij', Gd, dU.reshape(4, 4, o, c), Gd)


def t(f, k=20):
    f()
    ts = []
    for _ in range(k):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return np.min(ts) * 1e3, np.median(ts) * 1e3


def main():
    rng = np.random.default_rng(0)
    for (n, c, o, h) in [(100, 32, 64, 14), (100, 64, 128, 7), (64, 64, 64, 8)]:
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
        g = rng.standard_normal((n, o, h, h)).astype(np.float32)
        pad = ((1, 1), (1, 1))
        out = (h, h)
        def wino_all():
            xl = np.ascontiguousarray(x.transpose(1, 2, 3, 0))
            V = input_transform(xl, pad, out)
            U = weight_transform(w)
            Y = output_transform(np.matmul(U, V), out, n)
            y = np.ascontiguousarray(Y.transpose(3, 0, 1, 2))
            gl = np.ascontiguousarray(g.transpose(1, 2, 3, 0))
            dM = grad_transform(gl, out)
            dx = np.ascontiguousarray(input_grad(np.matmul(U.transpose(0, 2, 1), dM), (c, h, h, n), pad, out).transpose(3, 0, 1, 2))
            dw = weight_grad(dM, V)
            return y, dx, dw
        def im2col_all():
            col, _ = C._im2col(x, (3, 3), (1, 1), pad, (1, 1), 1)
            yy = np.matmul(w.reshape(1, o, -1), col)
            y = np.ascontiguousarray(C._from_layout(yy.reshape(o, h, h, n), True))
            gl = C._grad_last(g, 1, True)
            gcol = np.matmul(w.reshape(1, o, -1).transpose(0, 2, 1), gl).reshape((c, 3, 3, h, h, n))
            dxp = C._col2im(lambda *k: gcol[(slice(None),) + k], (c, h + 2, h + 2, n), np.float32, (3, 3), (h, h), (1, 1), (1, 1), axis=1)
            dx = np.ascontiguousarray(C._from_layout(dxp[:, 1:h+1, 1:h+1], True))
            dw = np.matmul(col, gl.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(o, c, 3, 3)
            return y, dx, dw
        a, b = wino_all(), im2col_all()
        print((n, c, o, h), 'max rel err y %.1e dx %.1e dw %.1e' % tuple(np.abs(p - q).max() / np.abs(q).max() for p, q in zip(a, b)))
        print('   winograd fwd+bwd %.2f (med %.2f)   im2col %.2f (med %.2f)' % (t(wino_all) + t(im2col_all)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
