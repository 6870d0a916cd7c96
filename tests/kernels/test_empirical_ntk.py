"""Properties of the empirical NTK and agreement of its three implementations."""

from __future__ import annotations

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.kernels._empirical import METHODS, empirical_ntk

# float32 results of the three methods differ by rounding only: measured relative Frobenius
# differences are 1e-8..2e-7 (a few float32 ulps accumulated over ~10^2-10^3 terms); the
# required 1e-5 leaves a 50x margin and would still catch any missing or doubled term.
RTOL_F32 = 1e-5
# float64: the methods sum the same products in different orders, ~1e-15 relative.
RTOL_F64 = 1e-12


def rel_err(a: jax.Array, b: jax.Array) -> float:
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


class LinenMLP(nn.Module):
    widths: tuple[int, ...]
    outputs: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.widths:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.outputs)(x)


class NnxMLP(nnx.Module):
    def __init__(self, d: int, width: int, outputs: int, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(d, width, rngs=rngs)
        self.middle = nnx.Linear(width, width, rngs=rngs)
        self.readout = nnx.Linear(width, outputs, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.readout(jax.nn.gelu(self.middle(jnp.tanh(self.hidden(x)))))


def cast(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


def linen_model(d: int, outputs: int, dtype=jnp.float32):
    model = LinenMLP((24, 16), outputs)
    return model.apply, cast(model.init(jax.random.key(0), jnp.ones((1, d))), dtype)


def nnx_model(d: int, outputs: int, dtype=jnp.float32):
    graphdef, state = nnx.split(NnxMLP(d, 20, outputs, nnx.Rngs(0)), nnx.Param)
    return (lambda s, x: nnx.merge(graphdef, s)(x)), cast(state, dtype)


def equinox_model(d: int, outputs: int, dtype=jnp.float32):
    mlp = eqx.nn.MLP(d, outputs, 16, 3, activation=jax.nn.softplus, key=jax.random.key(0))
    params, static = eqx.partition(cast(mlp, dtype), eqx.is_inexact_array)
    return (lambda p, x: jax.vmap(eqx.combine(p, static))(x)), params


FRAMEWORKS = {"flax.linen": linen_model, "flax.nnx": nnx_model, "equinox": equinox_model}


def inputs(n: int, d: int, seed: int, dtype=jnp.float32) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (n, d), dtype)


def by_method(fn, *args) -> dict:
    """{method: fn(method, *args)} for the three methods, in one compiled call."""
    return jax.jit(lambda *a: {m: fn(m, *a) for m in METHODS})(*args)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_three_methods_agree_in_float32_on_flax_and_equinox_mlps(framework: str) -> None:
    f, params = FRAMEWORKS[framework](d=5, outputs=3)

    def kernels(method, params, x1, x2):
        traced = empirical_ntk(f, params, x1, method=method)
        blocks = empirical_ntk(f, params, x1, x2, method=method, trace_outputs=False)
        return traced, blocks

    thetas = by_method(kernels, params, inputs(6, 5, 1), inputs(4, 5, 2))
    for method, (traced, blocks) in thetas.items():
        assert traced.shape == (6, 6) and blocks.shape == (6, 4, 3, 3)
        assert traced.dtype == blocks.dtype == jnp.float32
        assert rel_err(traced, thetas["jacobian"][0]) < RTOL_F32, method
        assert rel_err(blocks, thetas["jacobian"][1]) < RTOL_F32, method


def test_ntk_of_x1_with_itself_is_symmetric_psd_and_equals_ntk_with_x2_equal_x1() -> None:
    f, params = linen_model(d=4, outputs=2, dtype=jnp.float64)

    def kernels(method, params, x):
        return (
            empirical_ntk(f, params, x, method=method),
            empirical_ntk(f, params, x, x, method=method),
            empirical_ntk(f, params, x, method=method, trace_outputs=False),
        )

    results = by_method(kernels, params, inputs(12, 4, 3, jnp.float64))
    for method, (theta, unsymmetrised, blocks) in results.items():
        np.testing.assert_array_equal(theta, theta.T)
        # Theta(x, x) computed as for two inputs: symmetric up to float64 rounding (~1e-16)
        np.testing.assert_allclose(unsymmetrised, theta, rtol=1e-12, err_msg=method)
        top = np.linalg.eigvalsh(np.asarray(theta)).max()
        # Gram matrices: PSD up to rounding, |negative eigenvalues| <= ~n eps max eigenvalue
        assert np.linalg.eigvalsh(np.asarray(theta)).min() >= -1e-12 * top, method
        flat = np.asarray(blocks).transpose(0, 2, 1, 3).reshape(24, 24)  # rows (i, a)
        assert np.linalg.eigvalsh(flat).min() >= -1e-12 * top, method


def test_traced_ntk_is_the_mean_of_the_diagonal_output_blocks() -> None:
    f, params = equinox_model(d=3, outputs=4, dtype=jnp.float64)

    def kernels(method, params, x1, x2):
        return (
            empirical_ntk(f, params, x1, x2, method=method, trace_outputs=False),
            empirical_ntk(f, params, x1, x2, method=method),
        )

    x1, x2 = inputs(5, 3, 4, jnp.float64), inputs(7, 3, 5, jnp.float64)
    for method, (blocks, traced) in by_method(kernels, params, x1, x2).items():
        assert blocks.shape == (5, 7, 4, 4) and traced.shape == (5, 7)
        np.testing.assert_allclose(traced, jnp.einsum("ijaa->ij", blocks) / 4, rtol=RTOL_F64)
        # the blocks are not all equal to their mean: the outputs have distinct readout weights
        assert rel_err(blocks[..., 0, 0], traced) > 1e-3, method


def test_ntk_of_a_linear_model_is_exactly_x1_times_x2_transposed() -> None:
    # small integers: every product and sum is exact in float64, so equality is exact
    x1 = jax.random.randint(jax.random.key(0), (6, 5), -4, 5).astype(jnp.float64)
    x2 = jax.random.randint(jax.random.key(1), (3, 5), -4, 5).astype(jnp.float64)

    def linear(w, x):
        return x @ w

    def kernels(method, x1, x2):
        return (
            empirical_ntk(linear, jnp.arange(5.0), x1, x2, method=method),
            # k outputs f(W, x) = x W: Theta_ab = (x1 . x2) delta_ab
            empirical_ntk(linear, jnp.ones((5, 2)), x1, x2, method=method, trace_outputs=False),
        )

    for method, (theta, blocks) in by_method(kernels, x1, x2).items():
        np.testing.assert_array_equal(theta, x1 @ x2.T, err_msg=method)
        expected = jnp.einsum("ij,ab->ijab", x1 @ x2.T, jnp.eye(2))
        np.testing.assert_array_equal(blocks, expected, err_msg=method)


def composite(params: dict, x: jax.Array) -> jax.Array:
    """Dense layers in unusual forms: jit, checkpoint, W.T, scaling, sharing, positions, sub."""
    h = jnp.tanh(jax.jit(lambda w, x: x @ (w * 0.7))(params["w0"], x))  # (n, T, 6)
    h = jnp.sin(jax.checkpoint(lambda h: h @ params["w1"].T / 2.0)(h) - params["b1"])
    h = jnp.tanh(h @ params["shared"] + params["b2"][None, None, :])
    h = jnp.tanh(h @ params["shared"])  # the same weight again
    h = jnp.einsum("oc,ntc->ont", params["w_pos"], h).transpose(2, 0, 1)  # (t, o, n)
    h = jnp.tanh(h + params["b_pos"][:, None]).transpose(2, 0, 1)  # bias, then (n, t, o)
    pooled = jnp.mean(h, axis=1)  # the layers above act on T positions
    h = jnp.tanh((params["w_out_in"] @ pooled.T).T - params["b3"])  # W h via a transpose, - b
    return jnp.einsum("nc,cf->nf", h, params["readout"]) + params["scalar_bias"]


def composite_params(dtype=jnp.float64) -> dict:
    shapes = {
        "w0": (3, 6),
        "w1": (5, 6),
        "b1": (5,),
        "shared": (5, 5),
        "b2": (5,),
        "w_pos": (5, 5),
        "b_pos": (5,),
        "w_out_in": (4, 5),
        "b3": (4,),
        "readout": (4, 2),
        "scalar_bias": (),
    }
    keys = jax.random.split(jax.random.key(7), len(shapes))
    return {
        name: jax.random.normal(key, shape, dtype)
        for key, (name, shape) in zip(keys, shapes.items(), strict=True)
    }


def test_structured_path_handles_jit_checkpoint_transpose_scaling_sharing_and_positions() -> None:
    x1 = jax.random.normal(jax.random.key(0), (4, 3, 3))  # 4 examples, 3 positions, 3 features
    x2 = jax.random.normal(jax.random.key(1), (5, 3, 3))

    @jax.jit
    def kernels(params, x1, x2):
        return {
            (m, t): empirical_ntk(composite, params, x1, x2, method=m, trace_outputs=t)
            for m in ("structured", "jacobian")
            for t in (True, False)
        }

    thetas = kernels(composite_params(), x1, x2)
    for trace in (True, False):
        assert rel_err(thetas["structured", trace], thetas["jacobian", trace]) < RTOL_F64


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(1, 6),
    d=st.integers(1, 5),
    widths=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    outputs=st.integers(1, 3),
    activation=st.sampled_from([jax.nn.relu, jnp.tanh, jax.nn.gelu, jnp.sin]),
)
def test_structured_equals_jacobian_for_random_mlp_shapes(
    n: int, d: int, widths: list[int], outputs: int, activation
) -> None:
    sizes = [d, *widths, outputs]
    keys = jax.random.split(jax.random.key(n + 10 * d), len(sizes))
    params = [
        (jax.random.normal(k, (a, b)) / np.sqrt(a), jax.random.normal(k, (b,)))
        for k, a, b in zip(keys[1:], sizes[:-1], sizes[1:], strict=True)
    ]

    def f(params, x):
        for w, b in params[:-1]:
            x = activation(x @ w + b)
        return x @ params[-1][0] + params[-1][1]

    @jax.jit
    def kernels(params, x):
        return {
            (m, t): empirical_ntk(f, params, x, method=m, trace_outputs=t)
            for m in ("structured", "jacobian")
            for t in (True, False)
        }

    thetas = kernels(params, jax.random.normal(keys[0], (n, d)))
    for trace in (True, False):
        expected = thetas["jacobian", trace]
        np.testing.assert_allclose(thetas["structured", trace], expected, rtol=RTOL_F64, atol=1e-13)


def test_ntvp_batch_size_does_not_change_the_result() -> None:
    f, params = nnx_model(d=3, outputs=2)

    @jax.jit
    def kernels(params, x1, x2):
        return [empirical_ntk(f, params, x1, x2, method="ntvp", batch_size=b) for b in (None, 1, 3)]

    full, *chunked = kernels(params, inputs(4, 3, 8), inputs(7, 3, 9))
    for theta in chunked:
        assert rel_err(theta, full) < RTOL_F32


def test_structured_ntk_works_under_jit_and_vmap_over_parameter_draws() -> None:
    model = LinenMLP((8,), 1)
    keys = jax.random.split(jax.random.key(0), 3)
    stacked = jax.vmap(lambda k: model.init(k, jnp.ones((1, 3))))(keys)
    x = inputs(5, 3, 1)
    batched = jax.jit(jax.vmap(lambda p: empirical_ntk(model.apply, p, x)))(stacked)
    one = jax.jit(lambda p: empirical_ntk(model.apply, p, x, method="jacobian"))
    for i, theta in enumerate(batched):
        assert rel_err(theta, one(jax.tree.map(lambda a, i=i: a[i], stacked))) < RTOL_F32


class ConvNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(4, (3,))(x[..., None]))
        return nn.Dense(1)(x.reshape(x.shape[0], -1))


class NormNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(1)(nn.LayerNorm()(nn.Dense(4)(x)))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (ConvNet(), r"\['params'\]\['Conv_0'\]\['kernel'\].*conv_general_dilated"),
        (NormNet(), r"\['params'\]\['LayerNorm_0'\]\['scale'\].*`mul`"),
    ],
)
def test_structured_path_rejects_convolutions_and_elementwise_scales(model, message) -> None:
    x = inputs(3, 6, 0)
    params = model.init(jax.random.key(0), x)
    with pytest.raises(ValueError, match=message) as info:
        empirical_ntk(model.apply, params, x, method="structured")
    assert "method='jacobian'" in str(info.value)


@pytest.mark.parametrize(
    ("f", "params", "message"),
    [
        (lambda w, x: x @ (w * w), jnp.ones((3, 2)), "mul"),  # a product of parameters
        (lambda w, x: x @ w.reshape(3, 2), jnp.ones(6), "reshape"),  # merging axes
        (lambda w, x: x @ w[:, :1], jnp.ones((3, 2)), "slice"),
        (lambda w, x: (x @ w) @ w.T, jnp.ones((3, 3)), "different axes"),  # W and W.T
        (lambda w, x: x @ w + jnp.sum(w), jnp.ones((3, 1)), "reduce_sum"),
    ],
)
def test_structured_path_rejects_other_parameter_uses_with_the_parameter_named(
    f, params, message
) -> None:
    with pytest.raises(ValueError, match=message):
        empirical_ntk(f, params, inputs(2, 3, 0), method="structured")


@pytest.mark.parametrize(
    ("x1", "x2", "message"),
    [
        (np.ones((4, 3)), np.ones((2, 5)), r"same feature shape.*\(4, 3\).*\(2, 5\)"),
        (np.ones((4, 3)), np.ones((2, 3, 1)), "same feature shape"),
        (np.ones(()), None, r"batch of inputs.*shape \(\)"),
        (np.ones((0, 3)), None, r"n >= 1"),
    ],
)
def test_bad_inputs_raise_value_error(x1, x2, message) -> None:
    with pytest.raises(ValueError, match=message):
        empirical_ntk(lambda w, x: x @ w, jnp.ones(3), x1, x2)


def test_bad_arguments_and_model_outputs_raise_value_error() -> None:
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"method must be one of .*'structured'.*got 'fast'"):
        empirical_ntk(lambda w, x: x @ w, jnp.ones(3), x, method="fast")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        empirical_ntk(lambda w, x: x @ w, jnp.ones(3), x, method="ntvp", batch_size=0)
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, k\).*\(4, 2, 2\)"):
        empirical_ntk(lambda w, x: jnp.einsum("ni,ijk->njk", x, w), jnp.ones((3, 2, 2)), x)
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, k\).*returned \(\)"):
        empirical_ntk(lambda w, x: jnp.sum(x @ w), jnp.ones(3), x)
    with pytest.raises(ValueError, match="floating-point array.*\\['steps'\\].*int"):
        empirical_ntk(lambda p, x: x @ p["w"], {"w": jnp.ones(3), "steps": jnp.array(1)}, x)
