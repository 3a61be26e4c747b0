import numpy as np
import pytest
import scipy.sparse as sp

from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.sgd import LEARNING_RATES, SGDTrainer


def _binary_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.csr_matrix((rng.random((n, 6)) < 0.4).astype(float))
    logits = 2.5 * X[:, 0].toarray().ravel() - 2.0 * X[:, 1].toarray().ravel() - 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    return X, y


def test_logistic_learns_signs_and_is_deterministic():
    X, y = _binary_data()
    first = SGDTrainer("logistic", l2=1e-6, random_state=3).fit(X, y)
    again = SGDTrainer("logistic", l2=1e-6, random_state=3).fit(X, y)
    assert first.coef_[0, 0] > 1.0 and first.coef_[1, 0] < -1.0
    assert np.array_equal(first.coef_, again.coef_)
    assert first.learning_rate_ == again.learning_rate_
    other = SGDTrainer("logistic", l2=1e-6, random_state=4).fit(X, y)
    assert not np.array_equal(first.coef_, other.coef_)


def test_chosen_learner_has_the_lowest_finite_loss():
    X, y = _binary_data()
    trainer = SGDTrainer("logistic", l2=1e-6).fit(X, y)
    assert set(trainer.losses_) == set(LEARNING_RATES)
    finite = {rate: loss for rate, loss in trainer.losses_.items() if np.isfinite(loss)}
    assert trainer.learning_rate_ == min(finite, key=lambda r: (finite[r], r))
    assert trainer.loss_ == finite[trainer.learning_rate_]


def test_ties_go_to_the_smaller_rate():
    X = sp.csr_matrix((4, 2))
    y = np.array([0.0, 0.0, 0.0, 0.0])
    trainer = SGDTrainer("squared").fit(X, y)
    assert set(trainer.losses_.values()) == {0.0}
    assert trainer.learning_rate_ == 0.01


def test_early_stop_when_loss_settles():
    X = sp.csr_matrix(np.ones((8, 1)))
    y = np.zeros(8)
    trainer = SGDTrainer("squared", max_passes=50).fit(X, y)
    assert trainer.n_passes_ == 1


def test_max_passes_bounds_training():
    X, y = _binary_data()
    trainer = SGDTrainer("logistic", max_passes=3, tol=0.0).fit(X, y)
    assert trainer.n_passes_ == 3


def test_softmax_is_multinomial_with_one_column_per_class():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 900)
    X = sp.csr_matrix(np.eye(3)[labels] + (rng.random((900, 3)) < 0.1))
    trainer = SGDTrainer("softmax", random_state=1).fit(X, labels, n_classes=3)
    assert trainer.coef_.shape == (3, 3) and trainer.intercept_.shape == (3,)
    predicted = (X @ trainer.coef_ + trainer.intercept_).argmax(axis=1)
    assert (predicted == labels).mean() > 0.9


def test_squared_loss_recovers_a_linear_function():
    rng = np.random.default_rng(2)
    X = sp.csr_matrix((rng.random((500, 4)) < 0.5).astype(float))
    y = X @ np.array([1.0, -0.5, 0.25, 0.0]) + 0.1
    trainer = SGDTrainer("squared", max_passes=30, random_state=2).fit(X, y)
    assert trainer.coef_.ravel() == pytest.approx([1.0, -0.5, 0.25, 0.0], abs=0.05)
    assert trainer.intercept_[0] == pytest.approx(0.1, abs=0.05)


def test_l1_zeroes_useless_weights():
    X, y = _binary_data()
    plain = SGDTrainer("logistic").fit(X, y)
    sparse = SGDTrainer("logistic", l1=0.05).fit(X, y)
    assert np.count_nonzero(sparse.coef_) < np.count_nonzero(plain.coef_)
    assert np.abs(sparse.coef_[2:]).max() == 0.0


def test_l2_shrinks_weights():
    X, y = _binary_data()
    loose = SGDTrainer("logistic", l2=1e-6).fit(X, y)
    tight = SGDTrainer("logistic", l2=1e-1).fit(X, y)
    assert np.abs(tight.coef_).sum() < np.abs(loose.coef_).sum()


def test_without_shuffle_row_order_matters():
    X, y = _binary_data()
    order = np.argsort(y, kind="stable")
    unshuffled = SGDTrainer("logistic", shuffle=False).fit(X[order], y[order])
    shuffled = SGDTrainer("logistic", shuffle=True).fit(X[order], y[order])
    assert not np.array_equal(unshuffled.coef_, shuffled.coef_)


def test_every_learner_diverging_is_a_job_failure():
    X = sp.csr_matrix(np.array([[1e200], [2e200]]))
    with pytest.raises(JobFailedError, match="diverged"):
        SGDTrainer("squared", learning_rates=(100.0,)).fit(X, np.array([1e200, -1e200]))


def test_diverged_learners_are_reported_as_infinite():
    X = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]] * 50))
    y = np.array([1.0, 2.0, 1.0] * 50)
    trainer = SGDTrainer("squared", batch_size=64, max_passes=40).fit(X, y)
    assert trainer.losses_[100.0] == float("inf")
    assert np.isfinite(trainer.loss_)
