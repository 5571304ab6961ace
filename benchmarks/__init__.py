"""Benchmarks run by `make bench`: each module's run() returns rows of figures."""
