"""Padding the number of components: a padded problem runs exactly like the one with that n."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk import monotone, sweep
from theorytk.monotone._vr_halpern import sample_batch


def test_sample_batch_draws_what_jax_random_choice_draws_padded_or_not():
    # 1000 <= 1625 needs one sorting round, 1700 two, and a padded size of 2000 two: rounds
    # beyond n's own must be skipped. Bitwise: the same 32-bit sort keys sorted stably.
    keys = jax.random.split(jax.random.key(0), 3)
    for n in (1, 17, 1000, 1700):
        b = monotone.batch_size(n)
        assert int(monotone.batch_size(jnp.int32(n))) == b
        expected = jax.vmap(lambda k, n=n, b=b: jax.random.choice(k, n, (b,), replace=False))(keys)
        alone = jax.vmap(lambda k, n=n, b=b: sample_batch(k, n, b, n))(keys)
        padded = jax.jit(jax.vmap(lambda k, m, b=b: sample_batch(k, m, b, 2000), (0, None)))
        np.testing.assert_array_equal(alone, expected)
        np.testing.assert_array_equal(padded(keys, jnp.int32(n)), expected)


def _config(method: str, n: int) -> monotone.RunConfig:
    return monotone.RunConfig(
        problem="cocoercive", method=method, n=n, d=6, eps=1e-2, max_epochs=100.0, condition=1e3
    )


@pytest.mark.parametrize("method", ["vr_halpern", "inexact_vr_halpern"])
def test_a_padded_run_equals_the_run_at_that_n(method):
    # params n = m with config.n = 24 stores 24 components and sums the first m: the same
    # random draws, batches and stopping step as config.n = m. Means over the components
    # are taken over a longer (zero-padded) axis, so values agree to float64 rounding
    # (measured: <= 1e-14 relative), and the counts (epochs, status) exactly.
    key, params = jax.random.key(5), {"heterogeneity": 0.7}
    sizes = np.array([5.0, 17.0])
    padded = jax.jit(
        jax.vmap(lambda n: monotone.simulate({**params, "n": n}, key, config=_config(method, 24)))
    )(sizes)
    for i, n in enumerate(sizes.astype(int)):
        alone = monotone.simulate(params, key, config=_config(method, int(n)))
        for name, value in alone.items():
            if name in ("epochs", "status", "converged"):
                np.testing.assert_array_equal(padded[name][i], value, err_msg=f"{name} n={n}")
            else:
                np.testing.assert_allclose(padded[name][i], value, rtol=1e-12, err_msg=name)
        assert padded["status"][i] in (sweep.Status.OK, sweep.Status.BUDGET)


def test_padded_families_sum_their_first_n_components():
    # The padded problem's F, constants and components are those of the n-component one.
    key = jax.random.key(2)
    for make in (
        monotone.random_cocoercive_linear,
        monotone.random_monotone_linear,
        lambda key, d, **kw: monotone.finite_sum_minmax(key, d, **kw),
    ):

        def summary(n, size, make=make):
            p = make(key, 4, n=n, size=size, heterogeneity=1.5)
            constants = ("lipschitz", "mean_lipschitz", "mean_cocoercivity")
            return p.n, p.matrix, p.offset, p.matrices[:7], *(getattr(p, c)() for c in constants)

        alone = jax.jit(lambda: summary(7, None))()
        padded = jax.jit(lambda n: summary(n, 30))(jnp.int32(7))
        assert int(padded[0]) == 7
        for got, want in zip(padded[1:], alone[1:], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_padding_is_refused_or_reported_where_it_does_not_apply():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="n must be in"):
        monotone.random_cocoercive_linear(key, 3, n=9, size=8)
    with pytest.raises(ValueError, match="integer scalar"):
        monotone.random_cocoercive_linear(key, 3, n=2.5, size=8)
    game = monotone.RunConfig(problem="random_game", method="halpern", n=6, max_epochs=10.0)
    with pytest.raises(ValueError, match="random linear families"):
        monotone.simulate({"n": 3}, key, config=game)
    # a traced n beyond config.n (or not an integer) is an INVALID point, not a wrong run
    out = jax.jit(
        jax.vmap(lambda n: monotone.simulate({"n": n}, key, config=_config("vr_halpern", 8)))
    )(jnp.array([9.0, 2.5]))
    np.testing.assert_array_equal(out["status"], [sweep.Status.INVALID] * 2)
    assert np.all(np.isnan(out["epochs"]))
