"""compose.yml and the deployment files as Docker Compose reads them, without Docker: the
env file format, ``${NAME}`` interpolation (with ``:-`` defaults and ``:?`` errors) and
the secrets production refuses to start without, found in the code itself."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yml"
DEPLOY = ROOT / "deploy"
# Where a platform process's code lives (what the image installs).
PLATFORM_PACKAGES = ("kernel", "sdk", "builtin_plugins", "marketplace")

_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(KeyError):
    pass


def parse_env_file(text: str) -> dict[str, str]:
    """``NAME=value`` lines; blank lines and ``#`` comments skipped (values here are
    never quoted)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        assert separator, f"not an assignment: {line!r}"
        values[name.strip()] = value
    return values


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with each ``$NAME``/``${NAME...}`` replaced as compose does."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        operator, argument = match["operator"], match["argument"] or ""
        value = variables.get(name)
        unset = value is None or (operator is not None and operator.startswith(":") and not value)
        if operator in (":-", "-"):
            return argument if unset else value
        if operator in (":?", "?"):
            if unset:
                raise MissingVariable(f"{name}: {argument}")
            return value
        if operator in (":+", "+"):
            return "" if unset else argument
        return value or ""

    return _REFERENCE.sub(replace, text)


def references(text: str) -> set[str]:
    """The names ``text`` interpolates."""
    return {m["braced"] or m["named"] for m in _REFERENCE.finditer(text) if not m["escaped"]}


def raw_compose() -> dict[str, Any]:
    """compose.yml as written (``${...}`` left in place)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def interpolated(value: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, variables)
    if isinstance(value, dict):
        return {key: interpolated(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolated(item, variables) for item in value]
    return value


def service_environment(compose: Mapping[str, Any], service: str) -> dict[str, str]:
    environment = compose["services"][service].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def yaml_documents(directory: Path) -> Iterator[tuple[Path, Any]]:
    for path in sorted(directory.rglob("*.yml")):
        yield path, yaml.safe_load(path.read_text(encoding="utf-8"))


def production_secret_names() -> set[str]:
    """Every secret name passed to ``local_secret`` in the platform's code: the secrets
    a process refuses to start without when ``TICKETING_ENV=production``."""
    names = set()
    for package in PLATFORM_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants = _module_constants(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _called_name(node.func) == "local_secret":
                    names.add(_secret_name(node, constants, path))
    return names


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    constants[target.id] = node.value.value
    return constants


def _called_name(function: ast.expr) -> str | None:
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return None


def _secret_name(call: ast.Call, constants: Mapping[str, str], path: Path) -> str:
    argument = next((k.value for k in call.keywords if k.arg == "name"), None)
    if argument is None and len(call.args) >= 2:
        argument = call.args[1]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    if isinstance(argument, ast.Name) and argument.id in constants:
        return constants[argument.id]
    raise AssertionError(f"{path}:{call.lineno}: a local_secret name this test cannot read")
