"""The config's YAML as the job reads it: YAML 1.1 less what it silently reads otherwise
than meant (a key given twice, ``on:`` as true, 010 as octal), and the entries of
input.options and spark.conf as the text Spark gets (``99999.0``, a CSV's null marker, is
no 99999)."""
from __future__ import annotations

import math
import re
from typing import Any

import yaml


_INT, _FLOAT, _MERGE = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


def _own_keys(node) -> list:
    return [key_node for key_node, _ in node.value if key_node.tag != _MERGE]


class ConfigLoader(yaml.SafeLoader):
    """YAML as ``yaml.safe_load`` reads it, except where YAML 1.1 silently reads
    something else than was meant: a key given twice (the last would win, a whole
    section dropped), a key that is not text (``on:`` is true), 010 (octal 8) and
    1:30 (base 60, 90) read as the text typed, and 1e-3 read as a number."""

    def flatten_mapping(self, node):
        # the keys written in the mapping itself, before those an anchor merges in (<<) join
        # them in place: those may be given again beside it
        self.__dict__.setdefault("own_keys", {}).setdefault(id(node), _own_keys(node))
        super().flatten_mapping(node)

    def construct_mapping(self, node, deep=False):
        if getattr(node, "spark_text", False):  # input.options, spark.conf: a decimal as written (99999.0)
            self.flatten_mapping(node)  # the entries an anchor merges in too
            own = self.__dict__["own_keys"][id(node)]
            # copies: an alias of a value elsewhere (interval_width: *w) stays a number there
            node = yaml.MappingNode(node.tag, [(key, self._spark_text(value)) for key, value in node.value],
                                    node.start_mark, node.end_mark)
            self.__dict__["own_keys"][id(node)] = own
        for key_node, value_node in node.value:
            if key_node.value in ("options", "conf") and isinstance(value_node, yaml.MappingNode):
                value_node.spark_text = True
        seen = set()
        for key_node in self.__dict__.get("own_keys", {}).get(id(node)) or _own_keys(node):
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key_node.value!r} reads as {key!r}, not as text: quote it",
                    key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)

    def _spark_text(self, node):
        """A number entry of input.options or spark.conf as the text Spark gets (spark_number_text)."""
        if (isinstance(node, yaml.ScalarNode) and node.tag == _INT
                and not re.fullmatch(r"[-+]?[0-9]+", node.value.strip())):  # 0x10, 1_000 as written
            return yaml.ScalarNode(_STR, node.value.strip(), node.start_mark, node.end_mark)
        if not (isinstance(node, yaml.ScalarNode) and node.tag == _FLOAT):
            return node
        return yaml.ScalarNode(_STR, spark_number_text(node.value, self.construct_yaml_float(node)),
                               node.start_mark, node.end_mark)


def spark_number_text(written: str, value: float) -> str:
    """A number given to Spark (an input.options or spark.conf entry): a decimal as written,
    a CSV's null marker 99999.0 being no 99999; e-notation (1e5) as the whole number it is,
    which Spark's whole-number settings need; another form (1_000.5) as Python writes it."""
    if DECIMAL.fullmatch(written.strip()) or not math.isfinite(value):  # .inf, .NaN as written too
        return written.strip()
    return str(int(value)) if value.is_integer() else str(value)


DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")


# YAML 1.1's numbers less octal (010) and base 60 (1:30), and with e-notation as YAML 1.2 reads it
ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ConfigLoader.add_implicit_resolver(_FLOAT, re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))
ConfigLoader.add_implicit_resolver(_INT, re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?(?:0|[1-9][0-9_]*))$"), list("-+0123456789"))


def read_yaml(text: str, entries: bool = False) -> Any:
    """``text`` as ConfigLoader reads it; with ``entries``, a mapping of it as an
    input.options or spark.conf mapping is read (``--set input.options={...}``)."""
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if entries and isinstance(node, yaml.MappingNode):
            node.spark_text = True
        try:
            return loader.construct_document(node)
        except (ValueError, KeyError, TypeError) as err:  # a tag its value does not fit: !!int abc, !!bool maybe
            raise yaml.constructor.ConstructorError(
                None, None, f"a value its tag does not fit ({type(err).__name__})", node.start_mark) from None
    finally:
        loader.dispose()


# PyYAML's problems that quote what was written as a value: an alias's or a tag's name
VALUE_QUOTING_PROBLEMS = ("found undefined alias", "could not determine a constructor", "found undefined tag handle")


def yaml_problem(err: yaml.YAMLError) -> str:
    """What YAML found wrong, and where, without the text it quotes: PyYAML shows the
    line, and names an alias or tag as written, which may be a secret (spark.conf's S3
    key); the config's own errors name keys, not values, and stay."""
    mark = getattr(err, "problem_mark", None)
    if mark is None:
        return "a YAML error"
    context = f"{err.context}, " if getattr(err, "context", None) else ""
    begun = getattr(err, "context_mark", None)
    if context and begun is not None and begun.line != mark.line:  # "horizon 6" on line 9 is found on line 10
        context = f"{err.context} begun at line {begun.line + 1}, column {begun.column + 1}, "
    said = f"{context}{err.problem}"
    if str(err.problem).startswith(VALUE_QUOTING_PROBLEMS):
        said = re.sub(r"'[^']{2,}'", "'...'", said)
    return f"{said} at line {mark.line + 1}, column {mark.column + 1}"


def setting_text(value: Any) -> str:
    """A ``spark.conf`` or ``input.options`` value as Spark reads it: YAML reads ``1e5``
    as 100000.0, which Spark's whole-number settings refuse (a file's and a --set's
    numbers come as spark_number_text writes them); true and false in lower case."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
