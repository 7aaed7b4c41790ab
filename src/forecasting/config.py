"""Job configuration: embedded defaults, layered YAML, ``--set`` overrides, validation.

The dataclasses in ``config_schema`` are the schema, ``config_checks`` checks the
values (``config_reader_options`` input.options, ``config_frequency`` forecast.frequency,
``config_stores`` those that look at this machine: the tracking store, the output
folder), ``config_yaml`` reads the YAML; ``defaults.yaml`` holds every default value. Any error names the offending key, and it is raised before Spark starts.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import os
import logging
import re
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from forecasting.config_schema import (  # noqa: F401  (re-exported: the package imports them from here)
    MIN_TRAIN_HORIZONS,
    SAMPLE_INPUT,
    CleaningConfig,
    ConfigError,
    JobConfig,
    ParamSpace,
    cv_horizon,
    cv_step,
    min_history,
)
from forecasting.config_checks import validate
from forecasting.config_hints import join_key as _join
from forecasting.config_hints import unknown_key_hint, value_hint
from forecasting.config_yaml import (  # noqa: F401  (read_yaml, setting_text re-exported: read from here)
    read_yaml,
    setting_text,
    spark_number_text,
    yaml_problem,
)
from forecasting.redaction import SECRET_NAME, redact_secrets, redact_url_password

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- loading


def load_defaults() -> dict[str, Any]:
    text = resources.files("forecasting").joinpath("defaults.yaml").read_text(encoding="utf-8")
    return read_yaml(text)


def deep_merge(base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; a null removes a mapping entry,
    and an empty mapping empties a free-form one (``tuning.search_space: {}``: no
    tuning), while an empty or null section changes nothing."""
    merged = copy.deepcopy(base)
    entries = typing.get_origin(_schema_hint(list(path))) is dict  # of search_space, spark.conf, options
    for key, value in override.items():
        emptied = value == {} and typing.get_origin(_schema_hint([*path, key])) is dict
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not emptied:
            merged[key] = deep_merge(merged[key], value, (*path, key))
        elif value is None and not entries and dataclasses.is_dataclass(_schema_hint([*path, key])):
            continue  # a section whose keys are all commented out, or --set forecast=null: no change
        elif value is None and (entries or isinstance(merged.get(key), dict)):
            merged.pop(key, None)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """Turn ``section.key=value`` into a nested dict; the value is read as YAML, but
    for a text key, which takes the text as typed."""
    if "=" not in text:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    dotted, raw = text.split("=", 1)
    parts = _config_path(dotted.strip().split("."))
    if not all(parts):
        raise ConfigError(f"--set has an empty key in {dotted!r}")
    # an entry of input.options or spark.conf is text for Spark: what YAML cannot read,
    # or reads as a list or mapping (-, ?, ",", *), is the text typed
    entry = len(parts) > 1 and _schema_hint(parts) is Any and typing.get_origin(_schema_hint(parts[:-1])) is dict
    whole = typing.get_origin(_schema_hint(parts)) is dict and _schema_hint([*parts, "entry"]) is Any
    try:
        value = read_yaml(raw, entries=whole) if raw.strip() else ""
    except yaml.YAMLError as err:
        if not entry and not _is_text(_schema_hint(parts)):  # a text key takes it as typed (",")
            shown = "" if SECRET_NAME.search(dotted) else f" {raw!r}"
            raise ConfigError(f"--set {dotted}: value{shown} is not valid YAML: {yaml_problem(err)}") from err
        value = raw.strip()
    # YAML's syntax took it (| or > starts a block, # a comment); an entry's NULL or ~ is a
    # CSV null marker, only null itself removes the entry
    entry_text = entry and (isinstance(value, (list, dict)) or (value is None and raw.strip() != "null"))
    if not _read_as_nothing(raw, value) and _comment_dropped(raw, value):  # "Sales #2" read as Sales: said
        logger.warning("--set %s: the text from ' #' on is a YAML comment, left out; quote the value to keep a '#' in "
                       "it (--set \"%s='... #...'\")", dotted, dotted)
    if _read_as_nothing(raw, value) or entry_text:
        value = raw.strip()
    elif entry and isinstance(value, float):  # 99999.0: a CSV's null marker
        value = spark_number_text(yaml.load(raw, Loader=yaml.BaseLoader), value)
    elif entry and isinstance(value, int) and not isinstance(value, bool) and str(value) != raw.strip().lstrip("+"):
        value = yaml.load(raw, Loader=yaml.BaseLoader)  # 0x10, 1_000 as typed: a null marker is no 16 or 1000
    elif _typed_otherwise(parts, value):
        value = yaml.load(raw, Loader=yaml.BaseLoader)  # the text as typed, without quotes or a comment
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def _is_text(hint: Any) -> bool:
    """Whether the schema types a key as text, or as text or null."""
    return hint is str or hint == (str | None)


def _typed_otherwise(parts: list[str], value: Any) -> bool:
    """Whether YAML read text typed for a text key as something else, which the key
    would refuse: a number, a date (2024, 1_ to YAML 1.1, 2024-01-01), also in a list
    of text; a flag (on, NO) where the key cannot be null, and in an entry of
    input.options (nullValue=NO; its numbers reach Spark as config.setting_text writes
    them). Where a key can be null, a flag is more likely meant as none: refused, with
    the hint to write null."""
    hint = _schema_hint(parts)
    scalar = (int, float, dt.date)  # a bool is an int too: told apart below
    if len(parts) == 3 and parts[:2] == ["input", "options"]:
        return isinstance(value, bool)
    if hint is str:
        return isinstance(value, (*scalar, bool))
    if _is_text(hint):  # text or null
        return isinstance(value, scalar) and not isinstance(value, bool)
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return isinstance(value, list) and any(isinstance(item, (*scalar, bool)) for item in value)  # not null
    return False


def _comment_dropped(raw: str, value: Any) -> bool:
    """Whether YAML read a ' #' typed on the command line as a comment and dropped what
    followed it (tracking.experiment=Sales #2 is Sales), as in a file; a '#' meant as
    text is easily typed on a command line."""
    return re.search(r"(?:^|\s)#", raw) is not None and "#" not in repr(value)


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


def resolved(config: JobConfig) -> dict[str, Any]:
    """The config as a mapping that loads back, over the defaults, to the same config (a
    run's config/resolved.yaml, the config command's answer): a default search-space
    parameter the config removed is there as null, or the defaults would bring it back."""
    mapping = config.to_dict()
    space = mapping["tuning"]["search_space"]
    if space:  # {} alone empties it, and says so plainly
        space.update(dict.fromkeys(sorted(set(load_defaults()["tuning"]["search_space"]) - set(space))))
    return mapping


def resolved_yaml(config: JobConfig, recorded: dict[str, Any] | None = None) -> str:
    """``recorded`` (by default ``resolved(config)``, secrets redacted) as YAML, and below it
    as comments the values a run works out where the config leaves them null: a past run's
    file then says what its cross-validation was, whatever later versions of these rules
    (comments load back as nothing, so the file still loads to the same config)."""
    if recorded is None:
        recorded = redact_secrets(resolved(config))
    text = yaml.safe_dump(recorded, sort_keys=False, allow_unicode=True)
    cv, horizon, step = config.cross_validation, cv_horizon(config), cv_step(config)
    worked = [(cv.horizon, "cross_validation.horizon", horizon, "forecast.horizon"),
              (cv.step, "cross_validation.step", step, "the cross-validation horizon"),
              (config.forecast.min_history, "forecast.min_history", min_history(config),
               f"{cv.folds} folds {step} periods apart, each scoring {horizon} periods after "
               f"{MIN_TRAIN_HORIZONS * horizon} to train on")]
    lines = [f"#   {key}: {value}  ({why})" for given, key, value, why in worked if given is None]
    if lines:
        text += "# worked out where null above, as this run did:\n" + "\n".join(lines) + "\n"
    removed = [name for name, entry in (recorded.get("tuning", {}).get("search_space") or {}).items() if entry is None]
    if removed:  # kept as null so that the file loads back to the same search space
        text += f"# not searched (null removes a parameter from the default search space): {', '.join(removed)}\n"
    return text


# MLflow's own variable for its store, honoured where neither the config nor --set names one
TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> JobConfig:
    """Defaults, then the YAML file at ``path``, then each ``--set`` override; where none
    of them names tracking.uri, MLFLOW_TRACKING_URI before the default, as MLflow reads it."""
    raw = load_defaults()
    layers, given_layers = [], [parse_override(text) for text in overrides]
    if path is not None:
        given, path = str(path), Path(path)
        if not given.strip():
            raise ConfigError("--config is empty: give a YAML file's path")
        if path.is_dir():
            raise ConfigError(f"config file {path} is a folder, not a file")
        if not path.exists():
            where = "" if path.is_absolute() else f" (in {Path.cwd()}, the folder the job runs in)"
            raise ConfigError(f"config file not found: {path}{where}")
        try:
            # not only a regular file: /dev/stdin and a shell's <(...) are read as well
            layer = read_yaml(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {yaml_problem(err)}") from err
        except UnicodeDecodeError as err:
            raise ConfigError(f"config file {path} is not UTF-8 text: {err}") from err
        except OSError as err:
            raise ConfigError(f"cannot read config file {path}: {err.strerror or err}") from err
        if layer is None or layer == {}:  # a truncated deployment's: it ran, and published, the embedded sample
            raise ConfigError(f"config file {path} is empty (or only comments): a config sets at least input.path; "
                              "without --config the job runs its embedded sample")
        if not isinstance(layer, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections")
        if not any(isinstance(given.get("input"), dict) and "path" in given["input"]
                   for given in (layer, *given_layers)):  # its input.path commented out, say
            logger.warning("config file %s sets no input.path: the job reads its embedded sample", path)
        raw = deep_merge(raw, layer)
        layers.append(layer)
    for given in given_layers:
        layers.append(given)
        raw = deep_merge(raw, given)
    from_environment = os.environ.get(TRACKING_URI_VARIABLE, "").strip()
    if from_environment and isinstance(raw.get("tracking"), dict) and not any(
            isinstance(layer.get("tracking"), dict) and "uri" in layer["tracking"] for layer in layers):
        raw["tracking"]["uri"] = from_environment
    else:
        from_environment = ""
    for section in ("input", "output"):  # a local path under the home folder, as a shell would read it
        value = raw[section].get("path") if isinstance(raw.get(section), dict) else None
        if isinstance(value, str) and value.startswith("~"):
            raw[section]["path"] = os.path.expanduser(value)
            if raw[section]["path"].startswith("~"):  # ~name of a user this machine does not know
                raise ConfigError(f"config key '{section}.path' is {value!r}: no home folder for "
                                  f"{value.split('/')[0]!r} on this machine")
    try:
        config = _build(JobConfig, raw, "")
    except UnknownKeyError as err:  # a long command line, or a file shared by jobs: which one to edit
        raise ConfigError(f"{err} [{_where_given(err.key, path, overrides)}]") from None
    try:
        validate(config)
    except ConfigError as err:
        if from_environment and "'tracking." in str(err):  # the user set no tracking.uri: say where it came from
            raise ConfigError(f"{err} [tracking.uri is the environment's {TRACKING_URI_VARIABLE}, as neither the "
                              "config nor --set names one]") from None
        raise
    if from_environment:
        logger.info("tracking.uri from %s: %s", TRACKING_URI_VARIABLE, redact_url_password(from_environment))
    return config


class UnknownKeyError(ConfigError):
    """A key the config schema does not have; ``key`` is its dotted name."""

    def __init__(self, message: str, key: str):
        super().__init__(message)
        self.key = key


def _where_given(key: str, path: Path | None, overrides: list[str]) -> str:
    """Where the unknown ``key`` came from: a --set (named by its key alone: the value may
    be a secret), else the config file."""
    for text in overrides:
        dotted = text.split("=", 1)[0].strip()
        if dotted == key or dotted.startswith(f"{key}.") or key.startswith(f"{dotted}."):  # --set cleaning={...}
            return f"given by --set {dotted}"
    return f"in config file {path}" if path is not None else "in the embedded defaults"


def stored_cleaning(stored: dict) -> CleaningConfig:
    """The cleaning settings of a run's stored configuration (its ``config/resolved.yaml``),
    over today's defaults: a run from before a key was added has none of it."""
    return _build(CleaningConfig, {**load_defaults()["cleaning"], **(stored.get("cleaning") or {})}, "cleaning")


# --------------------------------------------------------------------------- typing


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UnknownKeyError(f"unknown config key '{_join(prefix, unknown[0])}'"
                              f"{unknown_key_hint(unknown[0], list(fields), hints, prefix)}", _join(prefix, unknown[0]))
    values = {}
    for name, field in fields.items():
        key = _join(prefix, name)
        if name not in data:
            if field.default is dataclasses.MISSING:
                hint = (" (a null, or a mapping whose entries are all commented out, removes it: write {} for no "
                        "entries)" if typing.get_origin(hints[name]) is dict else "")
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
        raise ConfigError(f"config key '{key}' expects {_describe(hint)}, got {value!r}{value_hint(args, value, key)}")
    if origin is list:
        if not isinstance(value, list):
            parts = re.split(r"[,\s]+", value.strip()) if isinstance(value, str) and value.strip() else []
            hint = f": write [{','.join(parts)}] (YAML's list)" if parts else ""
            raise ConfigError(f"config key '{key}' expects a list, got {value!r}{hint}")
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
    raise ConfigError(f"config key '{key}' expects {_describe(hint)}, got {value!r}{value_hint((hint,), value, key)}")


def _describe(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args:
        return " or ".join(getattr(a, "__name__", str(a)) for a in args)
    return getattr(hint, "__name__", str(hint))
