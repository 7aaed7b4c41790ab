"""A series' child-run artifacts: the files of its plot and model, written in one go
to the run's artifact repository; a Prophet model in MLflow's prophet flavor."""
from __future__ import annotations

import datetime
import json
import re
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from forecasting import lineage, model, model_store

PROPHET_MODEL_FILE = "model.pr"  # where mlflow.prophet keeps the model's JSON
_PROPHET_TEMPLATE: tuple[dict[str, bytes], str] | None = None


def write(artifacts, files: dict[str, bytes]) -> None:
    """``files`` (artifact path: content) into a run's artifact repository.

    A local repository gets them written in place: through MLflow's API each file
    would be written to a temporary folder first and copied from there. Other
    repositories (a tracking server's) get them uploaded from a temporary folder."""
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    if isinstance(artifacts, LocalArtifactRepository):
        _write_tree(Path(artifacts.artifact_dir), files)
        return
    with tempfile.TemporaryDirectory() as folder:
        _write_tree(Path(folder), files)
        artifacts.log_artifacts(folder)


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    made = set()
    for name, content in files.items():
        path = root / name
        if path.parent not in made:  # each folder once: a child run's model has five files
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(content)


def model_files(model_name: str, fitted, model_json: str) -> dict[str, bytes]:
    """Prophet in MLflow's prophet flavor (``mlflow.prophet.load_model``); a
    baseline as the JSON the models table holds. ``model_json`` is that JSON
    (for Prophet, the flavor's model.pr too), serialized once for both."""
    if model_name != model_store.PROPHET:
        return {f"model/{model_name}.json": model_json.encode("utf-8")}
    template, description = _prophet_model_template(fitted)
    files = {f"model/{name}": content for name, content in template.items()}
    # mlflow.prophet stores Prophet's JSON text as a JSON string
    files[f"model/{PROPHET_MODEL_FILE}"] = json.dumps(model_json).encode("utf-8")
    size = sum(len(content) for content in files.values()) + len(description)
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    for key, value in (("model_uuid", uuid.uuid4().hex), ("utc_time_created", f"'{created}'"),
                       ("model_size_bytes", str(size))):
        description = re.sub(rf"(?m)^{key}: .*$", f"{key}: {value}", description)
    files["model/MLmodel"] = description.encode("utf-8")
    return files


def _prophet_model_template(example) -> tuple[dict[str, bytes], str]:
    """The files of a prophet-flavor model folder saved once per process by MLflow
    itself, but for model.pr, and its description (MLmodel) as text.

    The description and the environment files (conda.yaml, python_env.yaml,
    requirements.txt) are the same for every series, and MLflow works them out
    from the installed packages on every save: half of what logging a series'
    model cost. Each series reuses them, with its own model.pr and its own id,
    time and size in the description. Requirements are given explicitly:
    inferring them imports and scans the environment, which costs seconds."""
    global _PROPHET_TEMPLATE
    if _PROPHET_TEMPLATE is None:
        model.prophet_class()  # quiets Prophet's loggers before mlflow.prophet imports it
        import mlflow.prophet

        with tempfile.TemporaryDirectory(prefix="forecasting-model-template-") as folder, \
                installed_requirements_unchecked():
            saved = Path(folder) / "model"
            requirements = [f"prophet=={lineage.package_versions()['prophet']}"]
            mlflow.prophet.save_model(example, str(saved), pip_requirements=requirements)
            files = {path.name: path.read_bytes() for path in saved.iterdir()
                     if path.is_file() and path.name not in (PROPHET_MODEL_FILE, "MLmodel")}
            _PROPHET_TEMPLATE = files, (saved / "MLmodel").read_text(encoding="utf-8")
    return _PROPHET_TEMPLATE


@contextmanager
def installed_requirements_unchecked():
    """MLflow checks that a model's pinned requirements are installed, and to do so
    maps every installed distribution's files to its modules: 0.6 s in each worker
    process. The pins here are the installed versions (prophet's from the package
    metadata, mlflow's MLflow's own), so the check is skipped while they are saved."""
    from mlflow.utils import environment

    check = getattr(environment, "warn_dependency_requirement_mismatches", None)
    if check is None:  # an MLflow without the check: nothing to skip
        yield
        return
    environment.warn_dependency_requirement_mismatches = lambda requirements: None
    try:
        yield
    finally:
        environment.warn_dependency_requirement_mismatches = check
