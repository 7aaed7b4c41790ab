"""Many-model forecasting on Spark: one tuned Prophet model per series, tracked in MLflow."""
from forecasting.deferred_imports import defer_unused_imports

# Before anything here imports MLflow: see deferred_imports.
defer_unused_imports()
