"""Job configuration: embedded defaults, layered YAML, ``--set`` overrides, validation.

The dataclasses in ``config_schema`` are the schema, ``config_checks`` checks the
values; ``defaults.yaml`` holds every default value. Any error names the offending key, and it is raised before Spark starts.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import difflib
import re
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from forecasting.config_schema import (  # noqa: F401  (re-exported: the package imports them from here)
    SAMPLE_INPUT,
    CleaningConfig,
    ConfigError,
    JobConfig,
    ParamSpace,
)
from forecasting.config_checks import validate


# --------------------------------------------------------------------------- loading


def load_defaults() -> dict[str, Any]:
    text = resources.files("forecasting").joinpath("defaults.yaml").read_text()
    return yaml.safe_load(text)


def deep_merge(base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; a null removes a mapping entry,
    and an empty mapping empties a free-form one (``tuning.search_space: {}``: no
    tuning), while an empty section changes nothing."""
    merged = copy.deepcopy(base)
    entries = typing.get_origin(_schema_hint(list(path))) is dict  # of search_space, spark.conf, options
    for key, value in override.items():
        emptied = value == {} and typing.get_origin(_schema_hint([*path, key])) is dict
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not emptied:
            merged[key] = deep_merge(merged[key], value, (*path, key))
        elif value is None and (entries or isinstance(merged.get(key), dict)):
            merged.pop(key, None)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """Turn ``section.key=value`` into a nested dict; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    dotted, raw = text.split("=", 1)
    parts = _config_path(dotted.strip().split("."))
    if not all(parts):
        raise ConfigError(f"--set has an empty key in {dotted!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {dotted}: value {raw!r} is not valid YAML: {err}") from err
    if _read_as_nothing(raw, value) or re.fullmatch(r"[-+]?0[0-9_]+", raw.strip()):
        # YAML's syntax took it (| or > starts a block, # a comment) or YAML 1.1 read a
        # leading zero as octal (0123 is 83): what was typed, as text, which a key
        # expecting a number then reports
        value = raw.strip()
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def _read_as_nothing(raw: str, value: Any) -> bool:
    """Whether YAML read a value typed on the command line as empty or null, where
    neither was written."""
    written = raw.strip()
    if value == "":
        return bool(written) and written not in ("''", '""')
    return value is None and bool(written) and written not in ("null", "Null", "NULL", "~")


def _config_path(parts: list[str]) -> list[str]:
    """``parts`` of a dotted ``--set`` key, where the names inside a free-form
    mapping (``spark.conf``, ``input.options``) keep their dots:
    ``spark.conf.spark.executor.memory`` sets the entry ``spark.executor.memory``."""
    for i in range(1, len(parts)):
        hint = _schema_hint(parts[:i])
        if typing.get_origin(hint) is dict and not dataclasses.is_dataclass(typing.get_args(hint)[1]):
            return [*parts[:i], ".".join(parts[i:])]  # the rest is one entry's name
    return parts


def _schema_hint(parts: list[str]) -> Any:
    """The type the schema gives the config key ``parts``, or None where it has none."""
    hint: Any = JobConfig
    for part in parts:
        if dataclasses.is_dataclass(hint):
            hint = typing.get_type_hints(hint).get(part)
        elif typing.get_origin(hint) is dict:
            hint = typing.get_args(hint)[1]  # any entry: e.g. one parameter of tuning.search_space
        else:
            return None
    return hint


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> JobConfig:
    """Defaults, then the YAML file at ``path``, then each ``--set`` override."""
    raw = load_defaults()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            layer = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
        if not isinstance(layer, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections")
        # a section whose keys are all commented out reads as null: it changes nothing
        layer = {name: value for name, value in layer.items() if value is not None}
        raw = deep_merge(raw, layer)
    for text in overrides:
        raw = deep_merge(raw, parse_override(text))
    for section in ("input", "output"):  # a local path under the home folder, as a shell would read it
        value = raw.get(section, {}).get("path")
        if isinstance(value, str) and value.startswith("~"):
            raw[section]["path"] = os.path.expanduser(value)
    config = _build(JobConfig, raw, "")
    validate(config)
    return config


# --------------------------------------------------------------------------- typing


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = _join(prefix, unknown[0])
        close = difflib.get_close_matches(unknown[0], fields, n=1)
        hint = f" (did you mean '{_join(prefix, close[0])}'?)" if close else ""
        raise ConfigError(f"unknown config key '{key}'{hint}")
    values = {}
    for name, field in fields.items():
        key = _join(prefix, name)
        if name not in data:
            if field.default is dataclasses.MISSING:
                hint = " (null removes it; {} empties it)" if typing.get_origin(hints[name]) is dict else ""
                raise ConfigError(f"missing config key '{key}'{hint}")
            continue
        values[name] = _coerce(hints[name], data[name], key)
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key '{key}' expects {_describe(hint)}, got {value!r}{_flag_hint(args, value)}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"config key '{key}' expects a list, got {value!r}")
        return [_coerce(args[0], item, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' expects a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, _join(key, str(k))) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # bool is a subclass of int; "yes" must not pass as a number and 1 not as a flag
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"config key '{key}' expects {_describe(hint)}, got {value!r}{_flag_hint((hint,), value)}")


def _flag_hint(expected: tuple, value: Any) -> str:
    """What YAML 1.1 made of a value: NO (Norway), yes, off, ... flags, 2024 a number
    where text was meant; 1e-4 text where a number was (it wants 1.0e-4)."""
    if isinstance(value, bool) and str in expected:
        return " (YAML reads yes, no, on, off, y and n as true or false: quote the value, e.g. 'NO')"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and str in expected:
        return " (YAML read a number: quote the value as you wrote it, e.g. '2024')"
    if isinstance(value, str) and float in expected and re.fullmatch(r"[-+]?[0-9]+[eE][-+]?[0-9]+", value.strip()):
        mantissa, exponent = re.split("[eE]", value.strip())
        return f" (YAML reads a number in e-notation only with a decimal point: write {mantissa}.0e{exponent})"
    return ""


def _describe(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args:
        return " or ".join(getattr(a, "__name__", str(a)) for a in args)
    return getattr(hint, "__name__", str(hint))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
