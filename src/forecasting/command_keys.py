"""Which series a command line names: ``store=north item=milk``, or its series id
``north/milk``, as ``python -m forecasting series`` takes it; with some key columns left
out, the one series of the output that agrees."""
from __future__ import annotations

from forecasting import series_identity, table_reads, tables
from forecasting.config import JobConfig
from forecasting.lookup_text import key_word


def parse_keys(config: JobConfig, pairs: list[str]) -> dict[str, str]:
    """``["store=north", "item=milk"]``, or the series id ``["north/milk"]`` as the summary and
    the tables name it, as text values in the config's key column order."""
    return key_values(config.input.key_columns, pairs)


def key_values(columns: list[str], pairs: list[str]) -> dict[str, str]:
    """parse_keys for the key ``columns`` (a run's config as a dict names them, in the notebook)."""
    if len(pairs) == 1 and pairs[0].partition("=")[0] not in columns:
        values = series_identity.id_values(pairs[0])
        if len(values) == len(columns):
            return dict(zip(columns, values))
    given = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            slash = " (a '/' within a value written '\\/', as the summary names series)" if "/" in pair else ""
            raise ValueError(f"expected KEY=VALUE, or one series id of {len(columns)} values joined by / "
                             f"({'/'.join(columns)}){slash}, got {pair!r}")
        if name not in columns:
            raise ValueError(f"{name!r} is not a key column; the key columns are {', '.join(columns)}")
        if name in given and given[name] != value:
            raise ValueError(f"{name} is given twice: {name}={given[name]} and {name}={value}")
        given[name] = value
    missing = [column for column in columns if column not in given]
    if missing:
        raise KeysMissing(given, f"name every key column: {', '.join(f'{c}=...' for c in missing)} missing")
    return {column: given[column] for column in columns}


class KeysMissing(ValueError):
    """Some key columns named, not all: ``given`` holds those named."""

    def __init__(self, given: dict[str, str], message: str):
        super().__init__(message)
        self.given = given


def completed_keys(config: JobConfig, missing: KeysMissing) -> dict[str, str]:
    """The keys of the one series in the series_results table that agrees with the key
    columns named (``store=12 family=dairy`` where the country is a key too). ``missing``
    again, naming the series that agree, where several do or none does."""
    path = tables.table_paths(config)[tables.SERIES_RESULTS]
    try:
        known = table_reads.series_keys(path, config.input.key_columns, config.output.format)
    except Exception:  # no table, another job's: the keys are the question
        raise missing from None
    agreeing = [keys for keys in known if all(keys[column] == value for column, value in missing.given.items())]
    if len(agreeing) == 1:
        return agreeing[0]
    named = sorted(series_identity.series_id(keys) for keys in agreeing)
    if named:
        shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
        raise KeysMissing(missing.given, f"{missing}: {len(named)} series agree, {shown}") from None
    raise KeysMissing(missing.given, f"{missing}: no series has {_unknown(missing.given, known)}") from None


def _unknown(given: dict[str, str], known: list[dict[str, str]]) -> str:
    """The values named that no series has, each with the values it most likely meant
    (ticker=0700 for ticker=700); all of them where they exist apart but not together."""
    texts = []
    for column, value in given.items():
        values = {keys[column] for keys in known}
        if value not in values:
            close = series_identity.closest_series(value, values)
            meant = " or ".join(key_word(column, other) for other in close)
            texts.append(key_word(column, value) + (f" (did you mean {meant}?)" if close else ""))
    return ", ".join(texts) or " and ".join(key_word(column, value) for column, value in given.items())
