"""webapp.views.fields' parsers of a link's values: what they take, and what they say of the rest."""

import pytest

from webapp.views import fields


def test_choice_accepts_the_text_of_an_option_and_returns_the_option():
    parse = fields.choice([1, 2, "sgd"])
    assert parse("1") == 1 and type(parse("1")) is int
    assert parse("sgd") == "sgd"
    for bad in ("3", "SGD", "", " 1"):
        with pytest.raises(ValueError):
            parse(bad)


def test_int_in_accepts_whole_numbers_in_range():
    parse = fields.int_in(0, 9)
    assert parse("0") == 0 and parse("9") == 9
    for bad in ("-1", "10", "x", "1.5", ""):
        with pytest.raises(ValueError):
            parse(bad)
    unbounded = fields.int_in(1)
    assert unbounded("1000000") == 1000000
    with pytest.raises(ValueError):
        unbounded("0")


def test_generic_url_parsers_say_what_they_take():
    with pytest.raises(ValueError, match="must be one of a, b"):
        fields.choice(["a", "b"])("<x>")
    with pytest.raises(ValueError, match="must be a whole number from 0 to 9"):
        fields.int_in(0, 9)("12")
    with pytest.raises(ValueError, match="must be a whole number, at least 1"):
        fields.int_in(1)("x")
