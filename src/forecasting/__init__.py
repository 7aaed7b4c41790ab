"""Many-model forecasting on Spark: one model per series (tuned Prophet, or a baseline that
forecast it better), tracked in MLflow."""
from forecasting.deferred_imports import defer_unused_imports

# Before anything here imports MLflow: see deferred_imports.
defer_unused_imports()
