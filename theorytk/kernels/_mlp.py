"""Analytic NNGP and NTK of fully connected networks (infinite width), in neural-tangents'
convention, with traced hyperparameters and bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import check_scalar, is_concrete
from ._activations import Activation, get_activation

PARAMETERIZATIONS = ("ntk", "standard")

# Elementwise work per block: entries x (evaluations of phi per entry). Bounds the memory of
# the intermediates (~10 arrays of this many numbers at once, ~320 MB in float64).
_BLOCK_EVALS = 2**22
# A symmetric Gram (x2 = None) with at least this many rows is computed in _SYMMETRIC_SPLIT^2
# tiles of which only the upper triangle (including the diagonal tiles) is evaluated.
_SYMMETRIC_MIN_ROWS = 256
_SYMMETRIC_SPLIT = 8
# The tiles run in steps of as many tiles as fit in about this many entries (a step's complex
# carry, 2 MB in float32, stays in cache through all layers): each kernel launch then covers
# several tiles, and fewer launches mean less dispatch and thread hand-off per call.
_STEP_ENTRIES = 2**18


class MLPKernels(NamedTuple):
    """NNGP and NTK Gram matrices of a network's scalar output, each of shape (n1, n2)."""

    nngp: Array
    ntk: Array


class _Network(eqx.Module):
    """The traced hyperparameters and static shape of the network (internal)."""

    activation: Activation
    sigma_w: Array
    sigma_b: Array
    widths: Array | None  # fan-ins of the Dense layers for "standard": (d, n_1, ..., n_depth)
    depth: int = eqx.field(static=True)

    def dense(self, post: Array, ntk: Array, layer: int) -> tuple[Array, Array]:
        """(nngp, ntk) after Dense layer `layer` (0 = first) from its input kernel and ntk."""
        return self._dense(post, ntk, None if self.widths is None else self.widths[layer])

    def _dense(self, post: Array, ntk: Array, fan_in: Array | None) -> tuple[Array, Array]:
        """A Dense layer: nngp = sigma_w^2 post + sigma_b^2 and ntk = nngp + sigma_w^2 ntk
        ("ntk") or ntk = fan_in post + sigma_w^2 ntk + 1 ("standard", neural-tangents)."""
        nngp = self.sigma_w**2 * post + self.sigma_b**2
        if self.widths is None:
            return nngp, nngp + self.sigma_w**2 * ntk
        return nngp, fan_in * post + self.sigma_w**2 * ntk + 1

    def forward(
        self,
        q: Array,
        kernel: Callable[[Array, Array], tuple[Array, Array]],
        pre: Array | tuple[Array, Array],
        keep_hidden: bool = False,
    ) -> tuple[Array, Array, Array | None]:
        """Propagate the input kernel q = x.x'/d through the network.

        `kernel(nngp, pre_l)` is the activation's map at a hidden layer (elementwise or
        diagonal), `pre` a pytree of per-layer arrays with leading axis depth (the variances
        the elementwise map needs). Returns the output (nngp, ntk) and, if `keep_hidden`, the
        stacked pre-activation kernels of the hidden layers (else None).

        Layers 2..depth run in a `lax.scan`: its carry is materialised each layer, whereas an
        unrolled loop lets XLA fuse the whole chain into every output and recompute earlier
        layers (depth^2 work). The carry is one complex array nngp + i ntk, so that each layer
        is one fusion that evaluates the activation's map once for both kernels (two real
        carries give two fusions, each evaluating it). The first layer is applied outside the
        scan, so that it fuses with the computation of q.
        """
        fan_in = self.widths[1:] if self.widths is not None else jnp.zeros(self.depth)

        def layer(nngp: Array, ntk: Array, pre_l: Array, width: Array) -> tuple[Array, Array]:
            post, dot = kernel(nngp, pre_l)
            return self._dense(post, ntk * dot, width)

        def step(carry: Array, xs: tuple) -> tuple[Array, Array | None]:
            nngp, ntk = _unpack(carry)
            return _pack(*layer(nngp, ntk, *xs)), nngp if keep_hidden else None

        nngp0, ntk0 = self.dense(q, jnp.zeros_like(q), 0)
        first, rest = _split_first((pre, fan_in))
        carry = _pack(*layer(nngp0, ntk0, *first))
        carry, hidden = jax.lax.scan(step, carry, rest)
        nngp, ntk = _unpack(carry)
        if keep_hidden:
            hidden = jnp.concatenate([nngp0[None], hidden])
        return nngp, ntk, hidden


def _split_first(tree: tuple) -> tuple[tuple, tuple]:
    """(the first, the remaining) entries along the leading axis of every leaf."""
    first = jax.tree_util.tree_map(lambda a: a[0], tree)
    return first, jax.tree_util.tree_map(lambda a: a[1:], tree)


def _pack(nngp: Array, ntk: Array) -> Array | tuple[Array, Array]:
    """nngp + i ntk for float32/float64 (no complex type for lower precisions: the pair)."""
    if nngp.dtype in (jnp.float32, jnp.float64):
        return jax.lax.complex(nngp, ntk)
    return nngp, ntk


def _unpack(carry: Array | tuple[Array, Array]) -> tuple[Array, Array]:
    """(nngp, ntk) from `_pack`'s result."""
    if isinstance(carry, tuple):
        return carry
    return jnp.real(carry), jnp.imag(carry)


def mlp_kernels(
    x1: Float[ArrayLike, "n1 d"],
    x2: Float[ArrayLike, "n2 d"] | None = None,
    *,
    depth: int,
    activation: str | Activation | Callable[[Array], Array],
    sigma_w: float | ArrayLike,
    sigma_b: float | ArrayLike,
    parameterization: str = "ntk",
    width: int | Sequence[int] | ArrayLike | None = None,
) -> MLPKernels:
    """NNGP and NTK of an infinitely wide fully connected network with `depth` hidden layers.

    The network is neural-tangents' (0.6.5)

        stax.serial(*[Dense(W_std=sigma_w, b_std=sigma_b), act] * depth,
                    Dense(W_std=sigma_w, b_std=sigma_b))

    and the results agree with its `kernel_fn(x1, x2, ("nngp", "ntk"))` to ~1e-13 in float64
    for every named activation (tests/kernels/test_mlp_kernels.py). Recursion (Neal 1996;
    Lee et al. 2018; Jacot et al. 2018): the input kernel is Sigma_0 = x.x'/d; each Dense maps
    (Sigma, Theta) to (sigma_w^2 Sigma + sigma_b^2, ...) and each activation maps
    Sigma -> E[phi(u) phi(v)] and Theta -> Theta E[phi'(u) phi'(v)], (u, v) ~ N(0, Sigma), with
    the activation's closed form or quadrature (`theorytk.kernels.Activation`).

    Parameterizations (as neural-tangents' `Dense`):
      - "ntk": z = sigma_w W x / sqrt(fan_in) + sigma_b b with W, b ~ N(0, 1); the Dense NTK
        update is Theta <- Sigma_new + sigma_w^2 Theta. The widths do not matter.
      - "standard": W ~ N(0, sigma_w^2 / fan_in), b ~ N(0, sigma_b^2), z = W x + b, all trained;
        Theta <- fan_in Sigma_in + sigma_w^2 Theta + 1, where fan_in is d for the first layer
        and the hidden widths n_1..n_depth after (neural-tangents' `out_dim`s), given by
        `width`. The NNGP is the same as for "ntk"; the NTK grows with the widths.

    Hyperparameters are traced: `jax.vmap` over (sigma_w, sigma_b), `jax.grad` w.r.t. them (and
    an activation's own parameters, e.g. `leaky_relu(slope)`); the singular points x = x' and
    x = 0 have finite derivatives. Pairs of identical inputs (the diagonal, or a row of x2 equal
    to a row of x1, detected by a bitwise hash) take the exact one-point values (rho = 1
    exactly); distinct parallel inputs with sigma_b = 0 have rho = 1 only up to rounding and,
    as in neural-tangents, are accurate to ~sqrt(eps) there. Symmetric Grams (x2 = None, >= 256
    rows) evaluate only the upper triangle of an 8 x 8 tiling. Large Grams are computed in
    blocks, so intermediate memory is bounded (~2^22 entries x evaluations per entry per
    block). In float32, relu-type activations use a degree-9 polynomial for the angle (fit
    error 2e-8).

    Args:
        x1: inputs, shape (n1, d), finite.
        x2: inputs, shape (n2, d), finite; None means x1 (symmetric Gram).
        depth: number of hidden layers (>= 1).
        activation: a name in `theorytk.kernels.ACTIVATION_NAMES` ("relu", "leaky_relu",
            "abs", "erf", "identity", "gelu", "sin", "cos", "tanh", "softplus"), an
            `Activation`, or any elementwise callable (integrated by `Quadrature`).
        sigma_w: weight standard deviation (>= 0), traced (a traced value < 0 gives NaN).
        sigma_b: bias standard deviation (>= 0), traced (a traced value < 0 gives NaN).
        parameterization: "ntk" or "standard".
        width: hidden-layer widths for "standard": an int (all layers) or `depth` numbers
            (may be traced); ignored for "ntk", as neural-tangents ignores `out_dim` there.

    Returns:
        `MLPKernels(nngp, ntk)`, each (n1, n2), in the floating dtype of the inputs.
    """
    _check_inputs(x1, x2, depth, sigma_w, sigma_b, parameterization, width)
    dtype = jnp.result_type(float, x1, x2 if x2 is not None else x1)
    # Python-number parameters of the activation become arrays: traced, not compiled in.
    act = jax.tree_util.tree_map(
        lambda v: jnp.asarray(v, dtype) if isinstance(v, float | int) else v,
        get_activation(activation),
    )
    x1 = jnp.asarray(x1, dtype)
    widths = None
    if parameterization == "standard":
        hidden = jnp.broadcast_to(jnp.asarray(width, dtype), (depth,))
        widths = jnp.concatenate([jnp.full((1,), x1.shape[1], dtype), hidden])
    net = _Network(act, _nonnegative(sigma_w, dtype), _nonnegative(sigma_b, dtype), widths, depth)
    return _kernels(net, x1, None if x2 is None else jnp.asarray(x2, dtype))


class _Points(NamedTuple):
    """Per-point data, leading axis = point: inputs, hidden-layer variances, the exact
    one-point (x = x') output kernels, and a bitwise hash of the input row."""

    x: Array  # (n, d)
    pre: Array  # (n, depth)
    nngp: Array  # (n,)
    ntk: Array  # (n,)
    hash: Array  # (n, 2) uint32


@eqx.filter_jit
def _kernels(net: _Network, x1: Array, x2: Array | None) -> MLPKernels:
    """The Gram of x1 against x2 (x1 itself if None), compiled once per shape and network."""
    budget = max(1, _BLOCK_EVALS // net.activation.evals_per_entry)
    p1 = _points(net, x1)
    if x2 is None:
        if x1.shape[0] < _SYMMETRIC_MIN_ROWS:
            return _rectangular(net, p1, p1, budget)
        return _upper_tiles(net, p1)
    return _rectangular(net, p1, _points(net, x2), budget)


def _points(net: _Network, x: Array) -> _Points:
    """Variances at every hidden layer and the diagonal (nngp, ntk), by the one-point map."""
    q = jnp.sum(x**2, axis=1) / x.shape[1]
    dummy = jnp.zeros((net.depth,), x.dtype)
    nngp, ntk, hidden = net.forward(q, lambda var, _: net.activation.diag(var), dummy, True)
    return _Points(x, hidden.T, nngp, ntk, _row_hash(x))


def _row_hash(x: Array) -> Array:
    """Two 32-bit hashes of each row's bits (signed zeros unified): equal rows, equal hashes.

    Each 32-bit word of a row is salted by its position and mixed by MurmurHash3's finaliser
    (a bijection in which every input bit flips each output bit with probability ~1/2), and
    the mixed words are summed. Mixing before summing matters: a plain weighted sum of the
    words sees only their low bits once multiplied, and inputs such as small integers (whose
    float words are zero but for a few high bits) would collide. Integer arithmetic is exact,
    so the hash does not depend on how a row is reduced; two distinct rows collide with
    probability ~2^-64.
    """
    unsigned = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint32}[x.dtype.itemsize]
    bits = jax.lax.bitcast_convert_type(jnp.where(x == 0, jnp.zeros_like(x), x), unsigned)
    bits = bits.reshape(x.shape[0], -1).astype(jnp.uint32)
    salts = np.random.default_rng(0).integers(0, 2**32, (2, bits.shape[1]), np.uint64)
    return jnp.stack(
        [
            jnp.sum(_mix32(bits ^ jnp.asarray(salt, jnp.uint32)), axis=1, dtype=jnp.uint32)
            for salt in salts
        ],
        axis=1,
    )


def _mix32(h: Array) -> Array:
    """MurmurHash3's 32-bit finaliser (fmix32), elementwise on uint32."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def _tile(net: _Network, p1: _Points, p2: _Points) -> MLPKernels:
    """The (nngp, ntk) block of points p1 against p2.

    Pairs of identical inputs (x = x', e.g. the diagonal of a symmetric Gram) take the exact
    one-point values: there rho = 1 exactly, whereas q11 q22 - q12^2 computed from a matmul is
    a rounding-level number whose square root (~sqrt(eps)) would leak into the kernel.
    """
    q12 = p1.x @ p2.x.T / p1.x.shape[1]

    def kernel(cov: Array, pre: tuple[Array, Array]) -> tuple[Array, Array]:
        return net.activation.kernel(cov, pre[0][:, None], pre[1][None, :])

    nngp, ntk, _ = net.forward(q12, kernel, (p1.pre.T, p2.pre.T))
    # Elementwise in the two hash words (no reduction), so XLA fuses the test into the selects.
    same = (p1.hash[:, None, 0] == p2.hash[None, :, 0]) & (
        p1.hash[:, None, 1] == p2.hash[None, :, 1]
    )
    return MLPKernels(
        jnp.where(same, p1.nngp[:, None], nngp), jnp.where(same, p1.ntk[:, None], ntk)
    )


def _rectangular(net: _Network, p1: _Points, p2: _Points, budget: int) -> MLPKernels:
    """Gram of p1 against p2, in blocks of rows of at most `budget` entries each."""
    n1, n2 = p1.x.shape[0], p2.x.shape[0]
    rows = max(1, budget // max(n2, 1))
    if rows >= n1:
        return _tile(net, p1, p2)
    blocks = _blocks(p1, rows)
    out = jax.lax.map(lambda block: _tile(net, block, p2), blocks)
    return MLPKernels(*(k.reshape(-1, n2)[:n1] for k in out))


def _upper_tiles(net: _Network, p: _Points) -> MLPKernels:
    """Gram of p against itself from the tiles (I, J), I <= J, of an S x S tiling.

    A step evaluates several tiles at once (vmapped, `_tiles_per_step`) through all layers,
    writes each in place into the output at (I, J), then mirrors it from there to (J, I).
    """
    n, split = p.x.shape[0], _SYMMETRIC_SPLIT
    size = -(-n // split)
    blocks = _blocks(p, size)
    pairs = np.triu_indices(split)
    group = _tiles_per_step(pairs[0].size, size * size)
    rows, cols = (jnp.asarray(i.reshape(-1, group)) for i in pairs)

    def write(k: Array, out: MLPKernels) -> MLPKernels:
        i, j = rows[k], cols[k]
        pick = lambda idx: jax.tree_util.tree_map(lambda a: a[idx], blocks)  # noqa: E731
        tiles = jax.vmap(lambda a, b: _tile(net, a, b))(pick(i), pick(j))
        put = jax.lax.dynamic_update_slice
        for t in range(group):
            corner = (i[t] * size, j[t] * size)
            out = MLPKernels(*[put(o, step[t], corner) for o, step in zip(out, tiles, strict=True)])
        for t in range(group):
            out = MLPKernels(*[_mirror(o, i[t] * size, j[t] * size, size) for o in out])
        return out

    zeros = jnp.zeros((split * size, split * size), p.x.dtype)
    out = jax.lax.fori_loop(0, rows.shape[0], write, MLPKernels(zeros, zeros))
    return MLPKernels(*(k[:n, :n] for k in out))


def _tiles_per_step(tiles: int, entries: int) -> int:
    """The largest divisor of `tiles` (the tile count) whose tiles of `entries` each fit in
    _STEP_ENTRIES together; 1 if a single tile does not."""
    fit = max(1, _STEP_ENTRIES // entries)
    return max(d for d in range(1, tiles + 1) if tiles % d == 0 and d <= fit)


def _mirror(out: Array, row: Array, col: Array, size: int) -> Array:
    """out with its size x size block at (row, col) copied, transposed, to (col, row); a
    diagonal block (row = col) keeps its own values.

    The block is read back from the (real) output rather than transposed out of the step's
    complex carry: XLA's transposing loop costs about 0.2 ns an entry on the former and 0.8 ns
    on the latter (single core, `benchmarks/ntk_analytic.py --profile`).
    """
    block = jax.lax.dynamic_slice(out, (row, col), (size, size))
    return jax.lax.dynamic_update_slice(out, jnp.where(row == col, block, block.T), (col, row))


def _blocks(p: _Points, rows: int) -> _Points:
    """Split the points into blocks of `rows` (padding by repeating the last point)."""
    count = -(-p.x.shape[0] // rows)
    return jax.tree_util.tree_map(
        lambda a: _pad_rows(a, count * rows).reshape(count, rows, *a.shape[1:]), p
    )


def _pad_rows(a: Array, rows: int) -> Array:
    """Pad the leading axis to `rows` by repeating the last row (valid, finite inputs)."""
    return jnp.pad(a, [(0, rows - a.shape[0])] + [(0, 0)] * (a.ndim - 1), mode="edge")


def _nonnegative(value: ArrayLike, dtype: jnp.dtype) -> Array:
    """value as an array, NaN where < 0 (a traced value outside the domain; a concrete one
    was refused by `_check_inputs`)."""
    value = jnp.asarray(value, dtype)
    return jnp.where(value >= 0, value, jnp.nan)


def _check_inputs(
    x1: ArrayLike,
    x2: ArrayLike | None,
    depth: int,
    sigma_w: ArrayLike,
    sigma_b: ArrayLike,
    parameterization: str,
    width: ArrayLike | Sequence[int] | None,
) -> None:
    """ValueError for bad shapes, depth, sigmas, parameterization or widths."""
    shapes = [("x1", np.shape(x1))] + ([] if x2 is None else [("x2", np.shape(x2))])
    for name, shape in shapes:
        if len(shape) != 2 or shape[1] < 1:
            raise ValueError(f"{name} must have shape (n, d) with d >= 1, got shape {shape}")
    if x2 is not None and shapes[0][1][1] != shapes[1][1][1]:
        raise ValueError(
            f"x1 and x2 must have the same feature dimension d, got x1 {shapes[0][1]} and "
            f"x2 {shapes[1][1]}"
        )
    for name, x in (("x1", x1), ("x2", x2)):
        if x is not None and is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
            bad = int(np.sum(~np.isfinite(np.asarray(x))))
            raise ValueError(f"{name} must be finite, got {bad} NaN/inf entries")
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (hidden layers), got {depth!r}")
    check_scalar("sigma_w", sigma_w, ">= 0", lambda s: s >= 0)
    check_scalar("sigma_b", sigma_b, ">= 0", lambda s: s >= 0)
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"parameterization must be one of {list(PARAMETERIZATIONS)}, got {parameterization!r}"
        )
    if parameterization == "standard":
        _check_width(width, depth)


def _check_width(width: ArrayLike | Sequence[int] | None, depth: int) -> None:
    if width is None:
        raise ValueError(
            'parameterization="standard" needs width= (an int or one width per hidden layer)'
        )
    if not all(is_concrete(w) for w in jax.tree_util.tree_leaves(width)):
        return
    values = np.asarray(width, float)
    if values.ndim > 1 or (values.ndim == 1 and values.size != depth):
        raise ValueError(
            f"width must be an int or {depth} widths (one per hidden layer), got {width!r}"
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"width must be positive, got {width!r}")
