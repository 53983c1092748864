"""Learning from other networks' readings (mlp.distil)."""

import numpy as np
import pytest
from test_training import toy_config, toy_data, train_all

from mlp import MLP, ConfigError, Trainer
from mlp.distil import Teachers
from mlp.losses import NOT_A_CLASS, softmax


def test_targets_mix_the_label_with_the_teachers_average_and_leave_no_class_uniform():
    a, b = MLP([20, 8, 3], seed=0), MLP([20, 8, 3], seed=1)
    x = np.random.default_rng(0).standard_normal((4, 20)).astype(np.float32)
    labels = np.array([0, 2, NOT_A_CLASS, 1])
    targets = Teachers([a, b], weight=0.3).targets(x, labels)
    average = (softmax(a.forward(x)) + softmax(b.forward(x))) / 2
    assert np.allclose(targets.sum(axis=1), 1, atol=1e-6)
    for row in (0, 1, 3):
        assert np.allclose(targets[row], 0.3 * average[row] + 0.7 * np.eye(3)[labels[row]], atol=1e-6)
    assert np.allclose(targets[2], 1 / 3)


def test_a_student_taught_by_a_teacher_alone_reads_as_the_teacher_not_as_the_labels():
    x, y = toy_data()
    teacher, _, _ = train_all(toy_config(epochs=4), x, (y + 1) % 3)  # a teacher that reads every class as the next
    assert np.mean(teacher.predict(x) == (y + 1) % 3) > 0.95
    student, _, _ = train_all(toy_config(epochs=4, seed=2), x, y, teachers=Teachers([teacher], weight=1.0))
    assert np.mean(student.predict(x) == teacher.predict(x)) > 0.95
    half, _, _ = train_all(toy_config(epochs=15, seed=2), x, y, teachers=Teachers([teacher], weight=0.3))
    assert np.mean(half.predict(x) == y) > 0.85  # at 0.3 the labels outweigh it


@pytest.mark.parametrize(("teachers", "message"), [
    (lambda: Teachers([], 0.5), "at least one teacher"),
    (lambda: Teachers([MLP([20, 8, 3])], 0.0), r"weight must be in \(0, 1\], got 0.0"),
    (lambda: Teachers([MLP([20, 8, 3])], 1.5), "got 1.5"),
    (lambda: Teachers([MLP([20, 8, 3]), MLP([20, 8, 4])], 0.5), "teacher 2 reads 20 inputs into 4 classes"),
])
def test_teachers_that_cannot_teach_are_refused_by_name(teachers, message):
    x, y = toy_data()
    student = MLP([20, 16, 3])
    with pytest.raises(ConfigError, match=message):
        Trainer(student, toy_config(), x, y, teachers=teachers())


def test_teachers_read_without_dropout_in_their_own_precision():
    x = np.random.default_rng(1).standard_normal((6, 20)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    dropping = Teachers([MLP([20, 8, 3], dropout=0.5, seed=0)], weight=1.0)
    assert np.array_equal(dropping.targets(x, labels), dropping.targets(x, labels))  # no random masks
    wide = MLP([20, 8, 3], seed=0, dtype="float64")
    targets = Teachers([wide], weight=1.0).targets(x, labels)
    assert targets.dtype == np.float32 and np.allclose(targets, softmax(wide.forward(x.astype(np.float64))), atol=1e-6)


def test_a_run_with_teachers_has_no_state_to_go_on_from():
    x, y = toy_data()
    teacher, _, _ = train_all(toy_config(epochs=1), x, y)
    _, trainer, _ = train_all(toy_config(epochs=1), x, y, teachers=Teachers([teacher]))
    with pytest.raises(RuntimeError, match="learns from teachers has no state"):
        trainer.state()
