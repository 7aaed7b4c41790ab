"""A series' identity: its key values as text ("store/item"), the digest its runs are
found by, and the nearest ids to a mistyped one. The same in every process: the driver,
the tasks and the lookups all name a series through these."""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
import re
from typing import Any

SERIES_ID_TAG = "series_id"
SERIES_HASH_TAG = "series_hash"  # exact, escape-free handle on a series for lookups
NULL_KEY = "<null>"


def is_null(value: Any) -> bool:
    """None, NaN, and pandas' NA and NaT (a nullable column's missing value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def key_text(value: Any) -> str:
    """A key value as the child runs' tags show it. A time with a zone is shown in UTC
    without it, as the tasks see every time (the session's zone is UTC)."""
    if is_null(value):
        return NULL_KEY
    if isinstance(value, dt.datetime) and value.tzinfo is not None:  # pandas' Timestamp too
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return str(value)


def series_id(keys: dict[str, Any]) -> str:
    """A readable identity of a series: its key values joined by '/', a '/' or '\\' within
    a value escaped by a '\\' (("A/B", "C") is "A\\/B/C", ("A", "B/C") is "A/B\\/C"), so that
    no two series of an input share an id, but for a null key and the text "<null>" (NULL_KEY),
    which series_hash tells apart."""
    return "/".join(_escaped(key_text(value)) for value in keys.values())


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("/", "\\/")


def id_values(text: str) -> list[str]:
    """The key values' texts a series id joins (its / unescaped), as series_id wrote them."""
    values, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "/":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*values, "".join(current)]


def closest_series(asked: str, known) -> list[str]:
    """The texts of ``known`` (series ids) a mistyped ``asked`` most likely meant: the same
    in another case or with its numbers written without leading zeros (S2/I17 for
    S002/I0017), else up to three a letter or two off; [] where none is close."""
    same_case = [text for text in known if text.lower() == asked.lower()]
    same_number = [text for text in known if _unpadded(text) == _unpadded(asked)]
    if same_case or same_number:
        return same_case or same_number
    # in lower case: jfk/totl is JFK/total a letter off. difflib's likeness alone took mars/soap for
    # east/soap: most of the text is the key they share
    lowered: dict[str, list[str]] = {}
    for text in known:
        lowered.setdefault(text.lower(), []).append(text)
    close = difflib.get_close_matches(asked.lower(), list(lowered), n=10, cutoff=0.6)
    return [text for low in close if _within_edits(asked.lower(), low, 2) for text in lowered[low]][:3]


def _within_edits(a: str, b: str, limit: int) -> bool:
    """Whether ``b`` is at most ``limit`` letters inserted, deleted or replaced away from ``a``."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, letter in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (letter != other)))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def _unpadded(text: str) -> str:
    """``text`` in lower case, its whole numbers without leading zeros (not a decimal's
    digits: 1.05 is no 1.5)."""
    return re.sub(r"(?<![0-9.])0+(?=[0-9])", "", text.lower())


def series_hash(keys: dict[str, Any]) -> str:
    """A digest of the key values, unambiguous whatever characters they hold (a
    null key and the text "<null>" too), the same in every process."""
    canonical = json.dumps([None if is_null(v) else str(v) for v in keys.values()], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def shortened(name: str, width: int) -> str:
    """A series' id cut to ``width`` characters for a run name, a log line or a picture, its
    start and end kept: series sharing a long first key differ in their last."""
    if len(name) <= width:
        return name
    if width < 3:  # no room for a start, an ellipsis and an end
        return name[:max(width, 0)]
    head = (width - 1) // 3
    return f"{name[:head]}…{name[len(name) - (width - 1 - head):]}"


def series_filter(keys: dict[str, Any]) -> str:
    """A filter for one series' runs that works for any key values."""
    return f"tags.{SERIES_HASH_TAG} = '{series_hash(keys)}'"
