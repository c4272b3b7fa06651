"""Deployment helpers (run from the repository root, e.g. `python -m infra.gateway_spec`)."""
