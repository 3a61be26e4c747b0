import math

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
    trainer = SGDTrainer("squared", max_passes=40).fit(X, y)
    assert trainer.losses_[100.0] == float("inf")
    assert np.isfinite(trainer.loss_)


def _reference(X, y, loss, rate, n_out, l1=0.0, l2=0.0, passes=3, tol=1e-6):
    """Train one learner row by row in plain Python, centring eagerly.

    The rows are taken in the given order (the trainers below do not
    shuffle). Returns (coef, intercept, last pass objective, passes run,
    objective of the final weights).
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    centred = (X != 0).sum(axis=0) >= 0.05 * n
    means = np.where(centred, X.sum(axis=0) / n, 0.0)
    scale = (X**2).sum(axis=1).mean() - means @ means + 1.0
    X = X - means
    W, c = np.zeros((d, n_out)), np.zeros(n_out)

    def loss_and_gradient(scores, target):
        if loss == "squared":
            return 0.5 * (scores[0] - target) ** 2, scores - target
        if loss == "logistic":
            z = scores[0]
            value = np.logaddexp(0.0, -z if target == 1 else z)
            return value, np.array([1 / (1 + np.exp(-z)) - target])
        shifted = scores - scores.max()
        probabilities = np.exp(shifted) / np.exp(shifted).sum()
        value = np.log(np.exp(shifted).sum()) - shifted[int(target)]
        return value, probabilities - np.eye(n_out)[int(target)]

    previous = np.mean([loss_and_gradient(np.zeros(n_out), t)[0] for t in y])
    for p in range(passes):
        step = rate / scale / np.sqrt(1.0 + p)
        total = 0.0
        for row, target in zip(X, y, strict=True):
            value, gradient = loss_and_gradient(row @ W + c, target)
            total += value
            W -= step * np.outer(row, gradient)
            c -= step * gradient
        amount = step * n
        W *= np.exp(-amount * l2)
        W = np.sign(W) * np.maximum(np.abs(W) - amount * l1, 0.0)
        current = total / n + 0.5 * l2 * (W**2).sum() + l1 * np.abs(W).sum()
        settled = abs(previous - current) < tol
        previous = current
        if settled:
            break
    penalty = 0.5 * l2 * (W**2).sum() + l1 * np.abs(W).sum()
    rows = zip(X, y, strict=True)
    final = np.mean([loss_and_gradient(row @ W + c, t)[0] for row, t in rows])
    return W, c - means @ W, previous, p + 1, final + penalty


@pytest.mark.parametrize(
    ("loss", "n_out", "penalty"),
    [
        ("logistic", 1, {"l2": 1e-2}),
        ("softmax", 3, {"l2": 1e-3}),
        ("squared", 1, {"l1": 1e-2}),
    ],
)
def test_per_example_steps_match_a_plain_python_reference(loss, n_out, penalty):
    # Features 0 and 1 are frequent (centred lazily by the trainer, eagerly
    # by the reference); feature 2 is in 1 row of 40, under 5 %.
    rng = np.random.default_rng(5)
    X = (rng.random((40, 4)) < [0.9, 0.5, 0.0, 0.3]) * rng.normal(1, 0.5, (40, 4))
    X[7, 2] = 2.0
    y = rng.integers(0, n_out if loss == "softmax" else 2, 40).astype(float)
    rates = (0.1, 1.0, 3.0)

    trainer = SGDTrainer(
        loss, shuffle=False, max_passes=4, learning_rates=rates, **penalty
    ).fit(sp.csr_matrix(X), y, n_classes=n_out if loss == "softmax" else 0)

    for rate in rates:
        W, b, progressive, _, final = _reference(
            X, y, loss, rate, n_out, passes=4, **penalty
        )
        assert trainer.progressive_losses_[rate] == pytest.approx(
            progressive, rel=1e-12, abs=1e-12
        )
        assert trainer.losses_[rate] == pytest.approx(final, rel=1e-12, abs=1e-12)
        if rate == trainer.learning_rate_:
            np.testing.assert_allclose(trainer.coef_, W, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(trainer.intercept_, b, rtol=1e-12, atol=1e-12)


def test_pass_objective_is_progressive_and_the_choice_uses_the_final_weights():
    # x = 1, 3 has mean 2: centred -1, 1; R2 = (1 + 9) / 2 - 4 + 1 = 2, so
    # rate 1 steps by 0.5. Row 1: score 0, loss 0.5, w = -0.5, c = 0.5.
    # Row 2: score -0.5 + 0.5 = 0, loss 4.5, w = 1, c = 2. The L2 step
    # shrinks w by exp(-0.5 * 2 * 0.1). The pass objective is the rows'
    # losses before their steps; the final one scores the shrunk weights.
    X = sp.csr_matrix(np.array([[1.0], [3.0]]))
    trainer = SGDTrainer(
        "squared", l2=0.1, max_passes=1, shuffle=False, learning_rates=(1.0,)
    ).fit(X, np.array([1.0, 3.0]))

    w = math.exp(-0.1)
    penalty = 0.05 * w**2
    assert trainer.progressive_losses_[1.0] == pytest.approx(
        (0.5 + 4.5) / 2 + penalty, abs=1e-15
    )
    residual = 2.0 - w * 1.0 - 1.0  # the same, with opposite signs, for row 2
    assert trainer.loss_ == pytest.approx(0.5 * residual**2 + penalty, abs=1e-15)
    assert trainer.coef_[0, 0] == pytest.approx(w, abs=1e-15)
    assert trainer.intercept_[0] == pytest.approx(2.0 - 2 * w, abs=1e-15)


def test_a_rate_whose_penalty_step_shrinks_its_weights_away_does_not_win():
    # 3 classes, one indicator feature each. With l2 = 0.05 the largest
    # rate's pass steps add up to far more than 1 / l2: its weights shrink
    # by exp(-l2 * total step) ~ 0 after every pass, though the rows it saw
    # during the pass were predicted well (a low progressive loss).
    labels = np.arange(300) % 3
    X = sp.csr_matrix(np.eye(3)[labels])
    trainer = SGDTrainer(
        "softmax", l2=0.05, learning_rates=(0.1, 100.0), max_passes=3
    ).fit(X, labels, n_classes=3)

    assert trainer.progressive_losses_[100.0] < trainer.progressive_losses_[0.1]
    # Its final weights predict worse than the uniform guess (log 3).
    assert trainer.losses_[100.0] > math.log(3) > trainer.losses_[0.1]
    assert trainer.learning_rate_ == 0.1
    predicted = (X @ trainer.coef_ + trainer.intercept_).argmax(axis=1)
    assert np.array_equal(predicted, labels)


def test_learners_stop_on_their_own_objective_as_the_reference_does():
    X, y = _binary_data(n=200)
    trainer = SGDTrainer(
        "logistic", shuffle=False, max_passes=50, tol=1e-4, learning_rates=(0.1,)
    ).fit(X, y)

    _, _, objective, passes, _ = _reference(
        X.toarray(), y, "logistic", 0.1, 1, passes=50, tol=1e-4
    )
    assert 1 < trainer.n_passes_ == passes < 50
    assert trainer.progressive_losses_[0.1] == pytest.approx(objective, rel=1e-12)


def test_threads_train_learners_apart_without_changing_the_result():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    X = sp.csr_matrix(np.eye(3)[labels] + (rng.random((300, 3)) < 0.3))
    one = SGDTrainer("softmax", l2=1e-3, threads=1).fit(X, labels, n_classes=3)
    three = SGDTrainer("softmax", l2=1e-3, threads=3).fit(X, labels, n_classes=3)

    assert three.losses_ == one.losses_
    assert np.array_equal(three.coef_, one.coef_)
    assert np.array_equal(three.intercept_, one.intercept_)
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        SGDTrainer("softmax", threads=0).fit(X, labels, n_classes=3)


def test_softmax_targets_must_be_class_indices():
    X = sp.csr_matrix(np.eye(3))

    with pytest.raises(ValueError, match=r"class indices 0 to 2, got 3\.$"):
        SGDTrainer("softmax").fit(X, np.array([0, 1, 3]), n_classes=3)
    with pytest.raises(ValueError, match=r"class indices 0 to 2, got 0.5\.$"):
        SGDTrainer("softmax").fit(X, np.array([0, 1, 0.5]), n_classes=3)


@pytest.mark.parametrize("penalty", [{"l2": 1e-6}, {"l1": 1e-3}, {}])
def test_rows_without_features_train_the_intercepts_alone(penalty):
    y = np.array([0.0, 1.0, 1.0, 1.0] * 25)
    trainer = SGDTrainer("logistic", **penalty).fit(sp.csr_matrix((100, 0)), y)

    assert trainer.coef_.shape == (0, 1)
    # The intercept moves towards the log-odds of the 75 % positives.
    assert 0.0 < trainer.intercept_[0] < math.log(3) + 0.5
