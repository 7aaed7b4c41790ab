"""The jobs' command-line front: exit codes, and the session left to the JVM to stop."""
import logging

import pytest

from forecasting import cli, io, pipeline, tracking


class RecordingSession:
    """Stands in for the SparkSession that cli.run_job builds; records stop()."""

    stopped = False

    def stop(self):
        self.stopped = True


@pytest.fixture
def session(monkeypatch):
    made = RecordingSession()
    monkeypatch.setattr(cli, "build_session", lambda app_name, config: made)
    return made


def run(job, *argv):
    args = cli.job_parser("test job").parse_args(list(argv))
    return cli.run_job(job, args, "test_job", logging.getLogger("test"))


def summary(failed: int):
    done = pipeline.JobSummary("2024-01-01", "run", "0", "file:///tmp/mlruns", {}, max_failed_share=0.1)
    done.counts = {"ok": 10 - failed, "failed": failed}
    return done


def test_a_finished_job_exits_0_and_leaves_stopping_spark_to_the_jvm(session, capsys):
    # PySpark's stop() waits up to a second on its accumulator server; the JVM's
    # shutdown hook stops the context as the driver process exits
    assert run(lambda spark, config: summary(failed=0)) == cli.EXIT_OK
    assert not session.stopped
    assert "Forecast run 2024-01-01" in capsys.readouterr().out


@pytest.mark.parametrize("error, code", [
    (io.InputError("no rows"), cli.EXIT_INPUT),
    (tracking.TrackingUnavailable("refused"), cli.EXIT_TRACKING),
])
def test_input_and_tracking_errors_have_their_own_exit_codes(session, error, code):
    def job(spark, config):
        raise error

    assert run(job) == code


def test_too_many_failed_series_exit_5(session):
    assert run(lambda spark, config: summary(failed=2)) == cli.EXIT_TOO_MANY_FAILED


def test_a_bad_config_key_exits_2(session):
    with pytest.raises(SystemExit) as exited:
        run(lambda spark, config: summary(failed=0), "--set", "tuning.no_such_key=1")
    assert exited.value.code == cli.EXIT_CONFIG
