import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from forecasting.config import ConfigError, deep_merge, load_config, load_defaults, parse_override, read_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_load_and_validate():
    config = load_config()
    assert (config.input.path, config.input.key_columns) == ("sample", ["store", "item"])  # the embedded sample
    assert config.tuning.search_space["seasonality_mode"].values == ["additive", "multiplicative"]


def test_the_documented_edge_values_are_accepted():
    # no uncertainty samples (no intervals), a run that stops at any failure, a value holding '='
    config = load_config(None, ["model.uncertainty_samples=0", "reliability.max_failed_share=0",
                                "spark.conf.spark.driver.extraJavaOptions=-Dlog4j.level=WARN"])
    assert config.model.uncertainty_samples == 0 and config.reliability.max_failed_share == 0
    assert config.spark.conf["spark.driver.extraJavaOptions"] == "-Dlog4j.level=WARN"


def test_yaml_layer_and_set_overrides_apply_in_order(tmp_path):
    layer = tmp_path / "run.yaml"
    layer.write_text("forecast: {horizon: 12, frequency: MS}\ninput: {key_columns: [a, b]}\n")
    config = load_config(layer, ["forecast.horizon=6", "tuning.search_space.seasonality_mode=null"])
    assert config.forecast.horizon == 6  # --set wins over the file
    assert config.forecast.frequency == "MS"  # the file wins over the defaults
    assert config.input.key_columns == ["a", "b"]
    assert "seasonality_mode" not in config.tuning.search_space  # null removes an entry
    assert config.model.growth == load_defaults()["model"]["growth"]  # untouched default kept


def test_null_removes_a_spark_conf_or_input_option_entry(tmp_path):
    # it stored None, which reached Spark as the text "None"
    layer = tmp_path / "run.yaml"
    layer.write_text("spark: {conf: {spark.executor.memory: 4g}}\ninput: {options: {sep: ';'}}\n")
    config = load_config(layer, ["spark.conf.spark.executor.memory=null", "input.options.sep=null"])
    assert "spark.executor.memory" not in config.spark.conf and "sep" not in config.input.options
    assert load_config(layer).spark.conf["spark.executor.memory"] == "4g"


def test_a_free_form_mapping_set_to_null_says_how_to_empty_it():
    with pytest.raises(ConfigError, match=r"missing config key 'tuning.search_space' \(a null, .* removes it: write "
                                          r"\{\} for no entries\)"):
        load_config(None, ["tuning.search_space=null"])
    assert load_config(None, ["tuning.search_space={}"]).tuning.search_space == {}


def test_parse_override_reads_values_as_yaml():
    assert parse_override("a.b.c=[x, y]") == {"a": {"b": {"c": ["x", "y"]}}}
    assert parse_override("a.b=0.5") == {"a": {"b": 0.5}}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("no-equals-sign")


def test_set_keeps_the_dots_of_an_entry_in_a_free_form_mapping():
    config = load_config(None, ["spark.conf.spark.executor.memory=4g", "spark.conf.spark.sql.ansi.enabled=true",
                                "input.options.sep=;"])
    assert config.spark.conf == {"spark.executor.memory": "4g", "spark.sql.ansi.enabled": True}
    assert config.input.options == {"sep": ";"}
    # a search-space entry is a mapping of its own: its keys are walked as before
    low = load_config(None, ["tuning.search_space.changepoint_prior_scale.low=0.01"])
    assert low.tuning.search_space["changepoint_prior_scale"].low == 0.01


def test_an_empty_mapping_empties_the_default_one(tmp_path):
    assert load_config(None, ["tuning.search_space={}"]).tuning.search_space == {}  # no tuning
    layer = tmp_path / "run.yaml"
    layer.write_text("tuning: {search_space: {}}\n")
    assert load_config(layer).tuning.search_space == {}
    assert load_config(None, ["spark.conf.spark.ui.enabled=false", "spark.conf={}"]).spark.conf == {}
    layer.write_text("cleaning: {}\n")  # an empty section, on the other hand, changes nothing
    assert load_config(layer).cleaning == load_config().cleaning


def test_a_section_whose_keys_are_all_commented_out_changes_nothing(tmp_path):
    layer = tmp_path / "run.yaml"
    layer.write_text("cleaning:\n#  missing_values: zero\nforecast: {horizon: 9}\n")
    config = load_config(layer)
    assert config.cleaning == load_config().cleaning and config.forecast.horizon == 9
    # on the command line too, where null had removed the section ("missing config key 'forecast'")
    assert load_config(layer, ["forecast=null"]).forecast.horizon == 9
    # a misspelt section is named, even with all its keys commented out
    layer.write_text("forcast:\n#  horizon: 9\n")
    with pytest.raises(ConfigError, match="unknown config key 'forcast'"):
        load_config(layer)


def test_a_set_value_yaml_would_read_as_nothing_or_as_octal_is_kept_as_typed():
    # | and > start a YAML block, # a comment; YAML 1.1 reads 0123 as 83
    assert load_config(None, ["input.options.sep=|", "input.options.quote=>", "input.options.comment=#"]
                       ).input.options == {"sep": "|", "quote": ">", "comment": "#"}
    assert load_config(None, ["output.path=0123"]).output.path == "0123"
    with pytest.raises(ConfigError, match="'tuning.max_evals' expects int, got '0123'"):
        load_config(None, ["tuning.max_evals=0123"])
    # null and a quoted empty text still mean what they say
    assert parse_override("input.options.sep=''") == {"input": {"options": {"sep": ""}}}
    assert parse_override("tuning.patience=null") == {"tuning": {"patience": None}}


def test_a_number_or_date_where_text_is_expected_says_how_to_write_it_in_a_file(tmp_path):
    layer = tmp_path / "run.yaml"
    layer.write_text("tracking: {experiment: 2024}\n")
    with pytest.raises(ConfigError, match=r"got 2024 \(YAML read a number: quote the value as you wrote it"):
        load_config(layer)
    layer.write_text("tracking: {experiment: 2024-01-01}\n")
    with pytest.raises(ConfigError, match=r"got datetime.date\(2024, 1, 1\) \(YAML read a date: quote the value"):
        load_config(layer)


@pytest.mark.parametrize("override, key, text", [
    ("tracking.experiment=2024", "experiment", "2024"),
    ("tracking.experiment=2024-01-01", "experiment", "2024-01-01"),
    ("tracking.experiment=1e3", "experiment", "1e3"),
    ("tracking.experiment=2024 # the year", "experiment", "2024"),  # a comment is YAML's, as ever (and said)
    ("output.table_prefix=1_", "table_prefix", "1_"),  # YAML 1.1 reads the number 1
    ("input.path=on", "path", "on"),
    ("input.key_columns=[2024, item]", "key_columns", ["2024", "item"]),
    ("input.decimal_separator=,", "decimal_separator", ","),  # not YAML at all
    ("input.key_columns=[NO, item]", "key_columns", ["NO", "item"]),  # a list of text cannot be null
])
def test_a_text_key_given_with_set_takes_the_text_as_typed(override, key, text):
    config = load_config(None, [override]).to_dict()
    section = override.split(".")[0]
    assert config[section][key] == text


def test_a_flag_word_for_a_key_that_can_be_none_is_refused_saying_null_means_none():
    # false could mean none as well as a model named "false"
    for override in ("tracking.registered_model=false", "output.table_prefix=off", "model.country_holidays=NO"):
        with pytest.raises(ConfigError, match="write null for none, or quote the value"):
            load_config(None, [override])
    assert load_config(None, ["tracking.registered_model=null"]).tracking.registered_model is None


def test_an_input_option_given_a_flag_word_reaches_spark_as_typed():
    from forecasting.io import reader_options

    options = load_config(None, ["input.format=parquet", "input.path=sales.parquet",
                                 "input.options.nullValue=NO", "input.options.maxColumns=1e5",
                                 "input.options.mergeSchema=true"]).input.options
    # NO was false, so cells reading "false" became nulls and those reading NO stayed
    assert reader_options(options) == {"nullValue": "NO", "maxColumns": "100000", "mergeSchema": "true"}


def test_an_input_options_decimal_reaches_spark_as_written_in_a_file_or_a_set(tmp_path):
    # a historian's placeholder 99999.0 had reached Spark as 99999, which no cell of the CSV reads: nothing nulled
    from forecasting.io import reader_options
    from forecasting.spark_session import session_conf

    assert reader_options(load_config(None, ["input.options.nullValue=99999.0"]).input.options) == {
        "nullValue": "99999.0"}
    assert reader_options(load_config(None, ["input.options.nullValue=99999.0  # the historian's"]).input.options) == {
        "nullValue": "99999.0"}
    (tmp_path / "job.yaml").write_text("input:\n  path: data.csv\n  options: {nullValue: 99999.0, samplingRatio: 0.5, "
                                       "maxColumns: 1e5}\nspark:\n  conf:\n    spark.sql.autoBroadcastJoinThreshold: 1e7\n"
                                       "    spark.memory.fraction: 0.5\n")
    config = load_config(tmp_path / "job.yaml")
    assert reader_options(config.input.options) == {"nullValue": "99999.0", "samplingRatio": "0.5",
                                                    "maxColumns": "100000"}
    conf, _ = session_conf(config, {})
    assert (conf["spark.sql.autoBroadcastJoinThreshold"], conf["spark.memory.fraction"]) == ("10000000", "0.5")
    # the config's own numbers stay numbers
    assert load_config(None, ["forecast.interval_width=0.9"]).forecast.interval_width == 0.9
    # the whole mapping given by a --set, entries an anchor merges in, an alias of a number elsewhere, text quoted
    assert reader_options(load_config(None, ["input.options={nullValue: 99999.0, maxColumns: 1e5}"]).input.options) \
        == {"nullValue": "99999.0", "maxColumns": "100000"}
    (tmp_path / "merged.yaml").write_text("input:\n  path: x.csv\n  options: {<<: {nullValue: 99999.0}, sep: ';'}\n"
                                          "forecast: {interval_width: &w 0.8}\nspark: {conf: {spark.memory.fraction: *w}}\n")
    merged = load_config(tmp_path / "merged.yaml")
    assert reader_options(merged.input.options) == {"nullValue": "99999.0", "sep": ";"}
    assert merged.forecast.interval_width == 0.8 and merged.spark.conf == {"spark.memory.fraction": "0.8"}
    (tmp_path / "quoted.yaml").write_text("input:\n  path: x.csv\n  options: {nullValue: '1E5', n: 1_000.5}\n")
    assert reader_options(load_config(tmp_path / "quoted.yaml").input.options) == {"nullValue": "1E5", "n": "1000.5"}
    assert reader_options(load_config(None, ["input.options={positiveInf: .inf, nanValue: .NaN}"]).input.options) \
        == {"positiveInf": ".inf", "nanValue": ".NaN"}


def test_config_yaml_refuses_or_keeps_as_typed_what_yaml_1_1_would_silently_read_otherwise(tmp_path):
    layer = tmp_path / "run.yaml"
    layer.write_text("tuning: {max_evals: 12, metric: mase}\nforecast: {horizon: 7}\ntuning: {seed: 1}\n")
    with pytest.raises(ConfigError, match="the key 'tuning' is given twice"):  # the first tuning block dropped
        load_config(layer)
    with pytest.raises(ConfigError, match="the key 'horizon' is given twice"):
        load_config(None, ["forecast={horizon: 7, horizon: 14}"])
    layer.write_text("on: 1\n")
    with pytest.raises(ConfigError, match="the key 'on' reads as True, not as text: quote it"):
        load_config(layer)
    layer.write_text("forecast: {horizon: 010}\n")  # YAML 1.1: octal 8
    with pytest.raises(ConfigError, match=r"'forecast.horizon' expects int, got '010' \(a whole number with a "
                                          r"leading zero is read as text: write it without the zero\)"):
        load_config(layer)
    with pytest.raises(ConfigError, match="'tuning.max_evals' expects int, got '1:00'"):  # base 60: 60
        load_config(None, ["tuning.max_evals=1:00"])
    # given to Spark as written: a CSV's null marker 0x10 or 1_000 is no 16 or 1000
    from forecasting.io import reader_options

    assert reader_options(load_config(None, ["input.options.nullValue=0x10"]).input.options) == {"nullValue": "0x10"}
    assert reader_options(load_config(None, ["input.options={nullValue: 1_000, sep: 0b1}"]).input.options) \
        == {"nullValue": "1_000", "sep": "0b1"}
    # e-notation without a decimal point is a number, as it is in YAML 1.2 and Python
    layer.write_text("tuning: {search_space: {changepoint_prior_scale: {low: 1e-4, high: 5E-1}}}\n")
    space = load_config(layer).tuning.search_space["changepoint_prior_scale"]
    assert (space.low, space.high) == (1e-4, 0.5)
    assert load_config(None, ["tuning.max_evals=0x10", "forecast.horizon=+7"]).tuning.max_evals == 16
    layer.write_bytes("# \xe9t\xe9 en latin-1\nforecast: {horizon: 7}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(layer)
    for section in ("output: results/\n", "input: [a]\n"):  # a section that is not a mapping
        layer.write_text(section)
        with pytest.raises(ConfigError, match="expected a mapping"):
            load_config(layer)


def test_a_yaml_flag_where_text_is_expected_says_to_quote_it(tmp_path):
    layer = tmp_path / "run.yaml"
    layer.write_text("model: {country_holidays: NO}\n")  # Norway
    with pytest.raises(ConfigError, match=r"got False \(YAML reads yes, no, on and off as true or false: write null for "
                                          r"none, or quote"):
        load_config(layer)
    assert load_config(None, ["model.country_holidays='NO'"]).model.country_holidays == "NO"
    assert load_config(None, ["output.table_prefix=null"]).output.table_prefix is None  # null still means none


def test_deep_merge_does_not_mutate_its_inputs():
    base = {"a": {"b": 1}}
    merged = deep_merge(base, {"a": {"c": 2}})
    assert merged == {"a": {"b": 1, "c": 2}} and base == {"a": {"b": 1}}


@pytest.mark.parametrize(
    "override, key",
    [
        ("input.pathh=x", "input.pathh"),  # unknown key
        ("nosuchsection.key=1", "nosuchsection"),
        ("forecast.horizon=twelve", "forecast.horizon"),  # wrong type
        ("forecast.horizon=true", "forecast.horizon"),  # a flag is not a number
        ("forecast.horizon=0", "forecast.horizon"),  # bad value
        ("forecast.frequency=fortnightly", "forecast.frequency"),
        ("forecast.frequency=0D", "forecast.frequency"),  # would never move forward
        ("forecast.frequency=-1D", "forecast.frequency"),
        ("forecast.frequency=bh", "forecast.frequency"),  # business hours: not a grid of whole days
        ("forecast.interval_width=1.5", "forecast.interval_width"),
        ("forecast.interval_width=0", "forecast.interval_width"),  # no interval: every series would fail
        ("forecast.interval_width=1", "forecast.interval_width"),  # an interval of infinite width
        ("forecast.floor=zero", "forecast.floor"),  # auto, a number or null
        ("forecast.floor=true", "forecast.floor"),
        ("forecast.floor=.nan", "forecast.floor"),  # no forecast is at or above NaN
        ("input.format=xlsx", "input.format"),
        ("input.key_columns=[]", "input.key_columns"),
        ("input.key_columns=[date]", "input.key_columns"),
        ("input.key_columns=[store, status]", "input.key_columns"),  # a column of series_results
        ("input.key_columns=[store, _Task]", "input.key_columns"),  # Spark's names ignore case
        ("input.key_columns=[store, ended_by]", "input.key_columns"),  # the tag a rerun sets on a killed run
        ("input.key_columns=[store#]", "input.key_columns"),  # not a tag name MLflow takes
        ("input.key_columns=[mlflow.user]", "input.key_columns"),  # MLflow's own tag
        ("input.key_columns=[region/]", "input.key_columns"),  # a path MLflow refuses
        ("input.key_columns=[model/kind]", "input.key_columns"),  # a tag below the run's own model tag's file
        ("tuning.metric=r2", "tuning.metric"),
        ("tuning.search_space.growth={distribution: choice, values: [flat, logistic]}",
         "tuning.search_space.growth.values[1]"),  # logistic growth needs a cap column
        ("tuning.search_space.daily_seasonality={distribution: uniform, low: 1, high: 9}",
         "tuning.search_space.daily_seasonality.distribution"),  # a Fourier order is a whole number
        ("tuning.search_space.weekly_seasonality={distribution: choice, values: [3, -1]}",
         "tuning.search_space.weekly_seasonality.values[1]"),
        ("tuning.search_space.changepoint_prior_scale.low=0", "tuning.search_space.changepoint_prior_scale.low"),
        # 0 is a changepoint range Prophet takes, but no loguniform draw's end
        ("tuning.search_space.changepoint_range={distribution: loguniform, low: 0, high: 0.9}",
         "tuning.search_space.changepoint_range.low' must be positive for loguniform"),
        ("tuning.search_space.changepoint_prior_scale={distribution: loguniform, low: 0.5, high: 0.5}",
         "tuning.search_space.changepoint_prior_scale' needs low < high"),
        # values Prophet refuses would fail every series' evaluations that drew them
        ("tuning.search_space.seasonality_mode={distribution: uniform, low: 0, high: 1}",
         "tuning.search_space.seasonality_mode.distribution"),
        ("tuning.search_space.seasonality_mode={distribution: choice, values: [additive, mult]}",
         "tuning.search_space.seasonality_mode.values[1]"),
        ("tuning.search_space.changepoint_range={distribution: uniform, low: 0.5, high: 1.5}",
         "tuning.search_space.changepoint_range.high"),
        ("tuning.search_space.n_changepoints={distribution: choice, values: [10, 2.5]}",
         "tuning.search_space.n_changepoints.values[1]"),
        # a continuous draw would be cut to a whole number
        ("tuning.search_space.n_changepoints={distribution: uniform, low: 5, high: 30}",
         "tuning.search_space.n_changepoints.distribution"),
        ("tuning.search_space.n_changepoints={distribution: quniform, low: 5, high: 30, q: 2.5}",
         "tuning.search_space.n_changepoints.q' must be a whole number"),
        ("tuning.search_space.n_changepoints={distribution: quniform, low: 5, high: 30}",
         "tuning.search_space.n_changepoints.q' must be positive for quniform"),
        ("tuning.search_space.seasonality_prior_scale={distribution: choice, values: [1, -1]}",
         "tuning.search_space.seasonality_prior_scale.values[1]"),
        # Hyperopt rounds a quniform draw to a multiple of q: here down to 0, which Prophet refuses
        ("tuning.search_space.changepoint_prior_scale={distribution: quniform, low: 0.001, high: 0.5, q: 0.01}",
         "tuning.search_space.changepoint_prior_scale.q"),
        ("tuning.search_space.changepoint_range={distribution: quniform, low: 0.5, high: 0.95, q: 0.6}",
         "tuning.search_space.changepoint_range.q"),  # up to 1.2
        ("tuning.seed=-1", "tuning.seed"),  # numpy's generators take no negative seed
        ("input.key_columns=[store.id, item]", "input.key_columns"),  # Spark: a struct's field
        ("input.key_columns=['store id', item]", "input.key_columns"),  # Delta refuses it, after the training
        ("input.time_column=sale.date", "input.time_column"),
        ("input.options.inferSchema=true", "input.options"),  # the job parses a CSV's text itself
        ("input.options.HEADER=false", "input.options"),
        ("input.options.dateFormat=dd.MM.yyyy", "input.options"),  # ignored: a CSV file's times are parsed as ISO
        ("model.country_holidays=Atlantis", "model.country_holidays"),
        ("model.optimizer=newton", "model.optimizer"),
        ("output.format=csv", "output.format"),
        ("tracking.uri=htps://mlflow.example.com", "tracking.uri"),  # failed after Spark had read the input
        ("tracking.uri=postgresql+psycopg2+x://db/mlflow", "tracking.uri"),  # one +driver at most
        ("tracking.uri=databricks-uc", "tracking.uri"),  # a model registry, not a tracking store
        ("tracking.uri=databricks", "tracking.experiment"),  # the default name is not a workspace path
        # MLflow refuses these at its first request to a server, after Spark started, with a traceback
        ("tracking.max_retries=10", "tracking.max_retries"),
        ("tracking.backoff_seconds=120", "tracking.backoff_seconds"),
        # urllib cannot read them: a traceback, or a server "unreachable" that a scheduler would retry
        ("tracking.uri=http://[::1:5000", "tracking.uri"),
        ("tracking.uri=http://mlflow:abc", "tracking.uri"),
        ("tracking.uri=http://mlflow:99999", "tracking.uri"),
        ("output.path=file://[x/out", "output.path"),
        ("input.path=file://[x/in", "input.path"),
        # a home folder of nobody here: the job's store would fail after Spark started
        ("tracking.uri=~nosuchuser_x/mlruns", "tracking.uri"),
        ("tracking.uri=sqlite:///~nosuchuser_x/mlflow.db", "tracking.uri"),
        # steps under a second ('ms' for a month's MS: all series failed allocating 704 GiB) or over a year
        ("forecast.frequency=ms", "forecast.frequency' is 'ms', a step under a second"),
        ("forecast.frequency=500ms", "forecast.frequency"),
        ("forecast.frequency=200000D", "forecast.frequency' is '200000D', a fixed step over a year"),
        # a cycle the periods are too long to show: months start on other weekdays, a weekly part fits noise
        ("forecast.frequency=MS;model.weekly_seasonality=true", "model.weekly_seasonality' is true, a weekly cycle"),
        ("model.daily_seasonality=3", "model.daily_seasonality' is 3, a daily cycle"),
        ("tuning.search_space.daily_seasonality={distribution: choice, values: [false, 4]}",
         "tuning.search_space.daily_seasonality.values[1]"),
    ],
)
def test_bad_config_names_the_key(override, key):
    with pytest.raises(ConfigError) as error:
        load_config(None, override.split(";"))
    assert f"'{key}" in str(error.value)


@pytest.mark.parametrize("override, said", [
    ("forecast.min_history=", "got '' (an empty value: write null for none)"),
    ("forecast.horizon=", "got '' (an empty value: give a number)"),
    ("forecast.frequency=null", "got None (YAML reads null, ~ and an empty value as null: this key needs a value)"),
    ("tracking.experiment=sales: east", "(YAML reads 'name: value' as a mapping: quote the whole value"),
])
def test_a_value_yaml_read_otherwise_than_typed_says_how_to_write_it(override, said):
    with pytest.raises(ConfigError) as refused:
        load_config(None, [override])
    assert said in str(refused.value)


def test_a_mapping_whose_entries_are_all_commented_out_says_to_write_braces(tmp_path):
    (tmp_path / "spark.yaml").write_text("input: {path: sales.csv}\nspark:\n  conf:\n    # spark.executor.memory: 4g\n")
    with pytest.raises(ConfigError, match=r"missing config key 'spark.conf' \(a null, or a mapping whose entries are "
                                          r"all commented out, removes it: write \{\} for no entries\)"):
        load_config(tmp_path / "spark.yaml")


def test_cycles_the_periods_show_and_auto_are_taken():
    assert load_config(None, ["forecast.frequency=B", "model.weekly_seasonality=3"]).model.weekly_seasonality == 3
    assert load_config(None, ["forecast.frequency=h", "model.daily_seasonality=true"]).model.daily_seasonality is True
    monthly = load_config(None, ["forecast.frequency=MS", "model.weekly_seasonality=false"])
    assert monthly.model.weekly_seasonality is False
    assert load_config(None, ["tracking.max_retries=9", "tracking.backoff_seconds=119",
                              "tracking.uri=http://mlflow:5000"]).tracking.max_retries == 9
    # a port is read of a server's URI only: MLflow's databricks://<scope>:<prefix> names a profile
    assert load_config(None, ["tracking.uri=databricks://myscope:myprefix",
                              "tracking.experiment=/Shared/sales"]).tracking.uri == "databricks://myscope:myprefix"


def test_a_tag_its_value_does_not_fit_is_a_yaml_error_not_a_traceback(tmp_path):
    (tmp_path / "bad.yaml").write_text("forecast:\n  horizon: !!int abc\n")
    with pytest.raises(ConfigError, match="is not valid YAML: a value its tag does not fit"):
        load_config(tmp_path / "bad.yaml")
    for value in ("!!float x", "!!bool maybe", "!!timestamp 2024-99-99"):
        with pytest.raises(ConfigError, match="--set forecast.horizon: value .* is not valid YAML"):
            load_config(None, [f"forecast.horizon={value}"])


def test_a_comment_in_a_set_value_is_yamls_but_said(caplog):
    """As in a file, ' #' starts a comment; typed on a command line it was more likely meant as
    text (an experiment "Sales #2" read as Sales), so the log says what was left out."""
    assert load_config(None, ["tracking.experiment=Sales #2"]).tracking.experiment == "Sales"
    assert "--set tracking.experiment: the text from ' #' on is a YAML comment, left out" in caplog.text
    caplog.clear()
    assert load_config(None, ["tracking.experiment='Sales #2'"]).tracking.experiment == "Sales #2"
    assert load_config(None, ["tracking.experiment=a#b"]).tracking.experiment == "a#b"  # no comment: no space
    assert load_config(None, ["tracking.experiment=#2"]).tracking.experiment == "#2"  # nothing else: as typed
    assert "YAML comment" not in caplog.text


def test_a_min_history_that_leaves_a_series_no_cross_validation_fold_is_refused():
    # a fold scores the horizon's 28 rows, and Prophet trains on at least 2
    with pytest.raises(ConfigError, match=r"'forecast.min_history' is 29, below the 30 rows one cross-validation "
                                          r"fold needs \(28 to score, 2 to train on\)"):
        load_config(None, ["forecast.horizon=28", "forecast.min_history=29"])
    assert load_config(None, ["forecast.horizon=28", "forecast.min_history=30"]).forecast.min_history == 30
    # the fold's own horizon, where it has one
    with pytest.raises(ConfigError, match="below the 9 rows"):
        load_config(None, ["forecast.horizon=28", "cross_validation.horizon=7", "forecast.min_history=8"])
    assert load_config(None, ["forecast.horizon=28", "cross_validation.horizon=7", "forecast.min_history=9"])


@pytest.mark.parametrize("name", ["sales", "shop.sales", "main.shop.sales", "cat.ns1.ns2.sales", "'`my-db`.sales'",
                                  "'`odd``name`'", "'`ventes_été`'"])
def test_a_catalog_table_name_is_accepted(name):
    config = load_config(None, ["input.format=table", f"input.path={name}"])
    assert config.input.path == name.strip("'")


@pytest.mark.parametrize("name", ["sales LIMIT 0", "shop.sales; DROP TABLE x", "shop..sales", "/data/sales",
                                  "'`unclosed.sales'", "ventes_été", "'2024'", "shop.2024"])
def test_what_is_no_table_name_is_refused_before_it_reaches_sql_text(name):
    # the job puts a table input's name into SQL text (DESCRIBE TABLE EXTENDED); Spark's parser
    # wants the last three in backquotes
    with pytest.raises(ConfigError, match=r"'input.path' is .*, not a table name"):
        load_config(None, ["input.format=table", f"input.path={name}"])
    assert load_config(None, ["input.format=parquet", f"input.path={name}"]).input.path == name.strip("'")


def test_a_time_format_with_a_two_digit_year_or_spaces_around_it_is_refused():
    # Spark reads yy as 2000-2099: 01/01/85 would be 2085, cut off as after the run date without a word
    with pytest.raises(ConfigError, match="'input.time_format' is 'dd/MM/yy': a two-digit year"):
        load_config(None, ["input.time_format=dd/MM/yy"])
    with pytest.raises(ConfigError, match="'input.time_format' must be null .* without spaces around it"):
        load_config(None, ["input.time_format=' dd/MM/yyyy'"])  # every stripped value would fail it
    assert load_config(None, ["input.time_format=dd/MM/yyyy"]).input.time_format == "dd/MM/yyyy"


def test_a_tracking_uri_scheme_mlflow_has_no_store_for_is_refused_naming_those_it_has():
    with pytest.raises(ConfigError) as error:
        load_config(None, ["tracking.uri=htps://mlflow.example.com"])
    message = str(error.value)
    assert "'tracking.uri' has the scheme 'htps'" in message
    assert "http: or https:" in message and "sqlite:, mysql:, postgresql:, mssql:" in message


@pytest.mark.parametrize("uri", ["mlruns", "~/mlruns", "file:///tmp/mlruns", "http://127.0.0.1:5000",
                                 "HTTPS://mlflow.example.com", "sqlite:///mlflow.db",
                                 "postgresql+psycopg2://ana@db.example.com/mlflow", "mssql+pyodbc://db/mlflow"])
def test_the_tracking_stores_mlflow_has_are_accepted(uri, monkeypatch):
    from forecasting import config_stores

    monkeypatch.setattr(config_stores, "_importable", lambda module: True)  # where the database's driver is installed
    assert load_config(None, [f"tracking.uri={uri}"]).tracking.uri == uri


@pytest.mark.parametrize("uri", ["databricks", "databricks://my-profile"])
def test_databricks_tracking_needs_an_absolute_workspace_path_as_experiment(uri):
    with pytest.raises(ConfigError) as error:
        load_config(None, [f"tracking.uri={uri}"])  # the default experiment, a bare name
    assert "'tracking.experiment' is 'many-model-forecasting': Databricks" in str(error.value)
    assert "/Shared/many-model-forecasting" in str(error.value)
    config = load_config(None, [f"tracking.uri={uri}", "tracking.experiment=/Shared/many-model-forecasting"])
    assert config.tracking.experiment == "/Shared/many-model-forecasting"


@pytest.mark.parametrize("frequency", ["2MS", "2W-MON", "6MS", "2QS", "2B"])
def test_several_calendar_periods_a_step_are_refused_saying_what_is_supported(frequency):
    # cleaning aligns to a calendar period with rollback/rollforward, which ignore the 2
    with pytest.raises(ConfigError) as error:
        load_config(None, [f"forecast.frequency={frequency}"])
    message = str(error.value)
    assert f"'forecast.frequency' is '{frequency}'" in message
    assert "one calendar period a step (MS, W-MON, QS, ...)" in message and "(2h, 15min, 14D)" in message


def test_a_removed_alias_is_said_by_the_config_error_alone_not_by_pandas_warning_too():
    import warnings

    from forecasting.config_frequency import frequency_problem

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fixed-step check had let pandas' FutureWarning out first
        for alias in ("H", "M", "Q", "m"):
            assert "pandas" in frequency_problem(alias), alias


def test_m_meant_as_minutes_is_said_to_be_months_to_pandas():
    for frequency, written in (("15m", "15min"), ("m", "min")):
        with pytest.raises(ConfigError, match=f"pandas reads 'm' as months: minutes are 'min', e.g. {written}\\)"):
            load_config(None, [f"forecast.frequency={frequency}"])
    with pytest.raises(ConfigError) as months:  # M is months to anyone
        load_config(None, ["forecast.frequency=15M"])
    assert "minutes" not in str(months.value)


@pytest.mark.parametrize("frequency, instead", [("7h", "(1h, 2h, 3h, 4h, 6h, 8h, 12h)"),
                                                ("13min", "(1min, 5min, 10min, 15min, 30min)"),
                                                ("36h", "whole days (1D or 2D)")])
def test_a_fixed_step_that_neither_divides_a_day_nor_is_whole_days_is_refused(frequency, instead):
    # 7h was floored from 1970 by one part of a run and counted from the series' first midnight by another: every
    # row and forecast dated hours apart (the review of 12-06)
    with pytest.raises(ConfigError) as error:
        load_config(None, [f"forecast.frequency={frequency}"])
    assert f"'forecast.frequency' is '{frequency}', a step that neither divides a day nor is whole days" in str(
        error.value) and instead in str(error.value)


@pytest.mark.parametrize("frequency", ["2h", "15min", "90s", "48h", "7D", "14D", "MS", "W-MON", "QS", "B"])
def test_one_calendar_period_or_a_multiple_of_a_fixed_length_is_accepted(frequency):
    assert load_config(None, [f"forecast.frequency={frequency}"]).forecast.frequency == frequency


@pytest.mark.parametrize("name, refused", [("Joe's model", "'"), ('the "best" one', '"'), ("team/model", "/"),
                                           ("100%", "%"), ("why?", "?"), ("a\\b", "\\")])
def test_a_registered_model_name_mlflow_cannot_look_up_or_serve_is_refused(name, refused):
    # accepted, it failed the run after every table was written
    with pytest.raises(ConfigError) as error:
        load_config(None, [f"tracking.registered_model={json.dumps(name)}"])  # YAML reads JSON's quoting
    assert f"'tracking.registered_model' has {name!r}" in str(error.value)
    assert f"whose name holds {refused};" in str(error.value)


def test_an_accepted_registered_model_name_is_registered_and_found_by_name(tmp_path):
    from mlflow import MlflowClient

    name = "store forecaster-v2.1 (daily), EU_west"
    assert load_config(None, [f"tracking.registered_model={json.dumps(name)}"]).tracking.registered_model == name
    registry = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    registry.create_registered_model(name)
    assert registry.get_registered_model(name).name == name
    assert [m.name for m in registry.search_registered_models(filter_string=f"name = '{name}'")] == [name]


@pytest.mark.parametrize("override, message", [
    # rounded past the range asked for, or to a single value
    ("tuning.search_space.changepoint_range={distribution: quniform, low: 0.1, high: 0.9, q: 0.5}",
     r"changepoint_range.q' is 0.5: Hyperopt rounds each draw from 0.1-0.9 to a multiple of it, so the draws "
     r"reach 0-1: make low and high multiples of q"),
    ("tuning.search_space.n_changepoints={distribution: quniform, low: 1, high: 3, q: 10}",
     r"n_changepoints.q' is 10: .* the draws reach 0-0"),
    ("tuning.search_space.n_changepoints={distribution: quniform, low: 5, high: 30, q: 4}",
     r"n_changepoints.q' is 4: .* reach 4-28"),
    # q beside another distribution was ignored
    ("tuning.search_space.changepoint_range={distribution: uniform, low: 0.1, high: 0.5, q: 0.1}",
     r"changepoint_range.q' is read with distribution quniform only, not uniform"),
])
def test_a_quniform_q_that_takes_draws_outside_the_range_or_to_one_value_is_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_a_quniform_space_whose_rounded_ends_prophet_takes_is_accepted():
    config = load_config(None, [
        "tuning.search_space.changepoint_prior_scale={distribution: quniform, low: 0.01, high: 0.5, q: 0.01}"
    ])
    assert config.tuning.search_space["changepoint_prior_scale"].q == 0.01
    config = load_config(None, ["tuning.search_space.n_changepoints={distribution: quniform, low: 5, high: 30, q: 5}",
                                "tuning.search_space.changepoint_range={distribution: quniform, low: 0.8, high: 0.95, "
                                "q: 0.05}"])
    assert config.tuning.search_space["n_changepoints"].q == 5
    # ends half a q off a multiple: draws strictly inside them round inwards, 6 to 30 (Hyperopt's own, sampled)
    space = load_config(None, ["tuning.search_space.n_changepoints={distribution: quniform, low: 5, high: 30, q: 2}"]
                        ).tuning.search_space["n_changepoints"]
    from hyperopt import hp
    from hyperopt.pyll.stochastic import sample

    draws = [sample(hp.quniform("n", space.low, space.high, space.q), rng=np.random.default_rng(seed))
             for seed in range(300)]
    assert 6 <= min(draws) and max(draws) <= 30


def test_a_key_column_name_delta_refuses_is_fine_for_parquet_output():
    config = load_config(None, ["input.key_columns=['store id', item]", "output.format=parquet"])
    assert config.input.key_columns == ["store id", "item"]


@pytest.mark.parametrize("options, message", [
    ("{versionAsOf: latest}", r"input.options.versionAsOf' is 'latest': a Delta version is a whole number"),
    ("{VERSIONASOF: -1}", r"input.options.VERSIONASOF' is -1: a Delta version"),
    ("{timestampAsOf: 'last tuesday'}", r"input.options.timestampAsOf' is 'last tuesday', not a time"),
    # pandas reads these as times, Delta does not
    *[(f"{{timestampAsOf: '{text}'}}", f"input.options.timestampAsOf' is '{text}', not a time")
      for text in ("NaT", "", "now", "31/03/2024", "2024/03/31", "20240331", "2024 March 31")],
    ("{nullValue: [a]}", r"input.options.nullValue' is \['a'\], not text, a number, a time or true/false: quote it"),
    ("{password: [hunter2]}", r"input.options.password' is a secret's value, not text, a number"),  # not quoted
    ("{jdbc: {url: 'x', password: hunter2}}", r"input.options.jdbc' is a secret's value, not text"),  # nested deeper
    ("{versionAsOf: 3, timestampAsOf: '2024-01-01'}", r"sets both versionAsOf and timestampAsOf"),
])
def test_delta_time_travel_options_that_name_no_version_are_refused_before_the_table_is_opened(options, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["input.format=delta", "input.path=tables/sales", f"input.options={options}"])


def test_delta_time_travel_options_that_name_a_version_pass():
    for options in ("{versionAsOf: 3}", "{versionAsOf: '0'}", "{timestampAsOf: '2024-03-31 12:00:00'}",
                    "{timestampAsOf: 2024-03-31}", "{timestampAsOf: '2024-03-31T12:00:00.5+01:00'}",
                    # as Spark casts them too
                    "{timestampAsOf: '2024-03-31 12:00:00 UTC'}", "{timestampAsOf: '2024-3-1'}",
                    "{timestampAsOf: '2024-03'}", "{timestampAsOf: '2024-03-31 12:00:00 Europe/Paris'}",
                    "{timestampAsOf: '10000-01-01'}"):
        assert load_config(None, ["input.format=delta", "input.path=tables/sales", f"input.options={options}"]).input.options


def test_an_entry_of_input_options_or_spark_conf_is_text_as_typed_and_nested_ones_say_how_to_write_them(tmp_path):
    # YAML would read these as a list, a mapping or nothing valid; a reader option is text
    given = load_config(None, ["input.options.nullValue=-", "input.options.sep=,", "input.options.quote=\"",
                               "input.options.comment=?", "spark.conf.spark.executor.memory=4g"])
    assert given.input.options == {"nullValue": "-", "sep": ",", "quote": '"', "comment": "?"}
    assert given.spark.conf["spark.executor.memory"] == "4g"
    assert "nullValue" not in load_config(None, ["input.options.nullValue=-", "input.options.nullValue=null"]
                                          ).input.options  # null still removes an entry
    assert load_config(None, ["input.options.nullValue=NULL"]).input.options == {"nullValue": "NULL"}  # a marker
    # keys an anchor merges in may be given again beside it, however deep the merge
    assert read_yaml("a:\n  b: &B\n    <<: {k: 0, j: 1}\n    k: 1\ny:\n  <<: *B\n") == {
        "a": {"b": {"k": 1, "j": 1}}, "y": {"k": 1, "j": 1}}
    with pytest.raises(yaml.YAMLError, match="the key 'j' is given twice"):  # written twice beside a merge
        read_yaml("base: &B {k: 0}\nsec:\n  <<: *B\n  j: 1\n  j: 2\n")
    layer = tmp_path / "run.yaml"
    layer.write_text("spark:\n  conf:\n    spark: {executor: {memory: 4g}}\n")
    with pytest.raises(ConfigError, match="spark.conf.spark' is .* write each setting's full name as one key, "
                                          "e.g. 'spark.executor.memory'"):
        load_config(layer)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match=r"did you mean 'input.path'"):
        load_config(None, ["input.pathh=x"])


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")


def _leaf_keys(data, prefix=""):
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("search_space", "options", "conf"):
            yield from _leaf_keys(value, f"{name}.")
        else:
            yield name


def test_every_default_key_is_documented_in_conf_readme():
    documented = set(re.findall(r"`([a-z_]+\.[a-z_.]+)`", (ROOT / "conf" / "README.md").read_text()))
    missing = sorted(set(_leaf_keys(load_defaults())) - documented)
    assert not missing, f"conf/README.md does not document {missing}"


@pytest.mark.parametrize("path", sorted((ROOT / "conf").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    assert yaml.safe_load(path.read_text())
    load_config(path)


def test_the_readmes_example_config_is_valid_and_sets_what_it_shows(tmp_path):
    example = re.search(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL).group(1)
    path = tmp_path / "my_data.yaml"
    path.write_text(example)
    config = load_config(path)
    shown, defaults = yaml.safe_load(example), load_defaults()
    for section, values in shown.items():
        for key, value in values.items():
            assert getattr(getattr(config, section), key) == value != defaults[section][key], f"{section}.{key}"


def test_an_input_or_output_path_under_the_home_folder_is_expanded():
    config = load_config(None, ["input.path=~/sales.csv", "output.path=~/forecasts"])
    assert config.input.path == str(Path.home() / "sales.csv")
    assert config.output.path == str(Path.home() / "forecasts")


def test_a_config_file_without_input_path_says_the_job_reads_its_sample(tmp_path, caplog):
    (tmp_path / "tuning.yaml").write_text("input:\n  # path: sales.csv\n  format: csv\ntuning: {max_evals: 3}\n")
    assert load_config(tmp_path / "tuning.yaml").input.path == "sample"
    assert f"config file {tmp_path / 'tuning.yaml'} sets no input.path: the job reads its embedded sample" in caplog.text
    caplog.clear()
    load_config(tmp_path / "tuning.yaml", ["input.path=sales.csv"])  # given on the command line: nothing to say
    assert "sets no input.path" not in caplog.text
    for given in ("input={path: sales.csv}", "input.path =sales.csv"):  # a mapping, or a space before the =
        load_config(tmp_path / "tuning.yaml", [given])
        assert "sets no input.path" not in caplog.text


def test_a_config_path_that_is_a_folder_empty_or_unreadable_is_a_configuration_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="--config is empty"):
        load_config("")
    # a relative one not there: where it was looked for (spark-submit's --files reaches no client-mode driver)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"config file not found: m4_hourly.yaml \\(in {tmp_path}, the folder the job "
                                          "runs in\\)"):
        load_config("m4_hourly.yaml")
    with pytest.raises(ConfigError, match=f"config file not found: {tmp_path / 'nope.yaml'}$"):
        load_config(tmp_path / "nope.yaml")
    # a file truncated on its way out, or all commented out: the job ran (and published) its embedded sample
    for text in ("", "# input:\n#   path: sales.csv\n", "{}\n"):
        (tmp_path / "empty.yaml").write_text(text)
        with pytest.raises(ConfigError, match=f"config file {tmp_path / 'empty.yaml'} is empty \\(or only comments\\): "
                                              "a config sets at least input.path; without --config the job runs"):
            load_config(tmp_path / "empty.yaml")
    layer = tmp_path / "run.yaml"
    layer.write_text("forecast: {horizon: 5}\n")

    readable = Path.read_text

    def refused(self, *args, **kwargs):
        if self == layer:
            raise PermissionError(13, "Permission denied")
        return readable(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refused)  # as chmod 000 does to another user than root
    with pytest.raises(ConfigError, match="cannot read config file .*run.yaml: Permission denied"):
        load_config(layer)


def test_a_config_read_from_a_pipe_as_a_shells_process_substitution_gives_it_is_read():
    # bash's --config <(...) passes /dev/fd/63, which is no regular file
    read_end, write_end = os.pipe()
    os.write(write_end, b"forecast: {horizon: 5}\n")
    os.close(write_end)
    try:
        assert load_config(f"/dev/fd/{read_end}").forecast.horizon == 5
    finally:
        os.close(read_end)


@pytest.mark.parametrize("value", ["@Xy9s3cr3t/abc", "*Xy9s3cr3t", "!Xy9s3cr3t abc"])  # the line, an alias, a tag
def test_a_yaml_error_says_where_without_quoting_the_line_which_may_hold_a_secret(tmp_path, value):
    layer = tmp_path / "secret.yaml"
    layer.write_text(f"spark:\n  conf:\n    spark.hadoop.fs.s3a.secret.key: {value}\n")
    with pytest.raises(ConfigError) as error:
        load_config(layer)
    assert "line 3, column 37" in str(error.value) and "Xy9s3cr3t" not in str(error.value)
    with pytest.raises(ConfigError) as error:  # what to fix stays said
        load_config(None, ["forecast.horizon=[1"])
    assert "value '[1' is not valid YAML: while parsing a flow sequence, expected ',' or ']'" in str(error.value)



def test_a_yaml_error_found_a_line_after_its_cause_names_the_line_it_began_on(tmp_path):
    layer = tmp_path / "colon.yaml"
    layer.write_text("forecast:\n  frequency: D\n  horizon 6\nmodel:\n  growth: linear\n")  # no colon on line 3
    with pytest.raises(ConfigError, match=r"while scanning a simple key begun at line 3, column 3, could not find "
                                          r"expected ':' at line 4, column 1"):
        load_config(layer)


@pytest.mark.parametrize("override, message", [
    ("tuning.search_space.changepoint_prior_scale.high=.inf", "high' must be a positive number"),
    ("tracking.uri=http://", "names no host"),
    ("tracking.timeout_seconds=999999999999", "at most 86400"),
    ("forecast.frequency=H", "is 'H', an alias pandas is removing: 'H' is deprecated .* please use 'h' instead"),
    ("forecast.frequency=M", "please use 'ME' instead"),
    # quarters dated by their first day (as a statistics office's 2019Q3 becomes) are QS, not pandas' QE
    ("forecast.frequency=Q", r"please use 'QE' instead \(dated by the period's last day, 2024-03-31; 'QS' dates it by "
                             r"its first, 2024-01-01\)"),
    ("forecast.frequency=BH", "counts business hours"),  # not "use 'bh'", refused too
    ("forecast.frequency=2M", "several calendar periods a step"),  # not "use 'ME'": 2ME is refused too
    # a word, or a close misspelling, gets pandas' alias
    ("forecast.frequency=weekly", r"not a pandas frequency with a positive step \(did you mean '7D'\? 7D dates a "
                                  r"week by its first day, W-SUN by its Sunday\)"),
    ("forecast.frequency=Monthly", r"\(did you mean 'MS'\?\)"),
    ("forecast.frequency=W-MONDAY", r"\(did you mean 'W-MON'\?\)"),
    ("forecast.frequency=xyz", r"\(e.g. h, D, 7D, W-SUN, MS\)"),
    ("input.key_columns=store,item", r"expects a list, got 'store,item': write \[store,item\] \(YAML's list\)"),
    ("input.key_columns='store item'", r"expects a list, got 'store item': write \[store,item\]"),
    ("input.key_columns=7", r"expects a list, got 7$"),  # nothing to suggest
    ("forecast.frequency=weeks", r"\(did you mean '7D'\?"),
    ("forecast.frequency=mon", r"\(e.g. h, D, 7D, W-SUN, MS\)"),  # not 'min', minutes
    ("model.country_holidays=us", r"not a known country \(did you mean 'US'\?\)"),
    # a column that is no key could differ within a series
    ("model.country_holidays_column=stor", r"is 'stor', not one of input.key_columns \['store', 'item'\] \(did you "
                                           r"mean 'store'\?\): a column .* belongs in input.key_columns too"),
    ("selection.candidates=[naive, naive]", "names a model twice"),
    ("input.time_column=' '", "must name a column, not be blank"),
    ("tracking.experiment=' sales'", "spaces around a name make it another experiment"),
    ("tracking.registered_model=\"a\\nb\"", "control character"),
    ("tracking.registered_model=" + "m" * 256, "256 bytes long: at most 255"),
    ("input.format=table", "is 'sample', the embedded sample's name, which input.format table does not read"),
    ("output.path=~no-such-user-here/out", "no home folder for '~no-such-user-here'"),
    # silently ignored before: one spelling of an option dropped, a Delta pin on a parquet reader, values of a range
    ("input.options={sep: ';', SEP: ','}", "sets sep and SEP: Spark reads an option's name in any case"),
    ("input.options.versionAsOf=3", r"sets \['versionAsOf'\], which pin a Delta table's version: input.format is csv"),
    ("tuning.search_space.changepoint_prior_scale.values=[0.01, 0.1]", "are read with distribution choice only"),
])
def test_values_that_would_fail_after_spark_started_are_refused_first(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


@pytest.mark.parametrize("override, hint", [
    ("forecast.horizon='10'", "a number in quotes is text: write it without the quotes"),
    ("forecast.horizon=45d", "got '45d' (a number without a unit: it counts periods of forecast.frequency)"),
    ("cross_validation.folds=3 folds", "got '3 folds' (a number without a unit)"),
    ("tracking.timeout_seconds=30s", "got '30s' (a number without a unit)"),
    ("output.path=~", "YAML reads ~ and an empty value as null: quote a path"),
])
def test_a_values_type_error_says_what_yaml_made_of_it(override, hint):
    with pytest.raises(ConfigError, match=re.escape(hint)):
        load_config(None, [override])


def test_an_output_path_inside_a_file_is_refused(tmp_path):
    # Spark failed its first write with ParentNotDirectoryException, after the input and the parent run
    taken = tmp_path / "taken"
    taken.write_text("x")
    for path in (taken, taken / "out", f"file:{taken}/out", f"file://{taken}/out"):
        with pytest.raises(ConfigError, match=f"but {taken} is a file, not a folder"):
            load_config(None, [f"output.path={path}"])
    assert load_config(None, [f"output.path={tmp_path / 'new' / 'out'}"])  # a folder to be made
    assert load_config(None, [f"output.path=hdfs://namenode:8020{taken}"])  # the cluster's to check


def test_a_file_uri_of_two_slashes_before_a_relative_path_is_refused(tmp_path):
    # file://out was read as the folder the job started in (its tables written there), and as a
    # tracking store the project's own folders became "malformed experiments"
    for key in ("output.path", "tracking.uri", "input.path"):
        for value in ("file://out_rel", "file://otherhost/data/out"):
            host = value.split("/")[2]
            with pytest.raises(ConfigError, match=f"config key '{key}' is '{value}', whose two slashes make '{host}' "
                                                  "a host name, not a folder: write file:///<absolute path>"):
                load_config(None, [f"{key}={value}"])
    with pytest.raises(ConfigError, match="'file://C:/out', whose two slashes make 'C:' a host name, not a drive"):
        load_config(None, ["output.path=file://C:/out"])
    # a user's password before the host: named in no message (nor the log or summary file quoting it)
    with pytest.raises(ConfigError,
                       match=r"'file://u:\(redacted\)@host/x', whose two slashes make 'host' a host") as said:
        load_config(None, ["tracking.uri=file://u:SECRETPW@host/x"])
    assert "SECRETPW" not in str(said.value)
    for value in ("file://", "file://localhost"):  # read as the working folder too
        with pytest.raises(ConfigError, match=f"is '{value}', which names no folder"):
            load_config(None, [f"output.path={value}"])
    for value in (f"file://{tmp_path}/out", f"file:{tmp_path}/out", f"file://localhost{tmp_path}/out", "file:out",
                  f"file://LOCALHOST{tmp_path}/out"):
        assert load_config(None, [f"output.path={value}", f"tracking.uri={value}"])


def test_an_output_path_inside_a_delta_table_is_refused(tmp_path):
    # the job's tables were written into the folder of a table (its own forecasts, say), beside its _delta_log
    (tmp_path / "out" / "forecasts" / "_delta_log").mkdir(parents=True)
    for path in (tmp_path / "out" / "forecasts", tmp_path / "out" / "forecasts" / "new"):
        with pytest.raises(ConfigError, match=f"is '{path}', inside the Delta table {tmp_path / 'out' / 'forecasts'}"):
            load_config(None, [f"output.path={path}"])
    assert load_config(None, [f"output.path={tmp_path / 'out'}"])  # the folder that holds the tables


def test_a_tracking_database_needs_its_folder_and_its_driver(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="is a SQLite file in .*missing, which is not a folder"):
        load_config(None, [f"tracking.uri=sqlite:///{tmp_path / 'missing' / 'runs.db'}"])
    assert load_config(None, [f"tracking.uri=sqlite:///{tmp_path / 'runs.db'}"])
    from forecasting import config_stores

    asked = []
    monkeypatch.setattr(config_stores, "_importable", lambda module: asked.append(module) and False)  # none installed
    for uri, module, package in (("postgresql://u@db/runs", "psycopg2", "psycopg2-binary"),
                                 ("postgresql+pg8000://u@db/runs", "pg8000", "pg8000"),
                                 ("mysql+mysqlconnector://u@db/runs", "mysql.connector", "mysql-connector-python"),
                                 ("mssql://db/runs", "pyodbc", "pyodbc")):
        with pytest.raises(ConfigError, match=f"needs the database driver {module}, which is not installed: "
                                              f"pip install {re.escape(package)}"):
            load_config(None, [f"tracking.uri={uri}"])
        assert asked.pop() == module
    assert not config_stores._importable("mysql.connector.no_such_module")  # a parent package missing: no error


@pytest.mark.parametrize(
    "override, key",
    [
        # one key column named twice: Spark's select would make two columns of one name, after Spark started
        ("input.key_columns=[store, store]", "input.key_columns"),
        # patience 0 read as "off" by tuning: a value the docs refuse, silently running max_evals
        ("tuning.patience=0", "tuning.patience"),
        # every request to the tracking server would time out at once
        ("tracking.timeout_seconds=0", "tracking.timeout_seconds"),
        # https as much as http: MLflow fails such a URI only after Spark started
        ("tracking.uri=https:///mlflow", "tracking.uri"),
        # 130 characters, 260 bytes in UTF-8: the file store's folder name takes 255 bytes
        (f"tracking.registered_model={'é' * 130}", "tracking.registered_model"),
    ],
)
def test_more_bad_values_name_the_key(override, key):
    with pytest.raises(ConfigError) as error:
        load_config(None, [override])
    assert f"'{key}" in str(error.value)


def test_the_ends_of_the_documented_ranges_are_accepted():
    # a run that never fails for its failed series' share; the longest request timeout the docs allow
    config = load_config(None, ["reliability.max_failed_share=1", "tracking.timeout_seconds=86400"])
    assert config.reliability.max_failed_share == 1 and config.tracking.timeout_seconds == 86400
    assert load_config(None, ["tracking.registered_model=" + "m" * 255]).tracking.registered_model == "m" * 255


def test_yy_in_quoted_text_is_no_two_digit_year():
    assert load_config(None, ["input.time_format=\"yyyy-MM-dd'yy'\""]).input.time_format == "yyyy-MM-dd'yy'"


def test_spark_sqls_shuffle_partitions_in_spark_conf_is_refused_for_the_jobs_own_key():
    # the training and scoring stages set it from spark.shuffle_partitions: it had been overridden there unseen
    with pytest.raises(ConfigError, match="spark.conf.spark.sql.shuffle.partitions.* from spark.shuffle_partitions .*: set that instead"):
        load_config(None, ["spark.conf.spark.sql.shuffle.partitions=64"])
    assert load_config(None, ["spark.shuffle_partitions=64"]).spark.shuffle_partitions == 64


def test_a_misspelt_reader_option_or_delta_pin_is_refused_with_the_name_spark_knows():
    csv = ["input.path=sales.csv", "input.format=csv"]
    with pytest.raises(ConfigError, match=r"'input.options.delimeter' is not an option of Spark's csv reader, "
                                          r"which would ignore it: did you mean 'delimiter'\?"):
        load_config(None, [*csv, "input.options.delimeter=;"])
    with pytest.raises(ConfigError, match=r"'input.options.mergeSchemas' .* did you mean 'mergeSchema'\?"):
        load_config(None, ["input.path=sales.parquet", "input.format=parquet", "input.options.mergeSchemas=true"])
    # a Delta pin mistyped: Delta read the latest version, unsaid
    delta = ["input.path=sales", "input.format=delta"]
    for typo in ("version_as_of", "versionAsOff", "timestamp_as_of"):
        with pytest.raises(ConfigError, match=rf"'input.options.{typo}' is not an option of Spark's delta reader, "
                                              r"which would ignore it: did you mean '(versionAsOf|timestampAsOf)'\?"):
            load_config(None, [*delta, f"input.options.{typo}=0"])
    assert load_config(None, [*delta, "input.options.readChangeFeed=false"]).input.options == {"readChangeFeed": "false"}
    assert load_config(None, [*delta, "input.options.versionasof=0"]).input.options == {"versionasof": 0}
    # Spark reads an option's name in any case; a name like none of the reader's is Hadoop's to read
    assert load_config(None, [*csv, "input.options.SEP=;"]).input.options == {"SEP": ";"}
    assert load_config(None, [*csv, "input.options.fs_impl_cache=false"]).input.options == {"fs_impl_cache": "false"}


def test_a_target_or_time_column_that_is_also_a_key_names_the_setting_and_why():
    with pytest.raises(ConfigError, match=r"'input.key_columns' and input.target_column both name 'item': a column is a key, the "
                                          r"time or the target, not two of them"):
        load_config(None, ["input.target_column=item"])
    with pytest.raises(ConfigError, match=r"'input.key_columns' and input.time_column both name 'store'"):
        load_config(None, ["input.time_column=store"])
    # Spark reads column names whatever their letter case: refused before it starts, not after the input is read
    with pytest.raises(ConfigError, match=r"'input.key_columns' and input.target_column both name 'Store'"):
        load_config(None, ["input.target_column=Store"])
    with pytest.raises(ConfigError, match=r"'input.key_columns' has duplicates \(\['store', 'Store'\]"):
        load_config(None, ["input.key_columns=[store, Store]"])
    with pytest.raises(ConfigError, match=r"'input.target_column' must differ from time_column"):
        load_config(None, ["input.time_column=Day", "input.target_column=day"])


def test_a_secret_in_the_config_or_a_dotted_key_in_a_file_says_where_it_belongs(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'tracking.token': a tracking server's secrets are read "
                                          "from the environment: MLFLOW_TRACKING_TOKEN, or"):
        load_config(None, ["tracking.token=abc"])
    with pytest.raises(ConfigError, match=r"unknown config key 'input.password': a secret is no key of the config's "
                                          r"own: a reader's goes under input.options"):
        load_config(None, ["input.password=abc"])
    # a dotted name under a setting that holds a value, not a section: only the close match to say
    (tmp_path / "scalar.yaml").write_text("forecast:\n  horizon.days: 3\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'forecast.horizon.days' \(did you mean "
                                          r"'forecast.horizon'\?\) \[in config file .*scalar.yaml\]$"):
        load_config(tmp_path / "scalar.yaml")
    (tmp_path / "dotted.yaml").write_text("forecast.horizon: 7\n")  # --set's spelling, in a file: one key's name
    with pytest.raises(ConfigError, match=r"unknown config key 'forecast.horizon' \(in a YAML file a dotted key is one "
                                          r"name: nest it, 'forecast:' then 'horizon:' under it"):
        load_config(tmp_path / "dotted.yaml")
    from forecasting import redaction, spark_session

    # a bearer token in a Hadoop setting's name: left out of the run's params and saved config, as a token is
    assert redaction.SECRET_NAME.search("spark.hadoop.my.auth.bearer")
    assert redaction.SECRET_NAME.search("spark.hadoop.fs.x.auth.header")
    # an ODBC or JDBC password, a passphrase, an Azure connection string (holding its account key) or storage key
    for name in ("spark.hadoop.javax.jdo.option.ConnectionPWD", "input.options.pwd", "spark.hadoop.ssl.passphrase",
                 "spark.executorEnv.PGPASSWORD", "spark.executorEnv.PGPASSFILE",
                 "spark.executorEnv.AZURE_STORAGE_CONNECTION_STRING", "spark.executorEnv.AZURE_STORAGE_KEY"):
        assert redaction.SECRET_NAME.search(name), name
        assert re.search(spark_session.JOB_DEFAULTS["spark.redaction.regex"], name), name  # hidden in Spark's UI too
    # names that help reading the record: the kind of authentication, not a secret
    for name in ("spark.sql.shuffle.partitions", "spark.hadoop.fs.azure.account.auth.type", "spark.authenticate",
                 "spark.hadoop.google.cloud.auth.service.account.enable"):
        assert not redaction.SECRET_NAME.search(name), name


def test_a_key_given_without_its_section_is_named_with_it():
    with pytest.raises(ConfigError, match=r"unknown config key 'horizon' \(did you mean 'forecast.horizon'\?\)"):
        load_config(None, ["horizon=12"])
    with pytest.raises(ConfigError, match=r"unknown config key 'tuning.horizon' \(did you mean 'forecast.horizon'\?\)"):
        load_config(None, ["tuning.horizon=12"])
    with pytest.raises(ConfigError, match=r"unknown config key 'gaps' \(did you mean 'cleaning.gaps'\?\)"):
        load_config(None, ["gaps=zero"])
    with pytest.raises(ConfigError, match=r"unknown config key 'horizn' \(did you mean 'forecast.horizon'\?\)"):
        load_config(None, ["horizn=12"])
    with pytest.raises(ConfigError, match=r"unknown config key 'input.delimiter' \(a Spark reader option goes under "
                                          r"input.options: 'input.options.delimiter'\)"):
        load_config(None, ["input.delimiter=;"])
    with pytest.raises(ConfigError, match=r"unknown config key 'no_such_thing' \[given by --set no_such_thing\]$"):
        load_config(None, ["no_such_thing=1"])
    with pytest.raises(ConfigError, match=r"unknown config key 'delimiter' \[given"):  # like no key closely enough
        load_config(None, ["delimiter=;"])
    # a section's key like none of its keys: what the section takes
    with pytest.raises(ConfigError, match=r"unknown config key 'output.partition_by' \(output has format, path, "
                                          r"table_prefix\) \[given"):
        load_config(None, ["output.partition_by=day"])


def test_an_unknown_key_says_whether_the_file_or_a_set_gave_it(tmp_path):
    # a long scheduler command line over a file shared by jobs: which of them to edit
    (tmp_path / "job.yaml").write_text("input:\n  path: data.csv\ntuning:\n  max_evalz: 3\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'tuning.max_evalz' \(did you mean "
                                          r"'tuning.max_evals'\?\) \[in config file .*job.yaml\]$"):
        load_config(tmp_path / "job.yaml", ["forecast.horizon=7"])
    # a --set's key alone: its value may be a secret
    with pytest.raises(ConfigError, match=r"unknown config key 'tracking.token'.* \[given by --set tracking.token\]$"):
        load_config(None, ["forecast.horizon=7", "tracking.token=s3cr3t"])
    # a whole unknown section named by a --set's longer key
    with pytest.raises(ConfigError, match=r"unknown config key 'trackng' .*\[given by --set trackng.uri\]$") as said:
        load_config(None, ["trackng.uri=http://h:5000"])
    assert "http://h" not in str(said.value)
    # a --set of a whole section holding it
    with pytest.raises(ConfigError, match=r"unknown config key 'cleaning.spikez' .*\[given by --set cleaning\]$"):
        load_config(tmp_path / "job.yaml", ["cleaning={spikez: keep}"])


def test_a_delta_inputs_version_without_a_pin_is_the_run_dates_or_the_latest():
    assert load_config(None, ["input.delta_as_of=latest"]).input.delta_as_of == "latest"
    with pytest.raises(ConfigError, match=r"'input.delta_as_of' is 'yesterday': it must be one of \('run_date', "
                                          r"'latest'\)"):
        load_config(None, ["input.delta_as_of=yesterday"])


def test_stale_after_is_a_number_of_periods_or_null():
    assert load_config(None, ["cleaning.stale_after=28"]).cleaning.stale_after == 28
    assert load_config(None, []).cleaning.stale_after is None
    with pytest.raises(ConfigError, match=r"'cleaning.stale_after' is 0: a number of periods, 1 or more"):
        load_config(None, ["cleaning.stale_after=0"])


def test_unsettled_periods_are_a_count_from_zero():
    assert load_config(None, []).cleaning.unsettled_periods == 0
    with pytest.raises(ConfigError, match=r"'cleaning.unsettled_periods' is -1: a number of periods, 0 or more"):
        load_config(None, ["cleaning.unsettled_periods=-1"])


def test_the_configs_model_names_are_the_models_the_code_has():
    # a baseline added to the code but not to the config's lists (or the reverse) is refused, or fails late
    from forecasting.baselines import BASELINES
    from forecasting.config_schema import CANDIDATES, FALLBACKS
    from forecasting.model_store import ENSEMBLE

    assert set(FALLBACKS) == set(BASELINES)
    assert set(CANDIDATES) == {"prophet", ENSEMBLE, *BASELINES}


def test_mlflows_own_tracking_uri_variable_is_taken_where_neither_the_config_nor_set_names_a_store(tmp_path,
                                                                                                    monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", " http://mlflow.example:5000 ")
    assert load_config(None, []).tracking.uri == "http://mlflow.example:5000"
    # a config file with a tracking section that leaves uri out takes it too; one naming a store keeps its own
    (tmp_path / "experiment.yaml").write_text("tracking:\n  experiment: nightly\n")
    assert load_config(tmp_path / "experiment.yaml").tracking.uri == "http://mlflow.example:5000"
    (tmp_path / "store.yaml").write_text("tracking:\n  uri: sqlite:///mlflow.db\n")
    assert load_config(tmp_path / "store.yaml").tracking.uri == "sqlite:///mlflow.db"
    assert load_config(None, ["tracking.uri=mlruns"]).tracking.uri == "mlruns"
    assert load_config(None, ["tracking={uri: other-runs}"]).tracking.uri == "other-runs"
    # a store the user never named, refused, says where it came from
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks")
    with pytest.raises(ConfigError, match=r"'tracking.experiment' is 'many-model-forecasting'.*\[tracking.uri is the "
                                          r"environment's MLFLOW_TRACKING_URI"):
        load_config(None, [])
    assert load_config(None, ["tracking.experiment=/Shared/forecasts"]).tracking.uri == "databricks"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # set but empty: as if not set
    assert load_config(None, []).tracking.uri == "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")  # a section that is no mapping: said
    with pytest.raises(ConfigError, match="tracking: expected a mapping"):
        load_config(None, ["tracking=oops"])


def test_a_store_the_process_used_before_is_not_taken_for_the_users_variable(tmp_path, monkeypatch):
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: a second job in a notebook, naming no store, had gone
    # to the first one's
    import mlflow

    from forecasting import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    other = (tmp_path / "other-store").as_uri()
    tracking.client(other)
    assert mlflow.get_tracking_uri() == other  # MLflow's own calls in this process still use it
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert load_config(None, []).tracking.uri == "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")  # the user's own stays theirs
    tracking.client(other)
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.example:5000"


@pytest.mark.parametrize("master, output_path, tracking_uri, warned", [
    ("local[2]", "out", "mlruns", []),
    ("local-cluster[2,1,1024]", "out", "sqlite:///mlflow.db", []),
    ("spark://m:7077", "out", "mlruns", ["output.path", "tracking.uri"]),
    ("yarn", "hdfs://nn/out", "sqlite:///mlflow.db", ["tracking.uri"]),
    ("k8s://https://api:6443", "file:///mnt/shared/out", "file:///mnt/shared/mlruns", []),
    ("spark://m:7077", "s3a://bucket/out", "databricks", []),
    ("spark://m:7077", "abfss://c@a.dfs.core.windows.net/out", "http://tracking:5000", []),
])
def test_bare_local_paths_are_warned_about_under_a_master_whose_executors_run_elsewhere(master, output_path,
                                                                                       tracking_uri, warned):
    from forecasting.config_stores import cluster_path_warnings

    found = cluster_path_warnings(master, output_path, tracking_uri)
    assert [line.split()[0] for line in found] == warned
    assert all(master in line for line in found)
