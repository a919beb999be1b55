"""Numbered client order ids: a batch's ids kept as (prefix, number) pairs, made into strings
only when read.

A strategy's client order ids are its context's prefix (``<strategy>-<run id>-``) followed by a
counter (:class:`bot_core.pipeline.StrategyContext`). A backtest's compiled replay judges every
order of a run at once; making tens of thousands of id strings, then hashing them twice in
``duplicate_order``, was a tenth of a warm million-bar run. :class:`NumberedIds` is the
``client_order_id`` column of such a batch (:class:`bot_core.risk.batch.OrderBatch`): a
``Sequence[str]`` to any check that reads it, and pairs of integers to one that knows it.

An id is *numbered* when it is a prefix that does not end in a digit 0-9, then a decimal
number without a leading zero (:func:`split_numbered`). Such an id tells its prefix and number
back, so two numbered ids are equal exactly when their prefixes and numbers are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import numpy as np

__all__ = ["NumberedIds", "split_numbered"]

_NUMBERED = re.compile(r"(.*?)(0|[1-9][0-9]*)\Z", re.DOTALL)
_DIGITS = frozenset("0123456789")


def _ends_in_digit(prefix: str) -> bool:
    return bool(prefix) and prefix[-1] in _DIGITS


def split_numbered(client_id: str) -> tuple[str, int] | None:
    """``(prefix, number)`` of a numbered id (see the module docstring), else None."""
    found = _NUMBERED.match(client_id)
    if found is None:
        return None
    prefix = found.group(1)
    if _ends_in_digit(prefix):  # a leading zero ("x-07"): the number would not say it back
        return None
    return prefix, int(found.group(2))


class NumberedIds(Sequence[str]):
    """Client order ids ``prefixes[owner[i]] + str(number[i])``.

    :param prefixes: distinct prefixes, none ending in a decimal digit.
    :param owner: int64, the prefix of each id (an index into ``prefixes``).
    :param number: int64 >= 0, the number of each id.
    """

    __slots__ = ("_by_prefix", "number", "owner", "prefixes")

    def __init__(self, prefixes: Sequence[str], owner: np.ndarray, number: np.ndarray) -> None:
        self.prefixes = tuple(prefixes)
        self.owner = np.ascontiguousarray(owner, dtype=np.int64)
        self.number = np.ascontiguousarray(number, dtype=np.int64)
        if len(set(self.prefixes)) != len(self.prefixes):
            raise ValueError("NumberedIds: two prefixes are the same")
        bad = [p for p in self.prefixes if _ends_in_digit(p)]
        if bad:
            raise ValueError(f"NumberedIds: prefix {bad[0]!r} ends in a digit")
        if self.owner.shape != self.number.shape or self.owner.ndim != 1:
            raise ValueError("NumberedIds: owner and number must be 1-d and of one length")
        if len(self.owner) and (self.owner.min() < 0 or self.owner.max() >= len(self.prefixes)
                                or self.number.min() < 0):
            raise ValueError("NumberedIds: an owner out of range or a negative number")
        self._by_prefix: dict[str, np.ndarray] | None = None

    @classmethod
    def of(cls, ids: Iterable[str]) -> NumberedIds | None:
        """``ids`` as numbered ids, or None when one of them is not numbered."""
        prefixes: dict[str, int] = {}
        owner, number = [], []
        for client_id in ids:
            split = split_numbered(client_id)
            if split is None:
                return None
            owner.append(prefixes.setdefault(split[0], len(prefixes)))
            number.append(split[1])
        return cls(list(prefixes), np.array(owner, dtype=np.int64),
                   np.array(number, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.owner.shape[0])

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> NumberedIds: ...

    def __getitem__(self, index: int | slice) -> str | NumberedIds:
        if isinstance(index, slice):
            return NumberedIds(self.prefixes, self.owner[index], self.number[index])
        return self.prefixes[int(self.owner[index])] + str(int(self.number[index]))

    def __iter__(self) -> Iterator[str]:
        prefixes = self.prefixes
        for owner, number in zip(self.owner.tolist(), self.number.tolist(), strict=True):
            yield prefixes[owner] + str(number)

    def tolist(self) -> list[str]:
        """Every id, as strings."""
        prefixes = self.prefixes
        return [prefixes[owner] + str(number)
                for owner, number in zip(self.owner.tolist(), self.number.tolist(),
                                         strict=True)]

    def increasing(self) -> bool:
        """True when the numbers of each prefix strictly increase along the sequence: the ids
        are then distinct (without making one of them)."""
        if len(self.prefixes) <= 1:
            return bool((self.number[1:] > self.number[:-1]).all())
        order = np.argsort(self.owner, kind="stable")
        owner, number = self.owner[order], self.number[order]
        same = owner[1:] == owner[:-1]
        return bool((number[1:][same] > number[:-1][same]).all())

    def __contains__(self, client_id: object) -> bool:
        if not isinstance(client_id, str):
            return False
        split = split_numbered(client_id)
        if split is None:
            return False
        numbers = self._numbers_by_prefix().get(split[0])
        if numbers is None:
            return False
        at = int(np.searchsorted(numbers, split[1]))
        return at < len(numbers) and int(numbers[at]) == split[1]

    def overlaps(self, other: NumberedIds) -> bool:
        """True when an id is in both (compared as numbers)."""
        mine = self._numbers_by_prefix()
        for prefix, numbers in other._numbers_by_prefix().items():
            found = mine.get(prefix)
            if found is not None and np.isin(numbers, found, assume_unique=False).any():
                return True
        return False

    def _numbers_by_prefix(self) -> dict[str, np.ndarray]:
        """Prefix -> its numbers, sorted (built once)."""
        if self._by_prefix is None:
            self._by_prefix = {
                prefix: np.sort(self.number[self.owner == o])
                for o, prefix in enumerate(self.prefixes)}
        return self._by_prefix

    def __repr__(self) -> str:
        return f"NumberedIds({len(self)} ids, {len(self.prefixes)} prefixes)"
