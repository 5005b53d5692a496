"""The Alembic environment. The kernel's revisions live in ``versions/``; each plugin that
owns tables ships its own version directory (see :mod:`kernel.migrate`)."""
