"""Marketplace: catalog of plugins, per-organization install, configuration and bundles.

Not built yet; its issue adds the catalog, bundle storage and verification here.
"""
