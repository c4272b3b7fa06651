"""The local stack: emulators, a gateway standing in for the production API gateway, demo tokens."""
