"""Synq PIM bulk operations: the code every function shares (domain, services, adapters)."""
