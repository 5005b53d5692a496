"""The images, read as Docker would build them: a builder stage that installs the locked
dependencies before the code (so a code change does not reinstall them), and a runtime
stage without build tools that runs as an unprivileged user and says when it is healthy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.compose_files import ROOT

PLATFORM = ROOT / "Dockerfile"
DOCKERFILES = [
    PLATFORM,
    ROOT / "examples/remote-loyalty/Dockerfile",
    ROOT / "deploy/auth/Dockerfile",
]
PINNED_IMAGE = re.compile(r"^[^:@\s]+:[A-Za-z0-9_.-]*\d[A-Za-z0-9_.-]*$")
BUILD_TOOLS = re.compile(r"\b(uv|pip install|npm (ci|install)|apt-get|gcc|build-essential)\b")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def stages(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """The build arguments declared before the first stage, and each stage's
    instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    arguments: dict[str, str] = {}
    found: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not found:
            name, _, default = rest.partition("=")
            arguments[name] = default
        elif keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            found.append(Stage(base.strip(), name.strip() or None))
        else:
            found[-1].instructions.append((keyword, rest))
    return arguments, found


def _resolved(base: str, arguments: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], base)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_an_image_is_built_in_stages_from_pinned_bases(path: Path) -> None:
    arguments, built = stages(path)
    assert len(built) >= 2, "one stage builds, another runs"
    names = {stage.name for stage in built}
    for stage in built:
        if stage.base in names:
            continue
        base = _resolved(stage.base, arguments)
        assert PINNED_IMAGE.match(base) and not base.endswith(":latest"), base


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_runtime_stage_runs_unprivileged_healthy_and_without_build_tools(path: Path) -> None:
    _, built = stages(path)
    runtime = built[-1]
    users = [rest for keyword, rest in runtime.instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as root"
    assert any(keyword == "HEALTHCHECK" for keyword, _ in runtime.instructions)
    runs = " ".join(rest for keyword, rest in runtime.instructions if keyword == "RUN")
    assert not BUILD_TOOLS.search(runs), runs
    copies = [rest for keyword, rest in runtime.instructions if keyword == "COPY"]
    assert copies and all(copy.startswith("--from=") for copy in copies), (
        "the runtime stage takes only what the builder made"
    )


def test_the_platform_s_dependencies_are_installed_from_the_lock_before_the_code() -> None:
    _, built = stages(PLATFORM)
    builder = next(stage for stage in built if stage.name == "builder")
    steps = [f"{keyword} {rest}" for keyword, rest in builder.instructions]
    lock = next(i for i, step in enumerate(steps) if step.startswith("COPY") and "uv.lock" in step)
    dependencies = next(
        i
        for i, step in enumerate(steps)
        if "uv sync" in step and "--frozen" in step and "--no-install-workspace" in step
    )
    code = next(i for i, step in enumerate(steps) if re.match(r"COPY kernel\b", step))
    project = next(
        i for i, step in enumerate(steps) if "uv sync" in step and i > code and "--frozen" in step
    )
    assert lock < dependencies < code < project
    assert "--no-dev" in steps[dependencies] and "--no-dev" in steps[project]
    before_dependencies = " ".join(steps[:dependencies])
    for package in ["kernel", "sdk", "builtin_plugins", "marketplace", "migrations"]:
        assert not re.search(rf"COPY {package}\b", before_dependencies), package


def test_the_platform_image_serves_on_its_port_by_default() -> None:
    _, built = stages(PLATFORM)
    runtime = dict(built[-1].instructions)
    assert runtime["CMD"] == '["ticketing", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    assert "8000/health/live" in runtime["HEALTHCHECK"]
    assert runtime["EXPOSE"] == "8000"
