import numpy as np
import pytest

from theorytk import datasets


def test_digits_parity_lie_on_the_sphere_of_radius_sqrt_d_with_balanced_labels():
    x, y = datasets.digits("parity")
    assert x.shape == (1797, 64) and y.shape == (1797,)
    np.testing.assert_allclose(np.sum(x**2, axis=1), 64.0, rtol=1e-12)
    assert set(np.unique(y)) == {-1.0, 1.0}
    # 891 even and 906 odd digits in scikit-learn's copy
    assert int(np.sum(y > 0)) == 891


def test_digits_one_vs_rest_marks_exactly_the_chosen_digit():
    _, y = datasets.digits("one_vs_rest", digit=3)
    _, y_parity = datasets.digits("parity")
    # 183 threes, and every three is odd
    assert int(np.sum(y > 0)) == 183
    assert np.all(y_parity[y > 0] == -1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"task": "mnist"}, "not known"), ({"task": "one_vs_rest", "digit": 10}, "0..9")],
)
def test_digits_reject_unknown_tasks_and_digits(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.digits(**kwargs)


def test_digits_split_is_a_seeded_partition_of_the_digits():
    x, y = datasets.digits("parity")
    x_tr, y_tr, x_te, y_te = datasets.digits_split("parity", n_train=1200)
    assert x_tr.shape == (1200, 64) and x_te.shape == (597, 64)
    joined = np.concatenate([x_tr, x_te])
    np.testing.assert_array_equal(np.sort(joined, axis=0), np.sort(x, axis=0))
    again = datasets.digits_split("parity", n_train=1200)
    np.testing.assert_array_equal(again[0], x_tr)
    assert not np.array_equal(datasets.digits_split("parity", n_train=1200, seed=1)[0], x_tr)
    with pytest.raises(ValueError, match="n_train must be an integer in"):
        datasets.digits_split(n_train=1797)
