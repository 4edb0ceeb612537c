"""The size of a progressive column: the card's memory estimate and the learner both read
it."""

from __future__ import annotations

from typing import List, Sequence


def column_units(units: Sequence[int], column_scale: float) -> List[int]:
    """The hidden sizes of one column: column_scale x each hidden size (units, or
    filters) of the architecture, rounded, at least 1."""
    return [max(1, int(round(column_scale * h))) for h in units]
