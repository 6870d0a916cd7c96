"""Empirical neural tangent kernel of a pure model f(params, x), by three implementations.

The empirical NTK of a network f(theta, x) with outputs a = 1..k is the Gram matrix of its
parameter Jacobians (Jacot, Gabriel, Hongler, "Neural Tangent Kernel", NeurIPS 2018):

    Theta(x, x')_{ab} = sum_p  d f_a(x) / d theta_p  *  d f_b(x') / d theta_p.

`empirical_ntk` computes it by Jacobian contraction, by NTK-vector products (jvp of vjp), or by a
structured fast path for networks made of dense layers, the three implementations of Novak,
Sohl-Dickstein, Schoenholz, "Fast Finite Width Neural Tangent Kernel", ICML 2022.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
from jax.extend import core as jex
from jaxtyping import Array, ArrayLike, Float, PyTree

__all__ = ["empirical_ntk"]

METHODS = ("structured", "jacobian", "ntvp")

# Primitives whose body is a jaxpr that the structured path follows when a parameter enters it.
_CALLS = {
    "jit": "jaxpr",
    "pjit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "checkpoint": "jaxpr",
    "remat": "jaxpr",
    "remat2": "jaxpr",
}
# Primitives that only move, copy or convert a parameter's entries.
_LAYOUT = (
    "convert_element_type",
    "copy",
    "copy_p",
    "reshape",
    "squeeze",
    "broadcast_in_dim",
    "transpose",
)

_SUPPORTED = (
    "method='structured' supports parameters that are contracted with a layer input by a "
    "matrix product (dense weights: flax Dense/nnx.Linear kernels, equinox Linear weights, "
    "x @ W) or added to a layer output (biases), possibly after transpose, reshape (inserting "
    "or removing unit axes), broadcast, dtype conversion, scaling by a scalar or use inside a "
    "jit/checkpoint; use method='jacobian' or method='ntvp' for other models"
)


def empirical_ntk(
    f: Callable[[PyTree, Array], Array],
    params: PyTree,
    x1: Float[ArrayLike, "n1 ..."],
    x2: Float[ArrayLike, "n2 ..."] | None = None,
    *,
    method: Literal["structured", "jacobian", "ntvp"] = "structured",
    trace_outputs: bool = True,
    batch_size: int | None = None,
) -> Float[Array, "n1 n2"] | Float[Array, "n1 n2 k k"]:
    """The empirical NTK Theta(x1_i, x2_j) of the model f(params, x) at the given parameters.

    Theta(x, x')_{ab} = sum_p J_{ap}(x) J_{bp}(x'), with J(x) = d f(params, x) / d params the
    Jacobian of the k outputs with respect to all parameters (Jacot et al., NeurIPS 2018). With
    `trace_outputs` the result is the mean of the diagonal output blocks,
    (1/k) sum_a Theta_{aa}, neural-tangents' convention for `trace_axes`: for a wide network,
    whose NTK is Theta_scalar * I_k, it equals the scalar (analytic) kernel for any k.

    Methods (Novak et al., "Fast Finite Width Neural Tangent Kernel", ICML 2022, Sec. 3-4):

    - "jacobian": per-example Jacobians J(x) (a pytree of (n, k, *param_shape) leaves),
      contracted over the parameters. Memory ~ (n1 + n2) k P for P parameters.
    - "ntvp": NTK-vector products: for each x2_j and output b, the vjp gives the parameter
      vector v = J(x2_j)^T e_b and the jvp of f on all of x1 along v gives the column
      Theta(x1, x2_j) e_b. Memory ~ k P per column (`batch_size` columns at a time).
    - "structured": for a dense layer y = h W + b the Jacobian is an outer product,
      d f_a / dW = h (x) g_a with g_a = d f_a / dy the back-propagated cotangent, so the
      layer's contribution is (h(x) . h(x') + 1) * (g_a(x) . g_b(x')): a Gram matrix of the
      layer inputs times one of the cotangents, never forming a Jacobian. The layers are found
      in the jaxpr of f, whatever the framework: a parameter contracted with data by
      `dot_general` is a weight, a parameter added to data is a bias (its gradient is the
      cotangent summed over the broadcast axes). Re-evaluating the jaxpr captures the inputs
      h, and adds a zero "probe" to each layer output whose gradient is g (a weight's output
      read only by its bias addition, possibly through a transpose, shares the addition's
      probe, so a layer costs one cotangent Gram). More generally, a weight applied at
      positions t (a sequence axis, or the same layer used several times) contributes
      sum_{t,s} (h_t . h'_s)(g_t . g'_s). Parameters may pass through transpose, reshapes that
      insert or remove unit axes, broadcast, dtype conversion, multiplication by a scalar
      (e.g. the NTK parameterisation's sigma_w / sqrt(fan_in)), jit and checkpoint. Any other
      use (convolution, an elementwise scale as in LayerNorm, gather, slicing, scan, a product
      of two parameters, custom_jvp/custom_vjp) raises ValueError naming the parameter and the
      operation; use "jacobian" or "ntvp" there. Memory ~ n k (sum of layer widths); cost:
      one forward and k backward passes over the activations plus the Gram matrices,
      O(n P + n1 n2 sum_l width_l).

    `f` must map a batch (n, *features) to outputs (n,) or (n, k) and treat the examples
    independently (no batch statistics): the NTK is computed from f applied to one example at
    a time. For flax.linen use `f = model.apply`; for flax.nnx `graphdef, state, rest =
    nnx.split(model, nnx.Param, ...)` and `f = lambda s, x: nnx.merge(graphdef, s, rest)(x)`;
    for equinox `p, static = eqx.partition(model, eqx.is_inexact_array)` and
    `f = lambda p, x: jax.vmap(eqx.combine(p, static))(x)`. Wrap calls in `jax.jit` to reuse
    the compilation. With x2 = None the kernel of x1 with itself is returned, symmetrised.

    Args:
        f: pure function f(params, x) -> `Float[Array, "n"]` or `Float[Array, "n k"]`.
        params: pytree of floating-point arrays (all leaves are differentiated).
        x1: `Float[ArrayLike, "n1 ..."]`, a batch of inputs.
        x2: `Float[ArrayLike, "n2 ..."]` or None (then x2 = x1).
        method: "structured" (default), "jacobian" or "ntvp".
        trace_outputs: return (1/k) sum_a Theta_{aa}, shape (n1, n2); else the per-output
            blocks Theta[i, j, a, b], shape (n1, n2, k, k).
        batch_size: for "ntvp", the number of x2 columns computed together (None: all at
            once, vectorised); ignored by the other methods.

    Returns:
        `Float[Array, "n1 n2"]` with `trace_outputs`, else `Float[Array, "n1 n2 k k"]`, in
        the floating dtype of f's output.

    Raises:
        ValueError: unknown method, bad batch_size, inputs without a batch axis or with
            feature shapes that differ between x1 and x2, f not returning (n,) or (n, k),
            non-floating parameters, or (method="structured") a parameter structure the
            fast path does not support.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    x1 = jnp.asarray(x1)
    x2 = None if x2 is None else jnp.asarray(x2)
    _check_inputs(x1, x2)
    names = _check_params(params)
    k = _output_size(f, params, x1)
    trace = bool(trace_outputs)

    def f1(p: PyTree, xi: Array) -> Array:
        return jnp.reshape(f(p, xi[None]), (k,))

    if method == "jacobian":
        theta = _jacobian_ntk(f1, params, x1, x2, trace)
    elif method == "ntvp":
        theta = _ntvp_ntk(f1, params, x1, x1 if x2 is None else x2, k, trace, batch_size)
    else:
        theta = _structured_ntk(f1, params, names, x1, x2, trace)
    if trace:
        theta = theta / k
    return theta if x2 is not None else _symmetrise(theta)


def _check_inputs(x1: Array, x2: Array | None) -> None:
    """ValueError unless x1 (and x2) are non-empty batches with the same feature shape."""
    for name, x in (("x1", x1), ("x2", x2)):
        if x is not None and (x.ndim < 1 or x.shape[0] < 1):
            raise ValueError(
                f"{name} must be a batch of inputs, shape (n, *features) with n >= 1; "
                f"got shape {x.shape}"
            )
    if x2 is not None and x1.shape[1:] != x2.shape[1:]:
        raise ValueError(
            "x1 and x2 must have the same feature shape (all axes after the batch axis); got "
            f"x1 {x1.shape} and x2 {x2.shape}"
        )


def _check_params(params: PyTree) -> list[str]:
    """The leaf names of params; ValueError if it has no leaves or a non-floating leaf."""
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    if not flat:
        raise ValueError("params has no array leaves: the NTK of a model without parameters is 0")
    names = []
    for path, leaf in flat:
        name = jax.tree_util.keystr(path) or "params"
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            raise ValueError(
                f"every parameter must be a floating-point array; {name} has dtype "
                f"{jnp.result_type(leaf)} (leave integer state out of params, e.g. "
                "nnx.split(model, nnx.Param, ...) or eqx.partition(model, eqx.is_inexact_array))"
            )
        names.append(name)
    return names


def _output_size(f: Callable, params: PyTree, x1: Array) -> int:
    """k, the number of outputs per example; ValueError unless f(params, x1) is (n1,) or (n1, k)."""
    out = jax.eval_shape(f, params, x1)
    n1 = x1.shape[0]
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape[:1] != (n1,) or len(out.shape) > 2:
        got = out.shape if isinstance(out, jax.ShapeDtypeStruct) else type(out).__name__
        raise ValueError(
            f"f(params, x) must return one array of shape (n,) or (n, k) for a batch of n "
            f"inputs; for x1 of shape {x1.shape} it returned {got}"
        )
    if not jnp.issubdtype(out.dtype, jnp.inexact):
        raise ValueError(f"f must return floating-point outputs, got dtype {out.dtype}")
    return out.shape[1] if len(out.shape) == 2 else 1


def _symmetrise(theta: Array) -> Array:
    """(Theta + Theta^T) / 2, transposing the example pair (and the output pair)."""
    axes = (1, 0) if theta.ndim == 2 else (1, 0, 3, 2)
    return 0.5 * (theta + jnp.transpose(theta, axes))


# --------------------------------------------------------------------------------------------
# Jacobian contraction and NTK-vector products
# --------------------------------------------------------------------------------------------


def _jacobians(f1: Callable, params: PyTree, x: Array) -> list[Array]:
    """Per-example Jacobians, one (n, k, size) array per parameter leaf."""
    jac = jax.vmap(jax.jacrev(f1), in_axes=(None, 0))(params, x)
    return [leaf.reshape(leaf.shape[0], leaf.shape[1], -1) for leaf in jax.tree.leaves(jac)]


def _jacobian_ntk(f1: Callable, params: PyTree, x1: Array, x2: Array | None, trace: bool) -> Array:
    """sum over leaves of J1 J2^T (summed over the output diagonal when tracing)."""
    j1 = _jacobians(f1, params, x1)
    j2 = j1 if x2 is None else _jacobians(f1, params, x2)
    spec = "iap,jap->ij" if trace else "iap,jbp->ijab"
    return sum(jnp.einsum(spec, a, b) for a, b in zip(j1, j2, strict=True))


def _ntvp_ntk(
    f1: Callable,
    params: PyTree,
    x1: Array,
    x2: Array,
    k: int,
    trace: bool,
    batch_size: int | None,
) -> Array:
    """Columns Theta(x1, x2_j) e_b = J(x1) (J(x2_j)^T e_b), a vjp then a jvp per (j, b)."""
    on_x1 = jax.vmap(f1, in_axes=(None, 0))
    basis = jnp.eye(k, dtype=jax.eval_shape(f1, params, x2[0]).dtype)

    def column(xj: Array) -> Array:
        _, pullback = jax.vjp(lambda p: f1(p, xj), params)

        def ntk_vector_product(e: Array) -> Array:
            (tangent,) = pullback(e)
            return jax.jvp(lambda p: on_x1(p, x1), (params,), (tangent,))[1]

        cols = jax.vmap(ntk_vector_product)(basis)  # cols[b, i, a] = Theta(x1_i, x2_j)_{ab}
        return jnp.einsum("bib->i", cols) if trace else jnp.transpose(cols, (1, 2, 0))

    if batch_size is None:
        out = jax.vmap(column)(x2)
    else:
        out = jax.lax.map(column, x2, batch_size=batch_size)
    return jnp.swapaxes(out, 0, 1)


# --------------------------------------------------------------------------------------------
# Structured derivatives of dense layers
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Ref:
    """A value that is a (scaled, relaid) copy of parameter leaf `leaf`.

    `axes[i]` is the leaf axis that axis i of the value carries, or None for an axis of size
    1 or a broadcast (replicated) axis; every leaf axis of size > 1 is carried exactly once.
    """

    leaf: int
    axes: tuple[int | None, ...]
    scale: Any = 1.0


@dataclasses.dataclass(frozen=True)
class _Use:
    """One use of a leaf: d f_a / d leaf = sum_t H_t (x) G_{a,t}, flattened in leaf-axis order.

    With g the cotangent at the use's probe (shape `shape`):
    - "dense" (y = dot_general(h, W')): H = transpose(h, h_perm).reshape(T, C) * scale (the
      layer input over its positions t, contracted axes in leaf order), G =
      transpose(g, g_perm).reshape(T, F) (positions, then W's free axes in leaf order).
    - "add" (y = data + P): H = scale (T = C = 1), G = g summed over `sum_axes`, remaining
      axes `g_perm` (in leaf order), flattened (F = leaf size).
    `contracted` (dense) names the leaf axes contracted with the input. Two uses with equal
    `g_key` (T = 1) have identical G, so their leaves' H can be concatenated.
    """

    leaf: int
    kind: Literal["dense", "add"]
    g_perm: tuple[int, ...]
    sum_axes: tuple[int, ...]
    tcf: tuple[int, int, int]
    contracted: frozenset[int]
    g_key: tuple[tuple[int, ...], tuple[int, ...]] | None


def _axis_order(ref: _Ref, axis: int) -> int:
    """Sort key putting value axes in the order of the leaf axes they carry (unit axes first)."""
    return -1 if ref.axes[axis] is None else ref.axes[axis]


class _Unsupported(ValueError):
    """A parameter use the structured path cannot factorise."""


class _Interpreter:
    """Evaluates a model's jaxpr on one example, recording the dense/bias uses of the leaves.

    Every use gets a probe, a value added to its output (zero, so f is unchanged) whose gradient
    is the cotangent there; `use_probe[u]` is the index of use u's probe. A dense output used
    only by a bias addition shares that addition's probe (the cotangent passes through the
    addition unchanged), so a layer y = h W + b costs one cotangent Gram matrix. The layer
    inputs H (or bias scales) are returned as captures.
    """

    def __init__(self, closed: jex.ClosedJaxpr, names: Sequence[str], shapes: Sequence[tuple]):
        self.closed, self.names, self.shapes = closed, names, shapes
        self.uses: list[_Use] = []
        self.use_probe: list[int] = []
        self.avals: list[jax.ShapeDtypeStruct] = []
        self._captures: list[Array] = []
        self._probes: Sequence[Array] | None = None

    def run(
        self, leaves: Sequence[Array], xi: Array, probes: Sequence[Array] | None
    ) -> tuple[Array, list[Array]]:
        """f on one example (probes added when given) and the captures, one per use."""
        self.uses, self.use_probe, self.avals, self._captures = [], [], [], []
        self._probes = probes
        refs = [_Ref(i, tuple(range(len(s)))) for i, s in enumerate(self.shapes)] + [None]
        outs, out_refs = self._eval(self.closed.jaxpr, self.closed.consts, [*leaves, xi], refs)
        for ref in out_refs:
            if ref is not None:
                self._fail(ref, "the model output (f returns a parameter unchanged)")
        return outs[0], self._captures

    def _fail(self, ref: _Ref | int, where: str) -> None:
        leaf = ref if isinstance(ref, int) else ref.leaf
        raise _Unsupported(
            f"parameter {self.names[leaf]} (shape {self.shapes[leaf]}) is used by {where}; "
            f"{_SUPPORTED}"
        )

    def _probe(self, out: Array, uses: Sequence[int]) -> Array:
        """out + the next probe, which `uses` share (record its shape when only analysing)."""
        index = len(self.avals)
        self.avals.append(jax.ShapeDtypeStruct(out.shape, out.dtype))
        for use in uses:
            self.use_probe[use] = index
        return out if self._probes is None else out + self._probes[index]

    def _eval(
        self, jaxpr: jex.Jaxpr, consts: Sequence[Any], args: Sequence[Any], refs: Sequence[Any]
    ) -> tuple[list[Any], list[_Ref | None]]:
        env: dict[Any, Any] = dict(zip(jaxpr.constvars, consts, strict=True))
        env_refs: dict[Any, _Ref | None] = dict.fromkeys(jaxpr.constvars)
        env.update(zip(jaxpr.invars, args, strict=True))
        env_refs.update(zip(jaxpr.invars, refs, strict=True))
        atoms = [v for e in jaxpr.eqns for v in e.invars] + list(jaxpr.outvars)
        counts = collections.Counter(v for v in atoms if not isinstance(v, jex.Literal))
        pending: dict[Any, int] = {}  # dense outputs whose probe waits for their one consumer

        def settle(v: Any, keep: Any = None) -> None:
            if not isinstance(v, jex.Literal) and v in pending and v is not keep:
                env[v] = self._probe(env[v], [pending.pop(v)])

        def defer(v: Any, use: int) -> Any:
            """Probe a dense output at its only consumer (maybe a bias addition), or now."""
            if counts[v] == 1:
                pending[v] = use
            else:
                env[v] = self._probe(env[v], [use])
            return env[v]

        def read(v: Any) -> tuple[Any, _Ref | None]:
            return (v.val, None) if isinstance(v, jex.Literal) else (env[v], env_refs[v])

        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "transpose" and any(v is eqn.invars[0] for v in pending):
                # follow the dense output through the transpose: re-index its G
                use, perm = pending.pop(eqn.invars[0]), eqn.params["permutation"]
                self.uses[use] = _transposed(self.uses[use], perm, eqn.outvars[0].aval.shape)
                value = jax.lax.transpose(env[eqn.invars[0]], perm)
                env[eqn.outvars[0]], env_refs[eqn.outvars[0]] = value, None
                defer(eqn.outvars[0], use)
                continue
            shared = _shared_dense_output(eqn, pending, env_refs)
            for v in eqn.invars:
                settle(v, keep=shared)
            vals, in_refs = (list(t) for t in zip(*map(read, eqn.invars), strict=True))
            if not any(r is not None for r in in_refs):
                ans = eqn.primitive.bind(*vals, **eqn.primitive.get_bind_params(eqn.params))
                outs = ans if eqn.primitive.multiple_results else [ans]
                out_refs: list[_Ref | None] = [None] * len(outs)
            elif eqn.primitive.name == "dot_general":
                outs, out_refs = [self._dense(eqn, vals, in_refs)], [None]
                env[eqn.outvars[0]] = outs[0]
                outs = [defer(eqn.outvars[0], len(self.uses) - 1)]
            elif eqn.primitive.name in ("add", "add_any", "sub"):
                extra = [] if shared is None else [pending.pop(shared)]
                outs, out_refs = [self._add(eqn, vals, in_refs, extra)], [None]
            else:
                outs, out_refs = self._param_eqn(eqn, vals, in_refs)
            env.update(zip(eqn.outvars, outs, strict=True))
            env_refs.update(zip(eqn.outvars, out_refs, strict=True))
        for v in jaxpr.outvars:
            settle(v)
        results = [read(v) for v in jaxpr.outvars]
        return [r[0] for r in results], [r[1] for r in results]

    def _param_eqn(
        self, eqn: Any, vals: list[Any], refs: list[_Ref | None]
    ) -> tuple[list[Any], list[_Ref | None]]:
        """Evaluate a call, layout or scaling equation one of whose inputs is a parameter copy."""
        name = eqn.primitive.name
        ref = next(r for r in refs if r is not None)
        if name in _CALLS:
            sub = eqn.params[_CALLS[name]]
            jaxpr, consts = (sub.jaxpr, sub.consts) if hasattr(sub, "consts") else (sub, ())
            return self._eval(jaxpr, consts, vals, refs)
        if eqn.primitive.multiple_results:
            self._fail(ref, f"`{name}`")
        out = eqn.primitive.bind(*vals, **eqn.primitive.get_bind_params(eqn.params))
        if name in _LAYOUT:
            return [out], [_relayout(name, eqn.params, ref, vals[0].shape, out.shape, self)]
        if name in ("mul", "div", "neg"):
            return [out], [self._scaled(name, vals, refs)]
        self._fail(ref, f"`{name}`")
        raise AssertionError  # unreachable: _fail raises

    def _scaled(self, name: str, vals: list[Any], refs: list[_Ref | None]) -> _Ref:
        """A parameter copy times (or divided by, or negated) a scalar that is not a parameter."""
        p = 0 if refs[0] is not None else 1
        ref = refs[p]
        if name == "neg":
            return dataclasses.replace(ref, scale=-ref.scale)
        other = vals[1 - p]
        if refs[1 - p] is not None or jnp.ndim(other) != 0 or (name == "div" and p == 1):
            self._fail(ref, f"`{name}` with a non-scalar or parameter operand")
        scale = ref.scale / other if name == "div" else ref.scale * other
        return dataclasses.replace(ref, scale=scale)

    def _record(self, use: _Use, capture: Array) -> None:
        self.uses.append(use)
        self.use_probe.append(-1)
        self._captures.append(capture)

    def _dense(self, eqn: Any, vals: list[Any], refs: list[_Ref | None]) -> Array:
        """A weight use y = dot_general(h, W'): record it and capture H (y is probed later)."""
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        p = 0 if refs[0] is not None else 1
        ref, w, h = refs[p], vals[p], vals[1 - p]
        w_contract, h_contract = (lc, rc) if p == 0 else (rc, lc)
        if refs[1 - p] is not None:
            self._fail(ref, "`dot_general` with another parameter (a product of parameters)")
        if lb or rb or any(a is None and n > 1 for a, n in zip(ref.axes, w.shape, strict=True)):
            self._fail(ref, "`dot_general` with batch dimensions or a broadcast parameter")
        out = eqn.primitive.bind(*vals, **eqn.primitive.get_bind_params(eqn.params))
        pairs = sorted(
            zip(w_contract, h_contract, strict=True), key=lambda t: _axis_order(ref, t[0])
        )
        h_free = [a for a in range(h.ndim) if a not in h_contract]
        w_free = [a for a in range(w.ndim) if a not in w_contract]
        # dot_general's output axes: lhs free axes, then rhs free axes
        h_out = list(range(len(h_free))) if p == 1 else list(range(len(w_free), out.ndim))
        w_out = list(range(len(h_free), out.ndim)) if p == 1 else list(range(len(w_free)))
        by_leaf = sorted(zip(w_free, w_out, strict=True), key=lambda t: _axis_order(ref, t[0]))
        g_perm = tuple(h_out) + tuple(o for _, o in by_leaf)
        tcf = (
            math.prod(h.shape[a] for a in h_free),
            math.prod(w.shape[a] for a, _ in pairs),
            math.prod(w.shape[a] for a in w_free),
        )
        contracted = frozenset(
            ref.axes[a] for a, _ in pairs if ref.axes[a] is not None and w.shape[a] > 1
        )
        key = (_big(g_perm, out.shape), ()) if tcf[0] == 1 else None
        h_perm = tuple(h_free) + tuple(b for _, b in pairs)
        self._record(
            _Use(ref.leaf, "dense", g_perm, (), tcf, contracted, key),
            jnp.transpose(h, h_perm).reshape(tcf[:2]) * ref.scale,
        )
        return out

    def _add(self, eqn: Any, vals: list[Any], refs: list[_Ref | None], shared: list[int]) -> Array:
        """A bias use y = data + P (or data - P, P - data): record it and probe y.

        `shared`: dense uses whose output is `data` and whose probe is this one.
        """
        name = eqn.primitive.name
        p = 0 if refs[0] is not None else 1
        ref = refs[p]
        if refs[1 - p] is not None:
            self._fail(ref, f"`{name}` with another parameter (a sum of parameters)")
        out = eqn.primitive.bind(*vals, **eqn.primitive.get_bind_params(eqn.params))
        if jnp.ndim(vals[p]) not in (0, out.ndim):
            self._fail(ref, f"`{name}` with an operand of a different rank")
        axes = ref.axes if jnp.ndim(vals[p]) else (None,) * out.ndim
        sum_axes = tuple(a for a in range(out.ndim) if axes[a] is None)
        keep = tuple(
            sorted((a for a in range(out.ndim) if axes[a] is not None), key=axes.__getitem__)
        )
        size = math.prod(self.shapes[ref.leaf])
        key = (_big(keep, out.shape), _big(sum_axes, out.shape))
        sign = -1.0 if (name == "sub" and p == 1) else 1.0
        self._record(
            _Use(ref.leaf, "add", keep, sum_axes, (1, 1, size), frozenset(), key),
            jnp.reshape(ref.scale * sign, (1, 1)),
        )
        return self._probe(out, [len(self.uses) - 1, *shared])


def _transposed(use: _Use, perm: Sequence[int], shape: tuple[int, ...]) -> _Use:
    """A dense use whose output y is read as transpose(y, perm), of shape `shape`."""
    g_perm = tuple(list(perm).index(a) for a in use.g_perm)
    key = (_big(g_perm, shape), ()) if use.g_key is not None else None
    return dataclasses.replace(use, g_perm=g_perm, g_key=key)


def _big(axes: Sequence[int], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of size > 1, in the given order."""
    return tuple(a for a in axes if shape[a] > 1)


def _shared_dense_output(eqn: Any, pending: dict, refs: dict) -> Any:
    """The pending dense output that `eqn`, a bias addition y + P, can share its probe with.

    For z = y + P (or y - P) with y of z's shape, dz/dy is the identity, so the cotangent at y
    equals the one at z. Returns y's variable, or None.
    """
    if eqn.primitive.name not in ("add", "add_any", "sub") or len(eqn.invars) != 2:
        return None
    a, b = eqn.invars
    for data, param in ((a, b), (b, a)):
        if eqn.primitive.name == "sub" and data is b:
            continue  # z = P - y: the cotangent at y is -g
        if (
            not isinstance(data, jex.Literal)
            and data in pending
            and not isinstance(param, jex.Literal)
            and refs.get(param) is not None
            and data.aval.shape == eqn.outvars[0].aval.shape
        ):
            return data
    return None


def _relayout(
    name: str, params: dict, ref: _Ref, old: tuple[int, ...], new: tuple[int, ...], it: Any
) -> _Ref:
    """The leaf axes carried by the output of a layout primitive applied to a parameter copy."""
    if name in ("convert_element_type", "copy", "copy_p"):
        return ref
    if name == "transpose":
        return dataclasses.replace(ref, axes=tuple(ref.axes[a] for a in params["permutation"]))
    if name == "squeeze":
        gone = set(params["dimensions"])
        return dataclasses.replace(
            ref, axes=tuple(a for i, a in enumerate(ref.axes) if i not in gone)
        )
    if name == "broadcast_in_dim":
        axes: list[int | None] = [None] * len(new)
        for a, b in enumerate(params["broadcast_dimensions"]):
            axes[b] = ref.axes[a] if old[a] == new[b] else None
        return dataclasses.replace(ref, axes=tuple(axes))
    # reshape: allowed when it only inserts or removes axes of size 1
    old_big = [a for a in range(len(old)) if old[a] != 1]
    new_big = [a for a in range(len(new)) if new[a] != 1]
    if [old[a] for a in old_big] != [new[a] for a in new_big] or params.get("dimensions"):
        it._fail(ref, f"`reshape` from {old} to {new} (merging or splitting axes)")
    axes = [None] * len(new)
    for a, b in zip(old_big, new_big, strict=True):
        axes[b] = ref.axes[a]
    return dataclasses.replace(ref, axes=tuple(axes))


def _structured_ntk(
    f1: Callable, params: PyTree, names: list[str], x1: Array, x2: Array | None, trace: bool
) -> Array:
    """sum over groups of leaves of sum_{t,s} (H1_t . H2_s)(G1_t . G2_s)."""
    leaves, treedef = jax.tree.flatten(params)

    def flat_f(leaves: list[Array], xi: Array) -> Array:
        return f1(jax.tree.unflatten(treedef, leaves), xi)

    it = _Interpreter(
        jax.make_jaxpr(flat_f)(leaves, x1[0]), names, [jnp.shape(leaf) for leaf in leaves]
    )
    jax.eval_shape(lambda lv, xi: it.run(lv, xi, None), leaves, x1[0])
    groups = _groups(it)
    if not groups:
        return _jacobian_ntk(f1, params, x1, x2, trace)  # no parameter reaches the output: 0
    feats1 = _features(it, leaves, x1, groups)
    feats2 = feats1 if x2 is None else _features(it, leaves, x2, groups)
    terms = [
        _gram(h1, g1, h2, g2, trace) for (h1, g1), (h2, g2) in zip(feats1, feats2, strict=True)
    ]
    return sum(terms[1:], terms[0])


def _groups(it: _Interpreter) -> list[list[list[int]]]:
    """Uses grouped by leaf, and leaves grouped when their G is the same array.

    A leaf's uses are concatenated along the positions t; leaves with one use, T = 1 and the
    same probe and G layout (a dense weight and its bias) share G, their H are concatenated.
    ValueError if a leaf is used in two incompatible ways.
    """
    by_leaf: dict[int, list[int]] = {}
    for u, use in enumerate(it.uses):
        by_leaf.setdefault(use.leaf, []).append(u)
    shared: dict[Any, list[list[int]]] = {}
    for leaf, index in by_leaf.items():
        uses = [it.uses[u] for u in index]
        if len({use.kind for use in uses}) > 1:
            it._fail(leaf, "both a matrix product (as a weight) and an addition (as a bias)")
        if len({use.contracted for use in uses}) > 1:
            it._fail(leaf, "matrix products contracting different axes (e.g. W and W.T)")
        single = len(index) == 1 and uses[0].g_key is not None
        key = (it.use_probe[index[0]], uses[0].g_key) if single else ("leaf", leaf)
        shared.setdefault(key, []).append(index)
    return list(shared.values())


def _features(
    it: _Interpreter, leaves: list[Array], x: Array, groups: list[list[list[int]]]
) -> list[tuple[Array, Array]]:
    """Per group: H (n, T, C) and G (n, k, T, F), with sum_t H_t (x) G_t the group's Jacobian."""

    def example(xi: Array) -> tuple[list[Array], list[Array]]:
        probes = [jnp.zeros(a.shape, a.dtype) for a in it.avals]
        return jax.jacrev(lambda pr: it.run(leaves, xi, pr), has_aux=True)(probes)

    cots, caps = jax.vmap(example)(x)
    feats = []
    for group in groups:
        # leaves of a group share G: concatenate their H along C; a leaf's uses along T
        hs = [jnp.concatenate([caps[u] for u in index], axis=1) for index in group]
        g = jnp.concatenate([_cotangent(it.uses[u], cots[it.use_probe[u]]) for u in group[0]], 2)
        feats.append((jnp.concatenate(hs, axis=2), g))
    return feats


def _cotangent(use: _Use, g: Array) -> Array:
    """The use's G (n, k, T, F) from the cotangent g (n, k, *probe shape) at its probe."""
    n, k = g.shape[:2]
    t, _, f = use.tcf
    kept = [a for a in range(g.ndim - 2) if a not in use.sum_axes]
    g = jnp.sum(g, axis=tuple(2 + a for a in use.sum_axes))
    g = jnp.transpose(g, (0, 1) + tuple(2 + kept.index(a) for a in use.g_perm))
    return g.reshape(n, k, t, f)


def _gram(h1: Array, g1: Array, h2: Array, g2: Array, trace: bool) -> Array:
    """sum_{t,s} (h1_t . h2_s)(g1_t . g2_s) for every example pair (and output pair)."""
    hh = jnp.einsum("itc,jsc->itjs", h1, h2)
    if trace:
        return jnp.einsum("itjs,itjs->ij", hh, jnp.einsum("iatf,jasf->itjs", g1, g2))
    return jnp.einsum("itjs,itjsab->ijab", hh, jnp.einsum("iatf,jbsf->itjsab", g1, g2))
