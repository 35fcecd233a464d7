"""Retrieval evaluation: BEIR-layout benchmarks (`eval.beir`), the project's gold questions on the seed
corpus (`eval.gold`), their cached indexes (`eval.indexes`) and their tables, plots and files (`eval.report`).
Run through `tracuu eval`."""
