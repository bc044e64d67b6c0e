"""Books beyond one machine: ``perprisk margin`` and ``perprisk stress`` over Parquet, on Dask."""
