"""`sweep.unrolled_threefry`: the same random bits from a loop-free threefry lowering on CPU."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theorytk import sweep

# JAX's own CPU lowering outside the block (conftest runs the other tests inside one)
pytestmark = pytest.mark.rolled_threefry


def draws(key: jax.Array) -> dict[str, jax.Array]:
    """Raw bits and float64 normals after a fold_in and a split (every draw goes through these)."""
    k = jax.random.split(jax.random.fold_in(key, 3))
    return {
        "bits": jax.random.bits(k[0], (5, 3), jnp.uint32),
        "normal": jax.random.normal(k[1], (7, 4), jnp.float64),
    }


def lowered(keys: jax.Array):
    return jax.jit(jax.vmap(lambda key: draws(key))).lower(keys)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the rolled lowering is CPU's")
def test_unrolled_threefry_draws_the_same_bits_without_the_rolled_loop():
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(5))
    rolled = lowered(keys)
    with sweep.unrolled_threefry():
        unrolled = lowered(keys)
    restored = lowered(keys)
    # The rolled lowering is a while loop over the rounds; the unrolled one has none, and
    # the rolled one is back after the block.
    assert "stablehlo.while" in rolled.as_text()
    assert "stablehlo.while" not in unrolled.as_text()
    assert "stablehlo.while" in restored.as_text()
    expected = rolled.compile()(keys)
    got = unrolled.compile()(keys)
    for name in expected:
        np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(expected[name]), name)


def test_unrolled_threefry_restores_the_lowering_after_an_error():
    keys = jax.random.split(jax.random.key(1), 2)
    before = lowered(keys).as_text()
    with pytest.raises(RuntimeError), sweep.unrolled_threefry():
        raise RuntimeError("inside the block")
    assert lowered(keys).as_text() == before
