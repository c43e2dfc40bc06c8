"""Pure Product-Led Sales logic: no Dagster import here, only plain functions over DataFrames and dicts."""
