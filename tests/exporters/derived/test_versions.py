"""Vendor version strings compare part by part, numbers as numbers."""

from __future__ import annotations

import pytest

from posfleet.exporters.derived.versions import compare_versions, is_below


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("5.4.9", "5.4.10"),
        ("5.4", "5.4.1"),
        ("5.4.0-rc2", "5.4.0"),
        ("5.4.0-rc2", "5.4.0-rc10"),
        ("V2.1.3_b7", "v2.1.3_b12"),
        ("9", "10"),
    ],
)
def test_older_versions_are_below_newer_ones(older: str, newer: str) -> None:
    assert compare_versions(older, newer) == -1
    assert compare_versions(newer, older) == 1
    assert is_below(older, newer)
    assert not is_below(newer, older)


def test_the_same_version_in_other_spelling_is_equal() -> None:
    assert compare_versions("5.4.0", "5-4-0") == 0
    assert not is_below("V5.4", "v5.4")
