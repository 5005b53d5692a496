"""The orders tests use the fixtures of ``tests/integration/conftest.py`` and those of
``support.py`` (one app per module)."""
