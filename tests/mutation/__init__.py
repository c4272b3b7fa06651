"""Mutation testing of the modules that hold the promises: `make mutate` (see run.py)."""
