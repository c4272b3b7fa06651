"""Adapters: the ports implemented on Google Cloud (Firestore, Cloud Storage, Cloud Tasks)."""
