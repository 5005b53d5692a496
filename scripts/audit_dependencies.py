"""Fail when a locked dependency has a known vulnerability (``make audit``).

    .venv/bin/python scripts/audit_dependencies.py REQUIREMENTS

REQUIREMENTS is ``uv export --frozen --no-hashes --no-emit-workspace`` of ``uv.lock``: every
third-party package the server, the SDK and the tools install, each pinned. pip-audit
checks each pin against PyPI's advisories (the ``vulnerabilities`` of the release's JSON
page, fed from OSV and the PyPA advisory database).

Where PyPI's per-release page does not answer (an index mirror or a proxy that serves
only each project's page), pip-audit skips the package. Such a pin is then checked on its
project's page, whose ``vulnerabilities`` are those of the latest release: exact when the
pin is that release. A pin behind the latest release cannot be checked there; it is listed
as not audited, without failing, since a new upstream release must not break CI.

Exit status: 1 when a vulnerability not in :data:`IGNORED` is found, else 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

#: Advisories accepted knowingly, by id (PYSEC-, GHSA- or CVE-), each with the reason:
#: one with no fixed release, or one that does not reach this platform.
IGNORED: Mapping[str, str] = {}

PROJECT_PAGE = "https://pypi.org/pypi/{name}/json"


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    ids: tuple[str, ...]
    fixed_in: tuple[str, ...]
    summary: str


@dataclass
class Audit:
    findings: list[Finding] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    #: pins neither source could check: package -> why
    unaudited: dict[str, str] = field(default_factory=dict)


def pinned(lines: Iterable[str]) -> dict[str, Version]:
    """Each ``name==version`` of a requirements file whose markers hold here."""
    pins: dict[str, Version] = {}
    for line in lines:
        text = line.split("#", 1)[0].strip().rstrip("\\").strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if exact:
            pins[canonicalize_name(requirement.name)] = Version(exact[0])
    return pins


def _ignored(ids: Iterable[str]) -> bool:
    return any(vuln_id in IGNORED for vuln_id in ids)


def audit(
    pins: Mapping[str, Version],
    report: Mapping[str, Any],
    project_page: Callable[[str], Mapping[str, Any]],
) -> Audit:
    """Combine pip-audit's ``report`` (its JSON) with the project pages of the pins it
    skipped, fetched with ``project_page(name)``."""
    result = Audit()
    skipped: list[str] = []
    for dependency in report["dependencies"]:
        name = canonicalize_name(dependency["name"])
        if name not in pins:
            continue
        if "skip_reason" in dependency:
            skipped.append(name)
            continue
        result.audited.append(name)
        for vuln in dependency.get("vulns", []):
            ids = (vuln["id"], *vuln.get("aliases", []))
            if not _ignored(ids):
                fixed = tuple(vuln.get("fix_versions", []))
                result.findings.append(
                    Finding(name, str(pins[name]), ids, fixed, vuln.get("description") or "")
                )
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = dict(zip(skipped, pool.map(project_page, skipped), strict=True))
    for name in skipped:
        _check_latest(result, name, pins[name], pages[name])
    return result


def _check_latest(result: Audit, name: str, pin: Version, page: Mapping[str, Any]) -> None:
    latest = Version(page["info"]["version"])
    if latest != pin:
        result.unaudited[name] = f"{pin}, behind the latest release {latest}"
        return
    result.audited.append(name)
    seen: set[str] = set()  # an advisory is listed once per database that has it
    for vuln in page.get("vulnerabilities") or []:
        ids = (vuln["id"], *vuln.get("aliases", []))
        if vuln.get("withdrawn") is None and not _ignored(ids) and seen.isdisjoint(ids):
            seen.update(ids)
            summary = vuln.get("summary") or vuln.get("details") or ""
            fixed = tuple(vuln.get("fixed_in", []))
            result.findings.append(Finding(name, str(pin), ids, fixed, summary))


def fetch_project_page(name: str) -> Mapping[str, Any]:
    with urllib.request.urlopen(PROJECT_PAGE.format(name=name), timeout=30) as response:
        return json.load(response)


def run_pip_audit(requirements: Path) -> Mapping[str, Any]:
    """pip-audit's JSON report of ``requirements``; its exit status 1 only says it found
    something, which the report holds."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip_audit", "--disable-pip", "--no-deps"]
        command += ["--progress-spinner", "off", "--format", "json", "--output", str(output)]
        command += [argument for vuln_id in IGNORED for argument in ("--ignore-vuln", vuln_id)]
        command += ["--requirement", str(requirements)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1) or not output.exists():
            sys.stderr.write(done.stderr)
            raise SystemExit(f"pip-audit failed (exit status {done.returncode})")
        return json.loads(output.read_text())


def describe(result: Audit) -> str:
    lines = [f"{len(result.audited)} pinned packages audited."]
    if result.unaudited:
        lines.append(f"Not audited ({len(result.unaudited)}; PyPI did not answer for the pin):")
        lines += [f"  {name} {why}" for name, why in sorted(result.unaudited.items())]
    for found in result.findings:
        fixed = ", ".join(found.fixed_in) or "no fixed release"
        lines.append(f"VULNERABLE {found.package} {found.version}: {', '.join(found.ids)}")
        lines.append(f"  fixed in: {fixed}. {found.summary[:300]}")
    if not result.findings:
        lines.append("No known vulnerabilities.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    requirements = Path(argv[0])
    pins = pinned(requirements.read_text().splitlines())
    result = audit(pins, run_pip_audit(requirements), fetch_project_page)
    print(describe(result))
    return 1 if result.findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
