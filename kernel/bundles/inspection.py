"""What an installed bundle's plugin really is, asked of a separate interpreter.

Checking a bundle before the platform commits to it must not import it into the server:
the version running now has the same module names, and one interpreter imports a module
once. A short-lived Python process imports it from its directory instead and tells its
slug, version and real hooks, which must be the manifest's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

from kernel.bundles.errors import HooksMismatch, InvalidManifest, LoadFailed
from kernel.bundles.installer import InstalledBundle

TIMEOUT_SECONDS = 60.0

_DESCRIBE = """
import json, sys
from importlib.metadata import distributions
site, slug = sys.argv[1], sys.argv[2]
found = list(distributions(path=[site]))
points = [ep for d in found for ep in d.entry_points if ep.group == "ticketing.plugins"]
if len(found) != 1 or len(points) != 1 or points[0].name != slug:
    print(json.dumps({"error": f"one 'ticketing.plugins' entry point named {slug} expected, "
                      f"found {sorted(ep.name for ep in points)}"}))
    sys.exit(0)
sys.path.append(site)
plugin = points[0].load()
metadata = getattr(plugin, "METADATA", None)
print(json.dumps({
    "slug": getattr(metadata, "slug", None),
    "version": getattr(metadata, "version", None),
    "hooks": sorted(
        name for name in dir(plugin)
        if name.startswith("ticketing_") and hasattr(getattr(plugin, name), "ticketing_impl")
    ),
}))
"""


async def check_plugin(installed: InstalledBundle) -> None:
    """Raise unless the bundle's plugin imports and is what its manifest says."""
    manifest = installed.manifest
    # The server's path, but no other bundle's directory (another version may be loaded).
    bundles = installed.directory.parent
    path = [p for p in sys.path if p and Path(p).parent.parent != bundles]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _DESCRIBE,
        str(installed.site),
        manifest.slug,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(installed.directory),
    )
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            out, err = await process.communicate()
    except TimeoutError as exc:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise LoadFailed(f"importing the plugin took over {TIMEOUT_SECONDS:.0f} s") from exc
    if process.returncode != 0:
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise LoadFailed(f"the plugin failed to import: {last[0][:300]}")
    described = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    if "error" in described:
        raise LoadFailed(described["error"])
    if described["slug"] != manifest.slug or described["version"] != manifest.version:
        raise InvalidManifest(
            f"the plugin is {described['slug']} {described['version']}; its manifest says "
            f"{manifest.slug} {manifest.version}"
        )
    if set(described["hooks"]) != set(manifest.hooks):
        raise HooksMismatch(
            f"the manifest lists hooks {sorted(manifest.hooks)} but the plugin implements "
            f"{described['hooks']}"
        )
