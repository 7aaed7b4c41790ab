"""One MLflow model per training run that answers "forecast series X for h periods".

The registered pyfunc holds no per-series model itself: it points at the run's
rows of the ``models`` table and loads them when the server starts, so
registering costs the same for ten series as for ten thousand.
"""
from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from mlflow.pyfunc import PythonModel

from forecasting import lineage, model, model_store, tracking

logger = logging.getLogger(__name__)

ARTIFACT_PATH = "forecaster"
POINTER = "models_pointer.json"


class ManyModelForecaster(PythonModel):
    """``mlflow.pyfunc`` model. Input: one row per request with the key columns,
    ``horizon`` and optionally ``as_of`` (forecast after this date instead of after
    the series' history). Output: one row per series and step."""

    def load_context(self, context) -> None:
        from deltalake import DeltaTable

        pointer = json.loads(Path(context.artifacts["pointer"]).read_text())
        self.key_columns = pointer["key_columns"]
        rows = DeltaTable(pointer["models_table"]).to_pandas(
            partitions=[("run_date", "=", pointer["run_date"])],
            columns=[*self.key_columns, "model", "model_json", "frequency", "interval_width"],
        )
        self.models = {tuple(str(r[k]) for k in self.key_columns): r for r in rows.to_dict("records")}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        answers = []
        for request in model_input.to_dict("records"):
            keys = {k: request[k] for k in self.key_columns}
            stored = self.models.get(tuple(str(v) for v in keys.values()))
            if stored is None:
                raise KeyError(f"no model for series {tracking.series_id(keys)}")
            last = pd.Timestamp(request["as_of"]) if pd.notna(request.get("as_of")) else None
            forecast = model_store.forecast(
                stored["model"], stored["model_json"], last, int(request["horizon"]), stored["frequency"],
                stored["interval_width"], model.series_seed(tracking.series_id(keys)),
            )
            answers.append(forecast.assign(**keys, model=stored["model"]))
        columns = [*self.key_columns, "ds", "yhat", "yhat_lower", "yhat_upper", "model"]
        return pd.concat(answers, ignore_index=True)[columns] if answers else pd.DataFrame(columns=columns)


def package_source(spare_folder: Path) -> Path:
    """The folder of this package's source; where it runs from a zip (``--py-files``),
    the package is unpacked into ``spare_folder`` first."""
    import forecasting

    source = Path(forecasting.__file__).parent
    if source.is_dir():
        return source
    archive = Path(forecasting.__spec__.loader.archive)  # zipimport's loader names its zip
    with zipfile.ZipFile(archive) as packed:
        packed.extractall(spare_folder, [name for name in packed.namelist() if name.startswith("forecasting/")])
    return spare_folder / "forecasting"


def register(context: tracking.RunContext, name: str, models_table: str, run_date: str, key_columns: list[str]) -> int:
    """Log the forecaster on the parent run and register it as a new version of ``name``."""
    import mlflow.pyfunc

    tracker = tracking.client(context.tracking_uri)
    with tempfile.TemporaryDirectory() as folder:
        pointer = Path(folder) / POINTER
        pointer.write_text(json.dumps({"models_table": models_table, "run_date": run_date, "key_columns": key_columns}))
        target = Path(folder) / ARTIFACT_PATH
        mlflow.pyfunc.save_model(
            str(target), python_model=ManyModelForecaster(), artifacts={"pointer": str(pointer)},
            # the server imports this package from the model itself, wherever it runs
            code_paths=[str(package_source(Path(folder) / "code"))],
            pip_requirements=[f"{name}=={version}" for name, version in _requirements().items()],
        )
        tracker.log_artifacts(context.parent_run_id, str(target), ARTIFACT_PATH)
    if not tracker.search_registered_models(filter_string=f"name = '{name}'"):
        tracker.create_registered_model(name)
    source = f"{tracker.get_run(context.parent_run_id).info.artifact_uri}/{ARTIFACT_PATH}"
    version = tracker.create_model_version(name, source, run_id=context.parent_run_id)
    logger.info("registered model %s version %s", name, version.version)
    return int(version.version)


def _requirements() -> dict[str, str]:
    versions = lineage.package_versions()
    return {name: versions[name] for name in ("prophet", "pandas", "deltalake", "cmdstanpy")}
