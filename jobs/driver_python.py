"""What a job does where its driver's Python cannot import the package (a node's own
python3, or spark.pyspark.python naming one for the executors, which Spark takes for the
driver too): exit 2 saying so, in the --summary-file too, so that a scheduler reading it
finds no earlier run's success there. The standard library only: the job's packages are
what is missing."""
import logging
import sys

EXIT_CONFIG = 2  # as forecasting.cli's: a setting, which no retry mends
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # forecasting.redaction's, which cannot be imported


def exit_unimportable(job: str, err: ImportError) -> None:
    """Exit 2 naming the module and the Python that lacks it, in the summary file too."""
    why = (f"configuration error: the driver's Python {sys.executable} cannot import the job ({err}): run it "
           "with the Python the job is installed in (spark.pyspark.driver.python or PYSPARK_DRIVER_PYTHON; "
           "spark.pyspark.python sets the driver's too where neither is set), and ship the package with "
           "--py-files dist/forecasting.zip where it is not installed")
    logging.basicConfig(format=LOG_FORMAT)
    logger = logging.getLogger(job)
    logger.error("%s", why)
    summary = _summary_file(sys.argv[1:])
    if summary:
        try:
            with open(summary, "w", encoding="utf-8") as out:
                out.write(f"{job}: ended with exit code {EXIT_CONFIG} ({why})\n")
        except OSError as written:
            logger.error("cannot write the summary to %s: %s", summary, written)
    sys.exit(EXIT_CONFIG)


def _summary_file(argv: list) -> str:
    """The --summary-file argument's value, as the job's parser would take it, or ''."""
    for at, argument in enumerate(argv):
        if argument == "--summary-file" and at + 1 < len(argv):
            return argv[at + 1]
        if argument.startswith("--summary-file="):
            return argument.split("=", 1)[1]
    return ""
