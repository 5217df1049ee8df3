"""Shared numerics of the models against numpy and their invariances (bitwise where claimed)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale.models import numerics as nm


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_tree_sum_equals_the_sum_and_is_blind_to_padding_and_batch(n):
    rng = np.random.default_rng(n)
    v = rng.standard_normal((16, n))
    got = np.asarray(nm.tree_sum(jnp.asarray(v), axis=1))
    np.testing.assert_allclose(got, v.sum(axis=1), rtol=1e-13, atol=1e-14)
    # zero padding (a bucket of 2n neurons) and another batch size leave every bit unchanged
    padded = np.concatenate([v, np.zeros((16, n))], axis=1)
    assert np.array_equal(np.asarray(nm.tree_sum(jnp.asarray(padded), axis=1)), got)
    assert np.array_equal(np.asarray(jax.vmap(nm.tree_sum)(jnp.asarray(v[:3]))), got[:3])
    assert np.array_equal(np.asarray(nm.tree_sum(jnp.asarray(v.T), axis=0)), got)


def test_record_mask_and_window():
    m = nm.record_mask((3, 10), 10)
    assert m.shape == (11,) and m.tolist() == [i in (3, 10) for i in range(11)]
    assert nm.window(1, 0.1) == 1 and nm.window(10, 0.1) == 1 and nm.window(11, 0.1) == 2
    assert nm.window(250, 0.1, start=200) == 5 and nm.window(200, 0.1) == 20


def test_end_window_stats_against_numpy():
    rng = np.random.default_rng(0)
    losses = np.exp(-np.arange(1, 101) / 30) + 0.01 * rng.random(100)
    record = (1, 7, 40, 100)
    st = nm.end_window_stats(jnp.asarray(losses), record, 0.1)
    for i, s in enumerate(record):
        k = max(1, math.ceil(0.1 * s))
        last = losses[s - k:s].mean()
        prev = losses[s - 2 * k:s - k].mean() if s >= 2 * k else last
        assert float(st["last"][i]) == pytest.approx(last, rel=1e-14)
        assert float(st["prev"][i]) == pytest.approx(prev, rel=1e-14)
        assert float(st["sem"][i]) == pytest.approx(losses[s - k:s].std() / math.sqrt(k) / last, rel=1e-12, abs=1e-300)
    assert not np.asarray(st["bad"]).any()
    losses[50] = np.nan  # step 51 blew up: every window reaching it is flagged, earlier ones not
    bad = np.asarray(nm.end_window_stats(jnp.asarray(losses), record, 0.1)["bad"])
    assert bad.tolist() == [False, False, False, True]


def test_bisect_finds_closed_form_roots_both_ways_under_vmap():
    """The shared fixed-step bisection: the root of x^3 - c (increasing) and of c - x^3
    (decreasing) is c^(1/3) to float64 round-off after 80 halvings of [-4, 4], vmapped over c."""
    import jax

    from toyscale.numerics import bisect

    cs = np.array([-8.0, -0.5, 0.0, 1e-3, 2.0, 27.0])
    up = jax.vmap(lambda c: bisect(lambda x: x ** 3 - c, -4.0, 4.0, 80))(cs)
    down = jax.vmap(lambda c: bisect(lambda x: c - x ** 3, -4.0, 4.0, 80, increasing=False))(cs)
    np.testing.assert_allclose(np.asarray(up), np.cbrt(cs), atol=1e-12)
    np.testing.assert_allclose(np.asarray(down), np.cbrt(cs), atol=1e-12)
