"""What a configuration error says beyond the key: the key meant (a close name, the same
name in another section, a reader option's place), where a secret or a dotted key belongs,
and what YAML 1.1 made of a value (NO read as false, 2024 as a number)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import typing
from typing import Any

from forecasting.config_schema import JobConfig
from forecasting.redaction import SECRET_NAME


SECTION_KEYS_LISTED = 20  # a section's keys named after a key like none of them, up to this many


def join_key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def unknown_key_hint(name: str, fields: list[str], hints: dict, prefix: str) -> str:
    """The hint after "unknown config key '<prefix>.<name>'": where it belongs, or the key
    of ``fields`` (its section's) or of the whole config it most likely meant; "" where none."""
    close = difflib.get_close_matches(name, fields, n=1)
    hint = (_misplaced(name, hints, prefix) or (f" (did you mean '{join_key(prefix, close[0])}'?)" if close
                                                else _elsewhere(name, prefix)))
    if hint or not prefix or len(fields) > SECTION_KEYS_LISTED:
        return hint
    return f" ({prefix} has {', '.join(sorted(fields))})"  # like none: what the section takes


def _misplaced(name: str, hints: dict, prefix: str) -> str:
    """The hint for a secret written into the config (its place is the environment), or for
    a dotted key in a YAML file (forecast.horizon: 7 is one key of that name, not nested)."""
    if SECRET_NAME.search(name):
        if prefix == "tracking":
            return (": a tracking server's secrets are read from the environment: MLFLOW_TRACKING_TOKEN, or "
                    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (README, Using a tracking server)")
        return (": a secret is no key of the config's own: a reader's goes under input.options (a JDBC password), "
                "a storage's in its environment variables or spark.conf; the log and MLflow leave them out")
    section, _, rest = name.partition(".")
    nested = hints.get(section)
    if rest and (dataclasses.is_dataclass(nested) or typing.get_origin(nested) is dict):
        return (f" (in a YAML file a dotted key is one name: nest it, '{section}:' then '{rest.split('.')[0]}:' "
                "under it; dots are --set's way of writing the nesting)")
    return ""


def _elsewhere(name: str, prefix: str) -> str:
    """The hint for a key no field of its section is like: the key of that name in another
    section (horizon for forecast.horizon), or, in input, a reader option's place."""
    keys = _dotted_keys(JobConfig)
    same = [key for key in keys if key.rsplit(".", 1)[-1] == name]
    if same:
        return f" (did you mean '{same[0]}'?)"
    if prefix == "input":
        return f" (a Spark reader option goes under input.options: 'input.options.{name}')"
    leaves: dict[str, str] = {}
    for key in keys:  # a name in two sections: the first's (forecast.horizon, not cross_validation.horizon)
        leaves.setdefault(key.rsplit(".", 1)[-1], key)
    close = difflib.get_close_matches(name, leaves, n=1, cutoff=0.8)
    return f" (did you mean '{leaves[close[0]]}'?)" if close else ""


def _dotted_keys(cls: type, prefix: str = "") -> list[str]:
    """Every key of a config dataclass, its sections' keys as section.key."""
    keys = []
    for name, hint in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            keys += _dotted_keys(hint, join_key(prefix, name))
        else:
            keys.append(join_key(prefix, name))
    return keys


# The settings that count periods of forecast.frequency, not days or times
PERIOD_COUNTS = ("horizon", "min_history", "step", "stale_after", "unsettled_periods")


def value_hint(expected: tuple, value: Any, key: str = "") -> str:
    """What YAML 1.1 made of a value: NO (Norway), yes, off, ... flags, 2024 a number
    where text was meant; a date where text was; a number given with a unit (``key``'s)."""
    if isinstance(value, bool) and str in expected:
        none = "write null for none, or " if type(None) in expected else ""
        return f" (YAML reads yes, no, on and off as true or false: {none}quote the value, e.g. 'NO')"
    if isinstance(value, (dt.date, dt.datetime)) and str in expected:
        return " (YAML read a date: quote the value as you wrote it, e.g. '2024-01-01')"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and str in expected:
        return " (YAML read a number: quote the value as you wrote it, e.g. '2024')"
    if value is None and str in expected:
        if key.endswith((".path", ".uri")):
            return " (YAML reads ~ and an empty value as null: quote a path, e.g. '~/out')"
        return " (YAML reads null, ~ and an empty value as null: this key needs a value)"
    if isinstance(value, dict) and str in expected:
        return " (YAML reads 'name: value' as a mapping: quote the whole value, e.g. 'sales: east')"
    if value == "" and (int in expected or float in expected):
        return " (an empty value: " + ("write null for none)" if type(None) in expected else "give a number)")
    if isinstance(value, str) and (int in expected or float in expected) and str not in expected:
        try:
            float(value)
        except ValueError:
            if int in expected and re.fullmatch(r"\s*[0-9]+\s*[A-Za-z]+\s*", value):  # 45d, 2 weeks, 30s
                counted = key.rsplit(".", 1)[-1] in PERIOD_COUNTS
                return (" (a number without a unit" + (": it counts periods of forecast.frequency" if counted else "")
                        + ")")
            return ""
        if re.fullmatch(r"[+-]?0\d+", value.strip()):  # not octal, as YAML 1.1 would have it: left as typed
            return " (a whole number with a leading zero is read as text: write it without the zero)"
        return " (a number in quotes is text: write it without the quotes)"
    return ""
