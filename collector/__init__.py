"""The collector: ingest API, probe registry and auth, stores, query API and control endpoint.

Entry points: ``collector.app.create_app`` (the FastAPI app), ``collector.store.open_store``
(SQLite or InfluxDB), ``collector.serve.main`` and ``collector.admin.add_probe`` (the CLI).
Nothing is imported here, so ``collector.anomaly`` and ``collector.store`` load without FastAPI.
"""
