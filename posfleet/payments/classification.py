"""Classify payment attempts into cause groups from data-file code tables.

A table (``tables/<name>.yml``, or any file of the same shape) maps one network's response
codes (ISO 8583 field 39) to cause groups, with the sources it was built from. A fleet picks
a table per acquirer and may override single codes, because 97, 98 and 99 mean different
things on different networks. The terminal's own error decides first (it is the same on
every network); a code no table knows is ``unclassified`` and counted per table and code,
never guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from posfleet.payments.config import PaymentsSettings
from posfleet.payments.groups import LOCAL_ERROR_CAUSES, CauseGroup
from posfleet.telemetry import TransactionEvent
from posfleet.telemetry.transaction import Outcome
from posfleet.validation import field_errors

BUILTIN_TABLES: Final = ("iso8583", "cup")
"""Tables shipped in ``posfleet/payments/tables/``."""

UNKNOWN_CODES_TRACKED: Final = 200
"""Distinct unknown codes counted by name; further ones are counted as ``other`` (a broken
host could send thousands, and each would become a metric series)."""
OTHER_CODE: Final = "other"


class TableError(ValueError):
    """A table file that cannot be used; the message names the file and the field."""


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    note: str = ""


class _Disagreement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    codes: list[str]
    note: str


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    group: CauseGroup
    meaning: str = Field(min_length=1)


class _TableFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    title: str
    sources: list[_Source] = Field(min_length=1)
    disagreements: list[_Disagreement] = Field(default_factory=list)
    codes: dict[str, _Entry] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One response code's group and what it means."""

    group: CauseGroup
    meaning: str


@dataclass(frozen=True, slots=True)
class CodeTable:
    """One network's response codes, with where they come from."""

    name: str
    title: str
    sources: tuple[str, ...]
    codes: Mapping[str, CodeEntry]

    def with_overrides(self, overrides: Mapping[str, CauseGroup], name: str) -> CodeTable:
        """This table with some codes filed under other groups (an acquirer's variant)."""
        if not overrides:
            return self
        codes = dict(self.codes)
        for code, group in overrides.items():
            key = code.upper()
            known = codes.get(key)
            meaning = known.meaning if known else "(acquirer override)"
            codes[key] = CodeEntry(group, meaning)
        return CodeTable(name, f"{self.title}, with overrides", self.sources, codes)


def parse_table(text: str, source: str) -> CodeTable:
    """A table from YAML text; :class:`TableError` names ``source`` and the bad field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TableError(f"{source}: not valid YAML: {exc}") from None
    try:
        model = _TableFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(str(error) for error in field_errors(exc))
        raise TableError(f"{source}: {problems}") from None
    codes: dict[str, CodeEntry] = {}
    for code, entry in model.codes.items():
        key = str(code).upper()
        if not (2 <= len(key) <= 3 and key.isalnum() and key.isascii()):
            raise TableError(f"{source}: codes.{code}: a response code is 2-3 letters or digits")
        if key in codes:
            raise TableError(f"{source}: codes.{code}: listed twice")
        codes[key] = CodeEntry(entry.group, entry.meaning)
    return CodeTable(model.name, model.title, tuple(s.url for s in model.sources), codes)


def builtin_table(name: str) -> CodeTable:
    """A table shipped with posfleet (:data:`BUILTIN_TABLES`)."""
    if name not in BUILTIN_TABLES:
        raise TableError(f"no built-in table '{name}' (built-in: {', '.join(BUILTIN_TABLES)})")
    text = resources.files("posfleet.payments").joinpath("tables", f"{name}.yml").read_text()
    return parse_table(text, f"built-in table {name}")


def load_table(reference: str) -> CodeTable:
    """A built-in table by name, or a table file by path (``.yml``/``.yaml`` or with ``/``)."""
    if reference in BUILTIN_TABLES:
        return builtin_table(reference)
    path = Path(reference).expanduser()
    if "/" not in reference and path.suffix not in (".yml", ".yaml"):
        raise TableError(
            f"no built-in table '{reference}' (built-in: {', '.join(BUILTIN_TABLES)}; "
            "a table file needs a path or a .yml name)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TableError(f"{reference}: {exc.strerror or exc}") from None
    return parse_table(text, reference)


class Classifier:
    """Files attempts under cause groups with the table of each merchant's acquirer.

    ``tables_by_merchant`` maps merchant ids to their (already overridden) table; others use
    ``default``. :attr:`unknown_codes` counts codes no table knew, by (table, code).
    """

    def __init__(
        self, default: CodeTable, tables_by_merchant: Mapping[str, CodeTable] | None = None
    ) -> None:
        self.default = default
        self._by_merchant = dict(tables_by_merchant or {})
        self.unknown_codes: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_settings(
        cls, settings: PaymentsSettings, merchant_acquirers: Iterable[tuple[str, str | None]]
    ) -> Classifier:
        """Build from the ``payments`` section and (merchant id, acquirer) pairs.

        Raises :class:`TableError` for a table that cannot be loaded, naming the setting.
        """
        default = _named(settings.default_table, "payments.default_table")
        variants: dict[str, CodeTable] = {}
        for acquirer, chosen in settings.acquirers.items():
            base = _named(chosen.table, f"payments.acquirers.{acquirer}.table")
            variants[acquirer] = base.with_overrides(chosen.overrides, f"{base.name}:{acquirer}")
        by_merchant = {
            merchant: variants[acquirer]
            for merchant, acquirer in merchant_acquirers
            if acquirer is not None and acquirer in variants
        }
        return cls(default, by_merchant)

    def table_for(self, merchant_id: str) -> CodeTable:
        return self._by_merchant.get(merchant_id, self.default)

    def classify(self, event: TransactionEvent) -> CauseGroup:
        """The group of one attempt: the terminal's own error first, then the host's code."""
        if event.local_error is not None:
            return LOCAL_ERROR_CAUSES.get(event.local_error, CauseGroup.UNCLASSIFIED)
        code = event.host_response_code
        if code is not None:
            table = self._by_merchant.get(event.merchant_id, self.default)
            key = code.upper()
            entry = table.codes.get(key)
            if entry is not None:
                return entry.group
            self._count_unknown(table.name, key)
            return CauseGroup.UNCLASSIFIED
        if event.outcome is Outcome.APPROVED:
            return CauseGroup.APPROVED
        if event.outcome is Outcome.TIMEOUT:
            return CauseGroup.NETWORK
        return CauseGroup.UNCLASSIFIED

    def _count_unknown(self, table: str, code: str) -> None:
        key = (table, code)
        if key not in self.unknown_codes and len(self.unknown_codes) >= UNKNOWN_CODES_TRACKED:
            key = (table, OTHER_CODE)
        self.unknown_codes[key] += 1


def _named(reference: str, setting: str) -> CodeTable:
    try:
        return load_table(reference)
    except TableError as exc:
        raise TableError(f"{setting}: {exc}") from None


_default: Classifier | None = None


def default_classifier() -> Classifier:
    """A classifier with the built-in ISO 8583 table for every merchant (shared)."""
    global _default
    if _default is None:
        _default = Classifier(builtin_table("iso8583"))
    return _default
