"""How the session's settings and master are chosen, without starting Spark."""
import logging

import pytest

from forecasting.config import load_config
from forecasting.spark_session import (
    DELTA_CATALOG_KEY, DELTA_CONF, JOB_DEFAULTS, build_session, session_conf, with_task_retries,
)

SEDONA = "org.apache.sedona.sql.SedonaSqlExtensions"
ICEBERG = "org.apache.iceberg.spark.SparkSessionCatalog"
DELTA_EXTENSION = DELTA_CONF["spark.sql.extensions"]


@pytest.mark.parametrize("master, expected", [
    ("local", "local[1,4]"), ("local[2]", "local[2,4]"), ("local[*]", "local[*,4]"),
    ("local[2,3]", "local[2,3]"), ("local-cluster[2,1,1024]", "local-cluster[2,1,1024]"),
    ("spark://master:7077", "spark://master:7077"), ("yarn", "yarn"),
])
def test_a_local_master_without_a_failure_count_gets_task_retries(master, expected):
    assert with_task_retries(master) == expected


def test_a_given_task_failure_count_is_the_local_masters():
    assert with_task_retries("local[2]", "6") == "local[2,6]"


def test_without_given_settings_the_session_gets_the_jobs_and_deltas():
    conf, warnings = session_conf(load_config(None, ["output.format=delta"]), {})
    assert conf == {**JOB_DEFAULTS, **DELTA_CONF} and warnings == []
    conf, _ = session_conf(load_config(None, ["output.format=parquet", "input.format=csv"]), {})
    assert conf == JOB_DEFAULTS


def test_the_configs_spark_settings_are_texts_spark_reads_whole_numbers_and_flags_included():
    config = load_config(None, ["spark.conf={spark.sql.autoBroadcastJoinThreshold: 1e5, spark.sql.ansi.enabled: true, "
                                "spark.memory.fraction: 0.5}"])
    conf, _ = session_conf(config, {})
    assert (conf["spark.sql.autoBroadcastJoinThreshold"], conf["spark.sql.ansi.enabled"],
            conf["spark.memory.fraction"]) == ("100000", "true", "0.5")


def test_settings_given_to_spark_submit_are_kept_or_replaced_with_a_warning():
    given = {
        "spark.sql.extensions": f" {SEDONA} ,", DELTA_CATALOG_KEY: ICEBERG,
        "spark.sql.session.timeZone": "Europe/Paris", "spark.python.worker.reuse": "false",
        "spark.sql.execution.arrow.pyspark.enabled": JOB_DEFAULTS["spark.sql.execution.arrow.pyspark.enabled"],
    }
    conf, warnings = session_conf(load_config(None, ["output.format=delta"]), given)
    assert conf["spark.sql.extensions"] == f"{SEDONA},{DELTA_EXTENSION}"
    assert conf[DELTA_CATALOG_KEY] == ICEBERG
    assert conf["spark.sql.session.timeZone"] == "UTC"  # the job's times rely on it
    assert conf["spark.python.worker.reuse"] == "false"
    assert conf["spark.ui.showConsoleProgress"] == JOB_DEFAULTS["spark.ui.showConsoleProgress"]
    [zone, catalog] = warnings  # one for each value left out or replaced, none for the rest
    assert catalog.startswith(f"{DELTA_CATALOG_KEY}={ICEBERG} (given to spark-submit) is kept")
    assert DELTA_CONF[DELTA_CATALOG_KEY] in catalog
    assert zone.startswith("spark.sql.session.timeZone=Europe/Paris (given to spark-submit) is replaced by UTC")


def test_an_extension_list_holding_deltas_is_left_as_it_is():
    given = {"spark.sql.extensions": f"{DELTA_EXTENSION},{SEDONA}"}
    conf, warnings = session_conf(load_config(None, ["output.format=delta"]), given)
    assert conf["spark.sql.extensions"] == f"{DELTA_EXTENSION},{SEDONA}" and warnings == []


def test_the_job_configs_spark_conf_wins_over_everything_without_a_warning():
    config = load_config(None, ["output.format=delta", "spark.conf.spark.sql.session.timeZone=Europe/Paris",
                                f"spark.conf.spark.sql.extensions={SEDONA}"])
    given = {"spark.sql.session.timeZone": "America/New_York", "spark.sql.extensions": "x.Other"}
    conf, warnings = session_conf(config, given)
    assert conf["spark.sql.session.timeZone"] == "Europe/Paris"
    assert conf["spark.sql.extensions"] == SEDONA and warnings == []


def test_sparks_environment_page_and_event_log_hide_the_keys_the_runs_record_leaves_out(spark):
    # Spark's own default missed an Azure account key given in the config's spark.conf
    regex = spark.sparkContext.getConf().get("spark.redaction.regex")
    pattern = spark.sparkContext._jvm.java.util.regex.Pattern.compile(regex)  # as the JVM reads it
    hidden = ["spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net", "spark.hadoop.fs.s3a.secret.key",
              "spark.hadoop.fs.azure.sas.container.acct.blob.core.windows.net", "spark.executorEnv.MLFLOW_TRACKING_TOKEN",
              "spark.hadoop.fs.s3a.access.key", "spark.hadoop.my.auth.bearer"]
    assert [key for key in hidden if not pattern.matcher(key).find()] == []
    assert not pattern.matcher("spark.sql.shuffle.partitions").find()
    conf, _ = session_conf(load_config(None, []), {"spark.redaction.regex": "(?i)mine"})
    assert conf["spark.redaction.regex"] == "(?i)mine"  # a cluster's own stays


def test_a_session_already_running_is_used_with_the_settings_spark_can_still_change(spark, caplog):
    # a notebook's or Databricks' session: its master stays, runtime settings are set on it,
    # and a setting Spark fixes at start that the session lacks is named, not silently dropped
    config = load_config(None, ["spark.conf.spark.sql.files.maxPartitionBytes=64m",
                                "spark.conf.fs.s3a.path.style.access=true",
                                "spark.conf.spark.python.worker.reuse=false",
                                "spark.conf.spark.sql.files.maxPartitionByte=64m",
                                f"spark.conf.spark.sql.extensions={SEDONA}"])
    try:
        with caplog.at_level(logging.INFO, logger="forecasting.spark_session"):
            session = build_session("another-name", config)
        assert session is spark
        # a session's setting, and a Hadoop option (which the session's Hadoop configuration takes)
        assert session.conf.get("spark.sql.files.maxPartitionBytes") == "64m"
        assert session._jsparkSession.sessionState().newHadoopConf().get("fs.s3a.path.style.access") == "true"
        assert session.sparkContext.getConf().get("spark.python.worker.reuse") == "true"
        messages = [record.getMessage() for record in caplog.records]
        assert not [text for text in messages if "master is" in text]  # no master asked of it
        fixed = [text for text in messages if "started without these settings" in text]
        assert len(fixed) == 1
        assert f"spark.python.worker.reuse=false, spark.sql.extensions={SEDONA};" in fixed[0]
        assert "maxPartitionBytes" not in fixed[0] and "fs.s3a" not in fixed[0]
        assert [text for text in messages if "maxPartitionByte is no setting this Spark registers" in text]
        # local[2] without a failure count: one attempt a task, said
        assert [text for text in messages if "master local[2] gives each task one attempt" in text]
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")  # for the tests after
        spark.conf.unset("spark.sql.files.maxPartitionByte")
        spark.conf.unset("fs.s3a.path.style.access")
        spark.sparkContext.setLogLevel("ERROR")


def test_settings_of_the_drivers_jvm_given_in_the_config_are_said_to_need_spark_submit():
    from forecasting.spark_session import launch_warnings

    own = load_config(None, ["spark.conf.spark.driver.memory=3g", "spark.conf.spark.executor.memory=4g"]).spark.conf
    assert launch_warnings(own, "local[2,4]") == [
        "spark.conf.spark.driver.memory has no effect: spark-submit started the driver's JVM before the job read its "
        "config; give spark-submit --driver-memory 3g",
        "spark.conf.spark.executor.memory has no effect on the local master local[2,4]: its executor runs in the "
        "driver's JVM, which spark-submit --driver-memory sizes"]
    assert launch_warnings(own, "spark://master:7077") == launch_warnings(own, "local[2,4]")[:1]  # executors of their own
    assert launch_warnings({}, "local[2]") == []
    assert launch_warnings(own, "local-cluster[2,1,1024]") == launch_warnings(own, "local")[:1]  # JVMs of their own


def test_pyspark_records_no_python_call_sites_unless_given_to_debug_a_query():
    # recording them cost every DataFrame and Column call of the driver 4 ms against 1
    debugging = "spark.python.sql.dataFrameDebugging.enabled"
    conf, _ = session_conf(load_config(None, []), {})
    assert conf[debugging] == "false"
    conf, warnings = session_conf(load_config(None, []), {debugging: "true"})
    assert conf[debugging] == "true" and warnings == []


def test_sparks_info_log_is_left_out_from_the_sessions_start_unless_given_to_debug_spark():
    conf, _ = session_conf(load_config(None, []), {})
    assert conf["spark.log.level"] == "WARN"
    conf, warnings = session_conf(load_config(None, []), {"spark.log.level": "INFO"})
    assert conf["spark.log.level"] == "INFO" and warnings == []


def test_a_running_session_gets_the_configs_log_level_or_warn_which_spark_sets_at_any_time(spark, caplog):
    root = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getRootLogger()
    try:
        with caplog.at_level(logging.INFO, logger="forecasting.spark_session"):
            build_session("t", load_config(None, ["spark.conf.spark.log.level=INFO"]))
        assert str(root.getLevel()) == "INFO"
        assert "spark.log.level" not in caplog.text  # not said to be left out: it was set
        build_session("t", load_config(None, []))
        assert str(root.getLevel()) == "WARN"
    finally:
        spark.sparkContext.setLogLevel("ERROR")


def test_a_running_session_recording_call_sites_keeps_them_without_a_word(spark, caplog):
    # a notebook's session, started without the job's settings: Spark fixes this one at start
    from forecasting.spark_session import _running_session

    debugging = "spark.python.sql.dataFrameDebugging.enabled"

    class Started:  # the running context as the job reads it: its master and the settings it started with
        master = spark.sparkContext.master

        def getConf(self):
            return Settings()

    class Settings:
        def getAll(self):
            return [(key, value) for key, value in spark.sparkContext.getConf().getAll() if key != debugging]

    with caplog.at_level(logging.INFO, logger="forecasting.spark_session"):
        assert _running_session(load_config(None, []), Started()) is spark
        _running_session(load_config(None, [f"spark.conf.{debugging}=false"]), Started())  # asked for: said
    said = [record.getMessage() for record in caplog.records if "started without these settings" in record.getMessage()]
    assert len(said) == 1 and f"{debugging}=false" in said[0]


def test_a_spark_setting_a_letter_or_two_off_one_spark_knows_is_warned_of(spark):
    # Spark takes any key: spark.executor.memroy=4g had left the executors at Spark's 1g, unsaid
    from forecasting.spark_session import mistyped_settings

    given = {"spark.sql.shuffle.partition": "4", "spark.executor.memroy": "4g", "spark.sql.shuffle.partitions": "4",
             "spark.myplugin.threads": "2", "spark.yarn.executor.memoryOverhead": "1g", "fs.s3a.endpoint": "x"}
    assert mistyped_settings(spark, given) == [
        "spark.conf.spark.sql.shuffle.partition is no setting this Spark registers, which it takes to no effect (unless "
        "an old name it still reads): did you mean spark.shuffle_partitions (the job sets spark.sql.shuffle.partitions "
        "from it)?",
        "spark.conf.spark.executor.memroy is no setting this Spark registers, which it takes to no effect (unless an "
        "old name it still reads): did you mean spark.executor.memory?"]
    assert mistyped_settings(spark, {"spark.sql.adaptive.enabled": "true"}) == []
