"""Many-model forecasting on Spark: one tuned Prophet model per series, tracked in MLflow."""
