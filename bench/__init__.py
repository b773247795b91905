"""Benchmarks: run with ``python -m bench.<name>``; figures are ratios measured in the same run."""
