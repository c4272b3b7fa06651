"""Use cases. Services see storage only through the small interfaces in `ports`."""
