"""A setting's value: what the user configured, else the default its schema declares."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Mapping


def configured(config: Mapping[str, t.Any], schema: Mapping[str, t.Any], name: str) -> t.Any:
    """`config[name]`, or the schema's default for it (None without one).

    Defaults live in the tap's settings schema only; this reads them from there when the
    config given to the tap does not carry them.
    """
    value = config.get(name)
    if value is not None:
        return value
    return schema.get("properties", {}).get(name, {}).get("default")
