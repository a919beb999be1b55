"""NumberedIds: a batch's client order ids as numbers, equal to the strings they stand for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot_core.orderids import NumberedIds, split_numbered

PREFIXES = st.lists(st.sampled_from(["a-", "mr-bt1f-", "o", "", "x_", "é-", "9a"]),
                    min_size=1, max_size=4, unique=True)


@st.composite
def numbered(draw: st.DrawFn) -> NumberedIds:
    prefixes = draw(PREFIXES)
    n = draw(st.integers(0, 30))
    owner = draw(st.lists(st.integers(0, len(prefixes) - 1), min_size=n, max_size=n))
    number = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    return NumberedIds(prefixes, np.array(owner, dtype=np.int64),
                       np.array(number, dtype=np.int64))


@given(st.text(alphabet="ab-0179٣", max_size=8))
def test_split_numbered_says_back_exactly_the_id(client_id: str) -> None:
    split = split_numbered(client_id)
    digits = len(client_id) - len(client_id.rstrip("0123456789"))
    run = client_id[len(client_id) - digits:]
    if split is None:  # no trailing digits 0-9, or a number with a leading zero
        assert digits == 0 or (digits > 1 and run[0] == "0")
        return
    prefix, number = split
    assert prefix + str(number) == client_id
    assert not prefix[-1:] or prefix[-1] not in "0123456789"


@pytest.mark.parametrize(("client_id", "expected"), [
    ("mr-bt1-12", ("mr-bt1-", 12)), ("o0", ("o", 0)), ("7", ("", 7)), ("x-07", None),
    ("x-", None), ("", None), ("a٣", None), ("a٣5", ("a٣", 5))])
def test_split_numbered_examples(client_id: str, expected: tuple[str, int] | None) -> None:
    assert split_numbered(client_id) == expected


@given(numbered())
def test_numbered_ids_read_as_the_list_of_their_strings(ids: NumberedIds) -> None:
    strings = [ids.prefixes[o] + str(n) for o, n in zip(ids.owner, ids.number, strict=True)]
    assert len(ids) == len(strings)
    assert list(ids) == ids.tolist() == strings
    assert [ids[i] for i in range(len(ids))] == strings
    assert list(ids[1:-1]) == strings[1:-1]
    if ids.increasing():
        assert len(set(strings)) == len(strings)
    for probe in ["a-3", "o12", "5", "mr-bt1f-0", "x-07", "", "é-4", *strings[:3]]:
        assert (probe in ids) == (probe in strings), probe


@settings(max_examples=200)
@given(numbered(), numbered())
def test_overlaps_is_a_common_string(a: NumberedIds, b: NumberedIds) -> None:
    assert a.overlaps(b) == bool(set(a) & set(b))


@given(st.lists(st.sampled_from(["o1", "o2", "p0", "x-07", "", "dup", "o10", "7"]),
                max_size=8))
def test_of_parses_every_numbered_id_or_none(ids: list[str]) -> None:
    parsed = NumberedIds.of(ids)
    if any(split_numbered(i) is None for i in ids):
        assert parsed is None
    else:
        assert parsed is not None and list(parsed) == ids


@pytest.mark.parametrize(("prefixes", "owner", "number", "message"), [
    (["a-", "a-"], [0], [1], "two prefixes are the same"),
    (["a1"], [0], [1], "ends in a digit"),
    (["a-"], [1], [1], "out of range"),
    (["a-"], [0], [-1], "negative"),
    (["a-"], [0, 0], [1], "one length"),
])
def test_numbered_ids_refuse_what_would_not_say_their_ids_back(prefixes, owner, number,
                                                               message) -> None:
    with pytest.raises(ValueError, match=message):
        NumberedIds(prefixes, np.array(owner), np.array(number))
