"""Read a configuration file and report every problem with its path and line.

``load_config`` returns the validated configuration or raises :class:`ConfigError`
holding one :class:`~posfleet.validation.FieldError` per problem: YAML syntax, duplicate
keys, wrong types, unknown keys, unknown drivers, bad driver connection settings and
references to merchants that do not exist. All problems are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from posfleet.collector.driver import installed_drivers
from posfleet.config.models import PosfleetConfig
from posfleet.validation import FieldError, field_errors


@dataclass
class ConfigError(Exception):
    """The configuration file is unusable; ``errors`` says why, one line per problem."""

    source: str
    errors: list[FieldError]
    lines: dict[tuple[int | str, ...], int] = field(default_factory=dict)

    def messages(self) -> list[str]:
        out = []
        for error in self.errors:
            line = _line_of(self.lines, error.location)
            where = f"{self.source}:{line}" if line else self.source
            out.append(f"{where}: {error}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.messages())


def _line_of(lines: dict[tuple[int | str, ...], int], location: tuple[int | str, ...]) -> int:
    """The line of the deepest part of ``location`` that the file contains (0: unknown)."""
    for end in range(len(location), -1, -1):
        if location[:end] in lines:
            return lines[location[:end]]
    return 0


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that remembers each node's line and refuses duplicate keys."""


def _node_lines(
    node: yaml.Node, location: tuple[int | str, ...]
) -> Iterator[tuple[tuple[int | str, ...], int]]:
    yield location, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                yield from _node_lines(value_node, (*location, key_node.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _node_lines(item, (*location, index))


def _duplicate_keys(node: yaml.Node, location: tuple[int | str, ...]) -> Iterator[FieldError]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                yield FieldError((*location, key), "key appears twice; the second would win")
            seen.add(key)
            yield from _duplicate_keys(value_node, (*location, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*location, index))


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[tuple[int | str, ...], int]]:
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(where, [FieldError((), f"not valid YAML: {problem}")]) from None
    if node is None:
        return {}, {}
    lines = dict(_node_lines(node, ()))
    duplicates = list(_duplicate_keys(node, ()))
    if duplicates:
        raise ConfigError(source, duplicates, lines)
    return yaml.safe_load(text), lines


def _check_drivers(data: dict[str, Any]) -> Iterator[FieldError]:
    """Driver names and their connection settings, which the driver's own model checks."""
    drivers = installed_drivers()
    stores = data.get("stores")
    if not isinstance(stores, list):
        return
    for store_index, store in enumerate(stores):
        terminals = store.get("terminals") if isinstance(store, dict) else None
        if not isinstance(terminals, list):
            continue
        for terminal_index, terminal in enumerate(terminals):
            if not isinstance(terminal, dict):
                continue
            base: tuple[int | str, ...] = ("stores", store_index, "terminals", terminal_index)
            sources = [(base, terminal)]
            extra = terminal.get("extra_sources")
            if isinstance(extra, list):
                sources += [
                    ((*base, "extra_sources", index), source)
                    for index, source in enumerate(extra)
                    if isinstance(source, dict)
                ]
            for location, source in sources:
                yield from _check_source(location, source, drivers)


def _check_source(
    location: tuple[int | str, ...], source: dict[str, Any], drivers: dict[str, Any]
) -> Iterator[FieldError]:
    name = source.get("driver")
    if not isinstance(name, str):
        return  # the structural pass reports a missing or mistyped driver
    plugin = drivers.get(name)
    if plugin is None:
        known = ", ".join(sorted(drivers))
        yield FieldError((*location, "driver"), f"unknown driver '{name}' (known: {known})")
        return
    connection = source.get("connection", {})
    if not isinstance(connection, dict):
        return
    settings_model: type[BaseModel] = plugin.settings_model
    try:
        settings_model.model_validate(connection)
    except ValidationError as exc:
        yield from field_errors(exc, prefix=(*location, "connection"))


def _ids(items: Any, key: str = "id") -> Iterator[tuple[int, str]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get(key), str):
                yield index, item[key]


def _check_references(data: dict[str, Any]) -> Iterator[FieldError]:
    """Unique ids and known merchants, checked on the raw data so that they are reported
    together with type errors elsewhere in the file."""
    merchant_ids: set[str] = set()
    for index, merchant_id in _ids(data.get("merchants")):
        if merchant_id in merchant_ids:
            yield FieldError(("merchants", index, "id"), f"merchant id '{merchant_id}' repeats")
        merchant_ids.add(merchant_id)
    stores = data.get("stores")
    for store_index, merchant_id in _ids(stores, "merchant"):
        if merchant_id not in merchant_ids:
            known = ", ".join(sorted(merchant_ids)) or "none defined"
            yield FieldError(
                ("stores", store_index, "merchant"),
                f"unknown merchant '{merchant_id}' (known: {known})",
            )
    store_ids: set[str] = set()
    for store_index, store_id in _ids(stores):
        if store_id in store_ids:
            yield FieldError(("stores", store_index, "id"), f"store id '{store_id}' repeats")
        store_ids.add(store_id)
    terminal_ids: set[str] = set()
    for store_index, store in enumerate(stores if isinstance(stores, list) else []):
        terminals = store.get("terminals") if isinstance(store, dict) else None
        for terminal_index, terminal_id in _ids(terminals):
            if terminal_id in terminal_ids:
                yield FieldError(
                    ("stores", store_index, "terminals", terminal_index, "id"),
                    f"terminal id '{terminal_id}' is used twice in the fleet",
                )
            terminal_ids.add(terminal_id)


def parse_config(text: str, source: str = "<config>") -> PosfleetConfig:
    """Validate configuration text; raise :class:`ConfigError` with every problem found."""
    data, lines = _parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(source, [FieldError((), "the file must be a mapping of sections")])
    errors = [*_check_drivers(data), *_check_references(data)]
    config = None
    try:
        config = PosfleetConfig(**data)
    except ValidationError as exc:
        errors = field_errors(exc) + errors
    if errors or config is None:
        errors.sort(key=lambda error: _line_of(lines, error.location))
        raise ConfigError(source, errors, lines)
    return config


def load_config(path: Path | str) -> PosfleetConfig:
    """Read and validate a configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [FieldError((), f"cannot read the file: {exc}")]) from None
    return parse_config(text, str(path))
