"""The marketplace: publishers publish signed plugin bundles, organizations install them.

It ships as a required plugin (:mod:`marketplace.plugin`) like every domain, with its own
tables and migration branch; installing a version writes the kernel's deployment and
installation rows, and :mod:`kernel.bundles` loads it on every process.
"""
