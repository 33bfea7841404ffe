"""TOML configuration files: read one, and check every key's name and type.

One reader and one checker serve the ``invert`` command's configuration and the benchmark's,
so both spell values the same way ("full" for the full band of a frequency schedule) and name
the file, the table and the key in every error.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["FULL_BAND", "KINDS", "check_table", "read_toml"]

FULL_BAND = "full"
"""How a TOML frequency schedule names "no low-pass" (TOML has no null)."""


def _number(value: Any) -> bool:
    # bool is an int in Python; TOML's true/false must not pass as a number.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _schedule(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(stage, list) and len(stage) == 2
        and ((_number(stage[0]) and stage[0] > 0) or stage[0] == FULL_BAND)
        and isinstance(stage[1], int) and not isinstance(stage[1], bool)
        for stage in value
    )


KINDS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "number": (_number, "a number"),
    "table": (lambda v: isinstance(v, dict), "a table"),
    "str_list": (lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
                 "a list of strings"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "int_list": (lambda v: isinstance(v, list) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in v), "a list of integers"),
    "int_pair": (lambda v: isinstance(v, list) and len(v) == 2 and all(
        isinstance(i, int) and not isinstance(i, bool) for i in v), "a pair of integers [a, b]"),
    "number_pair": (lambda v: isinstance(v, list) and len(v) == 2 and all(map(_number, v)),
                    "a pair of numbers [a, b]"),
    "schedule": (_schedule, f'a list of [cutoff_hz > 0 or "{FULL_BAND}", iterations] pairs'),
}
"""Kind name -> (check, what the check expects, for messages)."""


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed TOML file at ``path``; ``ValueError``/``OSError`` naming the file otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except IsADirectoryError as err:
        raise IsADirectoryError(f"{path} is a folder; give a TOML file") from err
    except OSError as err:
        raise type(err)(f"cannot read {path}: {err.strerror or err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from err


def check_table(table: Mapping[str, Any], schema: Mapping[str, str], where: str, *,
                required: tuple[str, ...] = ()) -> None:
    """Check that ``table`` has only the keys of ``schema``, each of its kind (:data:`KINDS`).

    ``where`` names the file and table in messages, e.g. ``"run.toml [inversion]"``; keys in
    ``required`` must be present.
    """
    unknown = sorted(set(table) - set(schema))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(schema)}")
    for key in required:
        if key not in table:
            raise ValueError(f"{where}: the key {key!r} is required")
    for key, value in table.items():
        check, expected = KINDS[schema[key]]
        if not check(value):
            raise ValueError(f"{where}: {key} must be {expected}, got {value!r}")
