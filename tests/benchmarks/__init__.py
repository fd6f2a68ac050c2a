"""Benchmarks (`make bench`): print figures, never fail on time. See the README for results."""
