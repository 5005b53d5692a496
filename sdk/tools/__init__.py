"""The plugin author's command-line tools (``ticketing-sdk``): key pairs, building,
signing and verifying plugin bundles (:mod:`sdk.bundles`)."""

from sdk.tools.cli import app, main

__all__ = ["app", "main"]
