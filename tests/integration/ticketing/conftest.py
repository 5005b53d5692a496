"""The ticketing tests use the fixtures of ``tests/integration/conftest.py``."""
