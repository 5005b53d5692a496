"""The inventory tests use the fixtures of ``tests/integration/conftest.py``."""
