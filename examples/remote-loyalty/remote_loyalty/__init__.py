"""A remote plugin served on its own: run ``uvicorn remote_loyalty.app:app``."""
