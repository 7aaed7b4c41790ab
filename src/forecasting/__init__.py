"""Many-model forecasting on Spark: one model per series (tuned Prophet, or a baseline that
forecast it better), tracked in MLflow."""
import logging

from forecasting.deferred_imports import defer_unused_imports

# Before anything here imports MLflow: see deferred_imports.
defer_unused_imports()

# Prophet's plotting module logs an ERROR on import where plotly is absent (every process
# here): nothing a user of the job acts on, and the first import is not always model's.
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
