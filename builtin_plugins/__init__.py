"""Builtin plugins: every domain of the platform, each registered through the
``ticketing.plugins`` entry point group exactly as a third-party plugin would be."""
