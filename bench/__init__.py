"""Benchmarks: `python -m bench` runs them and writes a report under bench/reports/."""
