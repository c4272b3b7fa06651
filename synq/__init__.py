"""The `synq` command and the typed API client it is built on."""
