"""Benchmarks: ``python -m bench`` runs them all, ``python -m bench.<name>`` one.

Figures are ratios measured in the same run.
"""
