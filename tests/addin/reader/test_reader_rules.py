"""The value rules the reader applies to every input cell."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from addin.reader.filled import convert, describe
from addin.workbook.layout import Rule

RATE = Rule("percent", minimum=0.0, maximum=0.999999)
PRICE = Rule("number", minimum=0.0, exclusive_minimum=True, required=True)
SIDES = Rule("choice", choices=("long", "short"))


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_numbers_pass_exactly_when_inside_the_bounds(value: float) -> None:
    typed, wrong = convert(value, PRICE)
    if value > 0:
        assert typed == value and wrong is None
    else:
        assert typed is None and wrong == f"{value:g} is too small"


@given(st.floats(min_value=-2, max_value=2))
def test_percent_bounds_are_inclusive(value: float) -> None:
    typed, wrong = convert(value, RATE)
    assert (wrong is None) == (0.0 <= value <= 0.999999)
    assert typed == (value if wrong is None else None)


@given(st.text())
def test_text_in_a_number_cell_is_always_refused(value: str) -> None:
    typed, wrong = convert(value, PRICE)
    assert typed is None and wrong is not None


@given(st.sampled_from(["long", "short"]), st.sampled_from([str.upper, str.title, str.lower]),
       st.text(alphabet=" \t", max_size=3))
def test_choices_ignore_case_and_padding(side: str, case: object, pad: str) -> None:
    typed, wrong = convert(pad + case(side) + pad, SIDES)  # type: ignore[operator]
    assert (typed, wrong) == (side, None)


def test_descriptions_say_what_is_expected() -> None:
    assert describe(PRICE) == "a number > 0"
    assert describe(RATE) == "a percentage from 0% to 99.9999%"
    assert describe(SIDES) == "one of long, short"
    assert describe(Rule("integer", minimum=1)) == "a whole number >= 1"
    assert convert(math.inf, PRICE) == (None, "inf is not a finite number")
    assert convert(True, PRICE)[0] is None  # a checkbox is not a number
    assert convert("#N/A", PRICE) == (None, "the cell shows the error #N/A")
