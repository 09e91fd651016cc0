"""How a fault knob is declared: once, as a `SandboxFaults` field whose metadata the CLI reads.

`knob(default, help=...)` is a dataclass field that also says how the command line sets it
(`--name-with-dashes`, a parser for its text, a metavar, choices, its group), so
`python -m nexudus_sandbox` is generated from `SandboxFaults` and cannot drift
from it (sandbox/__main__.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, dataclass, field
from datetime import datetime
from typing import Any

FAULTS_GROUP = "faults"
LIVING_GROUP = "living account"


@dataclass(frozen=True)
class CliSpec:
    """How the command line sets one knob."""

    help: str
    parse: Callable[[str], Any] | None = None  # None: the default's own type
    metavar: str | None = None
    choices: Sequence[Any] | None = None
    flag: str | None = None  # None: --<field name with dashes>
    group: str = FAULTS_GROUP
    repeat: bool = False  # a repeatable NAME=VALUE flag that builds a dict


def knob(
    default: Any = MISSING,
    *,
    help: str,
    factory: Callable[[], Any] | None = None,
    **cli: Any,
) -> Any:
    """A SandboxFaults field, with how the command line sets it."""
    metadata = {"cli": CliSpec(help=help, **cli)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def cli_spec(knob_field: Field[Any]) -> CliSpec | None:
    """The field's CliSpec, or None for a field the command line does not set."""
    spec = knob_field.metadata.get("cli")
    return spec if isinstance(spec, CliSpec) else None


def default_of(knob_field: Field[Any]) -> Any:
    """The field's default value (built fresh for a default_factory)."""
    if knob_field.default_factory is not MISSING:
        return knob_field.default_factory()
    return knob_field.default


# -- parsers for knob values given as text -------------------------------------------------


def probability(text: str) -> float:
    """``0.15`` -> 0.15, between 0 and 1."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a probability between 0 and 1")
    return value


def optional_int(text: str) -> int:
    """A whole number for a knob whose default is None (off)."""
    return int(text)


def number_set(text: str) -> frozenset[int]:
    """``3,7`` -> {3, 7} (1-based request numbers)."""
    try:
        numbers = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like 3,7, got {text!r}") from exc
    if any(number < 1 for number in numbers):
        raise argparse.ArgumentTypeError("request numbers start at 1")
    return numbers


def status_script(text: str) -> dict[int, int]:
    """``5:500,9:409`` -> {5: 500, 9: 409}."""
    script: dict[int, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        number, _, status = part.partition(":")
        try:
            script[int(number)] = int(status)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"expected REQUEST:STATUS pairs like 5:500,9:409, got {text!r}"
            ) from exc
    return script


def instant(text: str) -> datetime:
    """``2026-10-25T01:00:00Z`` -> an aware datetime; an offset is required."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        msg = f"expected a date-time like 2026-10-25T01:00Z: {exc}"
        raise argparse.ArgumentTypeError(msg) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs Z or an offset (true UTC is meant)")
    return value


def extra_field(text: str) -> tuple[str, Any]:
    """``Priority={"Level": 2}`` -> ("Priority", {"Level": 2}); a value that is not JSON is text."""
    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), json.loads(value)
    except ValueError:
        return name.strip(), value
