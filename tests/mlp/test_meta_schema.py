"""The one schema a model file's metadata is checked against on load (mlp.schema), field by field.

Every field the code reads has a row here: a value of the right shape is kept as it is, a value of
the wrong type or range is dropped and named, never a crash further on.
"""

import json

import pytest

from harness import ROOT
from harness.hostile import deep_metadata_file, model_file_with_meta
from mlp import ModelFileError, TrainOutcome, load_model
from mlp.meta import __doc__ as META_DOC
from mlp.schema import FIELDS, MAX_DEPTH, MetadataError, clean_metadata, json_depth, parse

EPOCH = {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.9, "val_loss": 0.4, "val_accuracy": 0.91, "lr": 0.001,
         "seconds": 1.5, "val_seconds": 0.1, "samples_per_second": 1000.0}

# (field, a good value, bad values): each bad value is dropped, the good one kept.
TABLE = [
    ("name", "My model 1", [7, None, ["x"], "x" * 201]),
    ("dataset", "mnist", ["MNIST!", "", "a" * 41, 3, "../etc"]),
    ("class_names", ["0", "1"], ["0123", [1, 2], ["x" * 41], [["a"]], [None]]),
    ("preprocess_version", 1, ["1", -1, 1.5, True]),
    ("history", [EPOCH, {"epoch": 2}], [["one", "two"], [{"epoch": "1"}], [{"train_loss": 0.1}],
                                        [{**EPOCH, "train_accuracy": 1.5}], [{**EPOCH, "seconds": -1}], {"1": EPOCH},
                                        [{**EPOCH, "epoch": True}], [{**EPOCH, "lr": "fast"}]]),
    ("outcome", "completed", ["won", 1, None]),
    ("test_accuracy", 0.99, [1.01, -0.1, "0.99", True, None]),
    ("test_loss", 0.03, [-1.0, "low"]),
    ("per_class_accuracy", [0.9] * 10, [[1.2], "0.9", [None], [0.5] * 1001]),
    ("drawn_digits", {"n": 2000, "accuracy": 0.97, "by_brush": {"8-12": {"n": 3}}},
     [{"n": "2000", "accuracy": 0.9}, {"accuracy": 2}, ["n", 3], "97%", {"per_class_accuracy": ["x"]}]),
    ("pen_digits", {"n": 5000, "accuracy": 0.97}, [{"n": -1}, 0.97]),
    ("unsure", {"threshold": 0.45, "measured": {"digits_flagged": 0.02}}, [{"threshold": 3}, {"threshold": "low"}]),
    ("adapted", {"n_drawings": 20, "seconds": 5.2, "holdout": {"n": 4, "before": 0.5, "after": None},
                 "mnist_test_accuracy": {"before": 0.99, "after": 0.99}},
     [{"n_drawings": "20"}, {"n_drawings": 20, "seconds": 1, "holdout": [], "mnist_test_accuracy": {}}]),
    ("created", "2026-11-30T00:54:41+00:00", ["**Session expired — [sign in](http://x)**", 20261130, "x" * 41,
                                               "yesterday"]),
    ("training", {"hidden": [256, 128], "optimizer": "adam", "lr": 0.001, "augment": None},
     [["adam", "lr 0.001"], "adam", 5]),
]


def test_every_field_the_code_reads_has_a_row_here_and_in_mlp_meta():
    assert set(FIELDS) | {"created", "training"} == {row[0] for row in TABLE}
    for field, _, _ in TABLE:
        assert field in META_DOC, field


@pytest.mark.parametrize("field,good", [(r[0], r[1]) for r in TABLE], ids=[r[0] for r in TABLE])
def test_a_good_value_is_kept_as_it_is(field, good):
    assert clean_metadata({field: good}) == ({field: good}, [])


@pytest.mark.parametrize("field,bad", [(r[0], b) for r in TABLE for b in r[2]],
                         ids=[f"{r[0]}-{i}" for r in TABLE for i in range(len(r[2]))])
def test_a_bad_value_is_dropped_and_named(field, bad):
    clean, dropped = clean_metadata({field: bad, "other": 1})
    assert field not in clean and dropped == [field] and clean == {"other": 1}


def test_training_settings_are_checked_one_by_one_by_the_hyperparameter_table():
    clean, dropped = clean_metadata({"training": {"hidden": [256, -3], "lr": -1, "optimizer": "rocket",
                                                  "epochs": 5, "batch_size": True, "negatives": 15000,
                                                  "future_setting": {"nested": 1},
                                                  "augment": {"max_shift": 2.0, "max_rotation": "lots"}}})
    assert clean == {"training": {"epochs": 5, "negatives": 15000, "augment": {"max_shift": 2.0}}}
    assert sorted(dropped) == ["training.batch_size", "training.future_setting", "training.hidden", "training.lr",
                               "training.optimizer"]


def test_every_outcome_a_trainer_records_is_one_the_schema_keeps():
    for outcome in TrainOutcome:
        assert clean_metadata({"outcome": outcome.value}) == ({"outcome": outcome.value}, [])
    assert clean_metadata({"outcome": "failed"})[1] == ["outcome"]  # the app's own state, never a model's


def test_fields_of_other_versions_are_kept_untouched():
    assert clean_metadata({"a_future_field": {"deep": [1, 2]}}) == ({"a_future_field": {"deep": [1, 2]}}, [])


def test_nesting_is_measured_before_parsing():
    assert json_depth('{"a": [1, {"b": "[[[[[["}]}') == 3
    assert json_depth('"[[[[\\"[[["') == 0
    with pytest.raises(MetadataError, match=f"nests {MAX_DEPTH + 1} levels deep"):
        parse("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(MetadataError, match="not valid JSON"):
        parse('{"a": NaN}')


def test_a_file_with_bad_fields_loads_without_them_and_says_which():
    model = load_model(model_file_with_meta({"history": ["one", "two"], "training": ["adam"],
                                             "drawn_digits": {"n": "2000", "accuracy": 0.9},
                                             "created": "**Session expired**", "test_accuracy": 0.97}))
    assert sorted(model.dropped_meta) == ["created", "drawn_digits", "history", "training"]
    assert model.meta["test_accuracy"] == 0.97 and "history" not in model.meta


def test_a_file_nested_100000_deep_is_refused_with_a_message():
    with pytest.raises(ModelFileError, match="metadata nests 100,001 levels deep"):
        load_model(deep_metadata_file(100_000))


def test_every_record_the_app_writes_passes():
    from mlp import MLP, model_to_bytes

    model = load_model(ROOT / "models" / "default.npz")
    assert model.dropped_meta == []
    again = load_model(model_to_bytes(model))
    assert again.dropped_meta == [] and json.dumps(again.meta) == json.dumps(model.meta)
    assert load_model(model_to_bytes(MLP([784, 8, 10]))).dropped_meta == []
