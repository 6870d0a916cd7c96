"""Decentralized methods as pure (init, step) pairs, and fixed-length `lax.scan` runs.

All node quantities are pytrees with the nodes on the leading axis; a local rule is an
`optax.GradientTransformation` applied to every node with `vmap`, so any optax optimizer
(SGD, momentum, Adam, ...) can be the local rule and its hyperparameters may be traced.
Notation: X the stacked node models, W^(t) the mixing matrix of step t, g(X) the stacked
(stochastic) gradients, U = opt(g) the local update (U = -lr g for plain SGD).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array

from .._validation import INT32_MAX, check_integer, check_scalar, is_concrete
from ._mixing import Neighbours, check_mixing, gossip, is_sparse, neighbour_lists
from ._problems import Problem
from ._variance import variance_corrected_gossip

ORDERS = ("atc", "cta")


class Method(NamedTuple):
    """A decentralized method: init(x0) -> state, step(state, t, key) -> state; state.x: models."""

    init: Callable[[Any], Any]
    step: Callable[[Any, Array, Array], Any]


class GossipState(NamedTuple):
    """State of plain gossip averaging."""

    x: Any


class LocalState(NamedTuple):
    """State of D-SGD and DFedSAM: node models and the per-node optax states."""

    x: Any
    opt_state: Any


class TrackingState(NamedTuple):
    """State of gradient tracking: models x, trackers y, last gradients g(x)."""

    x: Any
    y: Any
    g: Any


Mixer = Callable[[Any, Array], Any]
"""mix(tree, t) -> one gossip step of the node pytree at step t."""


def check_stack(mixing: Any, n_nodes: int | None = None) -> None:
    """ValueError unless `mixing` is a (p, n, n) mixing stack for `n_nodes` nodes.

    The shape is checked always (it is static); a concrete stack is also checked by
    `check_mixing` (nonnegative, symmetric, doubly stochastic, contracting), so a 2 W that
    would diverge or an identity that never communicates is refused before tracing.
    """
    shape = np.shape(mixing)
    if len(shape) == 2:
        raise ValueError(
            f"mixing must be a stack of shape (p, n, n), got a matrix of shape {shape}; "
            "wrap it with gossip.as_stack(W)"
        )
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"mixing must have shape (p, n, n), got {shape}")
    if n_nodes is not None and shape[1] != n_nodes:
        raise ValueError(
            f"mixing is for {shape[1]} nodes but the problem has {n_nodes} nodes "
            "(build W on the problem's graph)"
        )
    if is_concrete(mixing):
        eps = float(np.finfo(np.asarray(mixing).dtype).eps)
        check_mixing(
            np.asarray(mixing, dtype=np.float64),
            atol=max(1e-10, 16 * mixing.shape[-1] * eps),
            contraction_atol=max(1e-12, 4 * eps),
        )


def as_mixer(mixing: Array | Mixer, n_nodes: int | None = None) -> Mixer:
    """A gossip step: `gossip` with a (p, n, n) mixing stack or its `Neighbours`, or a given
    mix(tree, t) callable.

    A stack is checked by `check_stack` (for `n_nodes` nodes when given); a callable is
    trusted. A concrete stack with at most `SPARSE_FRACTION` n nonzeros per row (ring,
    torus, hypercube, exponential graph at large n) mixes by its `neighbours` lists, O(|E| d)
    per step; a traced stack (e.g. picked per sweep point) mixes densely.
    """
    if callable(mixing):
        return mixing
    if isinstance(mixing, Neighbours):
        if n_nodes is not None and mixing.index.shape[1] != n_nodes:
            raise ValueError(
                f"mixing is for {mixing.index.shape[1]} nodes but the problem has {n_nodes} nodes"
            )
    else:
        check_stack(mixing, n_nodes)
        if is_concrete(mixing) and is_sparse(mixing):
            dtype = jax.dtypes.canonicalize_dtype(np.asarray(mixing).dtype)
            mixing = neighbour_lists(np.asarray(mixing), dtype=dtype)
    return lambda tree, t: gossip(mixing, tree, t)


def _add(a: Any, b: Any) -> Any:
    return jax.tree.map(jnp.add, a, b)


def _local_update(optimizer: optax.GradientTransformation, grads: Any, state: Any, x: Any):
    """The optax update of every node at once (vmap over the leading node axis)."""
    return jax.vmap(optimizer.update)(grads, state, x)


def gossip_averaging(mixing: Array | Mixer) -> Method:
    """Gossip averaging X_{t+1} = W^(t) X_t: preserves the node average, contracts as rho^t.

    Args:
        mixing: Float[Array, "p n n"] (see `as_stack`) or a mix(tree, t) callable.
    """
    mix = as_mixer(mixing)
    return Method(init=GossipState, step=lambda state, t, key: GossipState(mix(state.x, t)))


def dsgd(
    problem: Problem,
    mixing: Array | Mixer,
    optimizer: optax.GradientTransformation,
    *,
    order: str = "atc",
    stochastic: bool = False,
) -> Method:
    """Decentralized (stochastic) gradient descent, adapt-then-combine or combine-then-adapt.

        ATC:  X_{t+1} = W^(t) (X_t + U_t)         (diffusion; Chen and Sayed, 2012)
        CTA:  X_{t+1} = W^(t) X_t + U_t           (Nedic and Ozdaglar, 2009)

    with U_t = opt(g(X_t)) the local optax update of each node. With a constant step the
    iterates converge to a point O(lr) away from x* on heterogeneous f_i (Yuan, Ling and Yin,
    2016): the consensus bias.

    Args:
        problem: node objectives.
        mixing: Float[Array, "p n n"] or a mix(tree, t) callable (e.g. sharded).
        optimizer: the local rule (e.g. `optax.sgd(lr)`).
        order: "atc" or "cta".
        stochastic: use `problem.sample_loss` gradients (keyed per step).
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    mix = as_mixer(mixing, problem.n_nodes)

    def init(x0: Any) -> LocalState:
        return LocalState(x0, jax.vmap(optimizer.init)(x0))

    def step(state: LocalState, t: Array, key: Array) -> LocalState:
        g = problem.grads(state.x, key if stochastic else None)
        updates, opt_state = _local_update(optimizer, g, state.opt_state, state.x)
        if order == "atc":
            x = mix(_add(state.x, updates), t)
        else:
            x = _add(mix(state.x, t), updates)
        return LocalState(x, opt_state)

    return Method(init, step)


def gradient_tracking(
    problem: Problem, mixing: Array | Mixer, lr: Array | float, *, stochastic: bool = False
) -> Method:
    """Gradient tracking (DIGing; Nedic, Olshevsky and Shi, 2017).

        X_{t+1} = W^(t) X_t - lr Y_t
        Y_{t+1} = W^(t) Y_t + g(X_{t+1}) - g(X_t),      Y_0 = g(X_0)

    Since W is doubly stochastic, mean_i y_i = mean_i g_i(x_i) at every step, so every node
    tracks the average gradient, and with a small enough constant step the deterministic
    method converges linearly to the exact optimum (no consensus bias). `mixing` as in `dsgd`;
    `lr` > 0 (may be traced).
    """
    check_scalar("lr", lr, "> 0", lambda v: v > 0)
    mix = as_mixer(mixing, problem.n_nodes)

    def grads(x: Any, key: Array) -> Any:
        return problem.grads(x, key if stochastic else None)

    def init(x0: Any) -> TrackingState:
        g0 = grads(x0, jax.random.key(0))
        return TrackingState(x0, g0, g0)

    def step(state: TrackingState, t: Array, key: Array) -> TrackingState:
        x = jax.tree.map(lambda wx, y: wx - lr * y, mix(state.x, t), state.y)
        g = grads(x, key)
        y = jax.tree.map(lambda wy, gn, go: wy + gn - go, mix(state.y, t), g, state.g)
        return TrackingState(x, y, g)

    return Method(init, step)


def sam_gradient(problem: Problem, x: Any, radius: Array | float, key: Array | None) -> Any:
    """Every node's SAM gradient g_i(x_i + r g_i(x_i) / ||g_i(x_i)||) (Foret et al., 2021).

    Both gradients use the same minibatch (same key), as in SAM; radius 0 gives g_i(x_i).
    """
    g = problem.grads(x, key)
    norms = jax.vmap(lambda t: jnp.sqrt(sum(jnp.sum(a**2) for a in jax.tree.leaves(t))))(g)
    scale = radius / jnp.maximum(norms, 1e-12)
    perturbed = jax.tree.map(
        lambda a, b: a + scale.reshape((-1,) + (1,) * (a.ndim - 1)).astype(a.dtype) * b, x, g
    )
    return problem.grads(perturbed, key)


def dfedsam(
    problem: Problem,
    mixing: Array,
    optimizer: optax.GradientTransformation,
    *,
    radius: Array | float,
    local_steps: int,
    gossip_steps: Array | int,
    max_gossip_steps: int | None = None,
    correction: Array | float | None = None,
    eps: Array | float = 0.0,
) -> Method:
    """DFedSAM-MGS (Shi et al., ICML 2023): per round, K local SAM steps then Q gossip steps.

        Z_{i,k+1} = Z_{i,k} + opt(g_i(Z_{i,k} + r g_i(Z_{i,k}) / ||g_i(Z_{i,k})||)),  k < K
        X_{t+1}   = (W^(t,Q-1) ... W^(t,0)) Z_K

    radius r = 0 is DFedAvg, Q = 1 is DFedSAM. One `step` is one communication round.
    `gossip_steps` Q may be traced (a sweep axis): the gossip loop runs `max_gossip_steps`
    times and applies a step only while q < Q. With `correction` c (0/1, may be traced),
    each gossip step is followed (when c = 1) by the variance correction of
    `variance_corrected_gossip` with regulariser `eps`. Minibatch gradients throughout.
    """
    q_max = max_gossip_steps if max_gossip_steps is not None else gossip_steps
    if not isinstance(q_max, int) or q_max < 1:
        raise ValueError(
            f"max_gossip_steps must be an integer >= 1 (needed for a traced Q), got {q_max!r}"
        )
    check_integer("local_steps", local_steps)
    check_scalar("radius", radius, ">= 0", lambda v: v >= 0)
    check_scalar("eps", eps, ">= 0", lambda v: v >= 0)
    check_scalar(
        "gossip_steps",
        gossip_steps,
        f"an integer in [1, {q_max}]",
        lambda v: v == int(v) and 1 <= v <= q_max,
    )
    check_stack(mixing, problem.n_nodes)

    def init(x0: Any) -> LocalState:
        return LocalState(x0, jax.vmap(optimizer.init)(x0))

    def local(carry: LocalState, key: Array) -> tuple[LocalState, None]:
        g = sam_gradient(problem, carry.x, radius, key)
        updates, opt_state = _local_update(optimizer, g, carry.opt_state, carry.x)
        return LocalState(_add(carry.x, updates), opt_state), None

    def mix(t: Array) -> Callable:
        def body(x: Any, q: Array) -> tuple[Any, None]:
            s = t * q_max + q
            plain = gossip(mixing, x, s)
            if correction is not None:
                fixed = variance_corrected_gossip(mixing, x, s, eps)
                plain = jax.tree.map(lambda a, b: jnp.where(correction > 0, b, a), plain, fixed)
            return jax.tree.map(
                lambda new, old: jnp.where(q < gossip_steps, new, old), plain, x
            ), None

        return body

    def step(state: LocalState, t: Array, key: Array) -> LocalState:
        state, _ = jax.lax.scan(local, state, jax.random.split(key, local_steps))
        x, _ = jax.lax.scan(mix(t), state.x, jnp.arange(q_max))
        return LocalState(x, state.opt_state)

    return Method(init, step)


def run(
    method: Method,
    x0: Any,
    key: Array,
    *,
    steps: int,
    metrics: Callable[[Any], dict[str, Array]],
) -> tuple[Any, dict[str, Array]]:
    """Run `steps` steps of a method as one `lax.scan`; return the final state and the traces.

    Step t uses the key fold_in(key, t). `traces[name][t]` = metrics(state after step t + 1);
    the initial state's metrics are not included.

    Args:
        method: the (init, step) pair.
        x0: the initial node models (nodes on the leading axis).
        key: PRNG key.
        steps: number of steps (static, at most 2^31 - 1: the step index is int32).
        metrics: metrics(state) -> dict of scalars.
    """
    check_integer("steps", steps, most=INT32_MAX)

    def body(state: Any, t: Array) -> tuple[Any, dict[str, Array]]:
        state = method.step(state, t, jax.random.fold_in(key, t))
        return state, metrics(state)

    return jax.lax.scan(body, method.init(x0), jnp.arange(steps))
