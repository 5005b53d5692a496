"""Signed plugin bundles, the kernel's side: the format (manifest, keys, signatures), the
archive a bundle travels in, and installing and loading a bundle into a running process.

Authors reach the format through :mod:`sdk.bundles`, which adds building a bundle from a
project.
"""
