"""Benchmarks: ``python -m bench`` runs them all, ``python -m bench.<name>`` one; figures are ratios measured in the same run."""
