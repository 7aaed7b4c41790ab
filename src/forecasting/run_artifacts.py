"""A series' child-run artifacts, written straight to the run's artifact repository:
text files (the plot) and the model, in MLflow's prophet flavor for a Prophet model."""
from __future__ import annotations

import atexit
import datetime
import json
import posixpath
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from forecasting import lineage, model, model_store


def log_text(artifacts, text: str, artifact_path: str) -> None:
    """``text`` as the artifact ``artifact_path`` (folder/name) of a run's artifact repository."""
    folder, name = posixpath.split(artifact_path)
    with tempfile.TemporaryDirectory() as local:
        path = Path(local) / name
        path.write_text(text, encoding="utf-8")
        artifacts.log_artifact(str(path), folder or None)


def log_model(artifacts, model_name: str, fitted, model_json: str) -> None:
    """Prophet in MLflow's prophet flavor (``mlflow.prophet.load_model``); a
    baseline as the JSON the models table holds. ``model_json`` is that JSON
    (for Prophet, the flavor's model.pr too), serialized once for both."""
    if model_name != model_store.PROPHET:
        log_text(artifacts, model_json, f"model/{model_name}.json")
        return
    template, description = _prophet_model_template(fitted)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "model"
        target.mkdir()
        for path in template.iterdir():
            if path.name not in (PROPHET_MODEL_FILE, "MLmodel"):
                shutil.copyfile(path, target / path.name)
        # mlflow.prophet stores Prophet's JSON text as a JSON string
        (target / PROPHET_MODEL_FILE).write_text(json.dumps(model_json), encoding="utf-8")
        size = sum(path.stat().st_size for path in target.iterdir()) + len(description)
        created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        for key, value in (("model_uuid", uuid.uuid4().hex), ("utc_time_created", f"'{created}'"),
                           ("model_size_bytes", str(size))):
            description = re.sub(rf"(?m)^{key}: .*$", f"{key}: {value}", description)
        (target / "MLmodel").write_text(description, encoding="utf-8")
        artifacts.log_artifacts(str(target), "model")


PROPHET_MODEL_FILE = "model.pr"  # where mlflow.prophet keeps the model's JSON
_PROPHET_TEMPLATE: tuple[Path, str] | None = None


def _prophet_model_template(example) -> tuple[Path, str]:
    """A prophet-flavor model folder saved once per process by MLflow itself.

    Its description and environment files (MLmodel, conda.yaml, python_env.yaml,
    requirements.txt) are the same for every series, and MLflow works them out
    from the installed packages on every save: half of what logging a series'
    model cost. Each series copies them, writes its own model.pr, and its own
    id, time and size into the description (MLmodel, returned as text).
    Requirements are given explicitly: inferring them imports and scans the
    environment, which costs seconds."""
    global _PROPHET_TEMPLATE
    if _PROPHET_TEMPLATE is None or not _PROPHET_TEMPLATE[0].is_dir():
        model.prophet_class()  # quiets Prophet's loggers before mlflow.prophet imports it
        import mlflow.prophet

        folder = Path(tempfile.mkdtemp(prefix="forecasting-model-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        requirements = [f"prophet=={lineage.package_versions()['prophet']}"]
        mlflow.prophet.save_model(example, str(folder / "model"), pip_requirements=requirements)
        _PROPHET_TEMPLATE = folder / "model", (folder / "model" / "MLmodel").read_text(encoding="utf-8")
    return _PROPHET_TEMPLATE
