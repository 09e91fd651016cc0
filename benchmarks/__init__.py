"""Benchmarks of tap-nexudus-jobs: one script per question, run by ``python -m benchmarks``."""
