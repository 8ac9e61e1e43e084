"""Turn pydantic validation errors into one line per problem, each naming its field.

Used wherever user input is validated (config files, telemetry messages, HTTP bodies), so
every rejection reads the same way: ``stores[3].terminals[0].driver: unknown driver ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

Location = Sequence[int | str]


def format_location(location: Location) -> str:
    """``("stores", 3, "terminals", 0, "driver")`` -> ``stores[3].terminals[0].driver``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem in one field of some input."""

    location: tuple[int | str, ...]
    message: str

    @property
    def path(self) -> str:
        return format_location(self.location)

    def __str__(self) -> str:
        # Whole-message problems (such as card data) name their own field in the message.
        return f"{self.path}: {self.message}" if self.location else self.message


def _message(error: dict[str, object]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (misspelt, or not valid here)"
    message = str(error["msg"])
    # pydantic prefixes messages of plain ValueErrors; the field path already says enough.
    return message.removeprefix("Value error, ")


def field_errors(exc: ValidationError, prefix: Location = ()) -> list[FieldError]:
    """The errors of ``exc`` with their locations, never echoing the rejected input.

    Input values are left out on purpose: a rejected telemetry message may carry card data.
    Pydantic adds tagged-union and function-wrapper names to locations; they are dropped.
    """
    errors = []
    for error in exc.errors(include_input=False, include_url=False):
        location = tuple(
            part
            for part in error["loc"]
            if not (isinstance(part, str) and part.startswith(("function-", "tagged-union")))
        )
        errors.append(FieldError((*prefix, *location), _message(dict(error))))
    return errors
