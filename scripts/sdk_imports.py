"""Rewrite a plugin's ``kernel`` imports into the equivalent ``sdk`` imports.

    .venv/bin/python scripts/sdk_imports.py [--check] [--no-tidy] [PATH ...]

PATH defaults to ``builtin_plugins``. Every ``from kernel.x import A, B`` (one line or
parenthesized, at module level or inside a function or an ``if TYPE_CHECKING:`` block)
becomes ``from sdk... import A, B``, the SDK module being found by what it exports, not by
a table: a name maps to the first of ``sdk``, ``sdk.<module>`` (alphabetical) that
exports the very same object under the same name. ``from kernel import audit`` becomes
``from sdk import audit`` when ``sdk.audit`` offers every ``audit.<name>`` the file uses.
A name the SDK does not export is left on a ``from kernel...`` line and reported as
``file:line``, so the script is safe on code it has never seen; running it twice changes
nothing the second time. Changed files are tidied with ``ruff check --fix`` and
``ruff format`` unless ``--no-tidy``. ``--check`` writes nothing and exits 1 when a file
would change or a kernel import is left.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def sdk_modules() -> list[ModuleType]:
    """``sdk`` first, then its submodules by name: the order in which names are looked up."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sdk = importlib.import_module("sdk")
    names = sorted(info.name for info in pkgutil.iter_modules(sdk.__path__))
    return [sdk, *(importlib.import_module(f"sdk.{name}") for name in names)]


class Resolver:
    def __init__(self) -> None:
        self.modules = sdk_modules()

    def name(self, kernel_module: str, name: str) -> str | None:
        """The SDK module exporting ``kernel_module.name`` itself, or None."""
        try:
            value = getattr(importlib.import_module(kernel_module), name)
        except (ImportError, AttributeError):
            return None
        for module in self.modules:
            if name in getattr(module, "__all__", ()) and getattr(module, name) is value:
                return module.__name__
        return None

    def module(self, kernel_module: str, used: set[str]) -> str | None:
        """The ``sdk.<x>`` module standing for ``kernel_module`` (same last name, exporting
        the same objects for every attribute in ``used``), or None."""
        short = kernel_module.rsplit(".", 1)[-1]
        try:
            original = importlib.import_module(kernel_module)
        except ImportError:
            return None
        for module in self.modules[1:]:
            if module.__name__ != f"sdk.{short}":
                continue
            exported = set(module.__all__)
            if used <= exported and all(
                getattr(module, n) is getattr(original, n, None) for n in used
            ):
                return module.__name__
        return None


def is_kernel(module: str | None) -> bool:
    return module is not None and (module == "kernel" or module.startswith("kernel."))


def attributes_used(source: str, alias: str) -> set[str]:
    return set(re.findall(rf"(?<![\w.]){re.escape(alias)}\.(\w+)", source))


def render(target: str, names: list[ast.alias]) -> str:
    parts = [a.name if a.asname is None else f"{a.name} as {a.asname}" for a in names]
    return f"from {target} import {', '.join(parts)}"


def rewrite(path: Path, resolver: Resolver, warnings: list[str]) -> str | None:
    """The file's text with its kernel imports rewritten, or None when nothing changes."""
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    nodes = [
        node
        for node in ast.walk(tree)
        if (isinstance(node, ast.ImportFrom) and node.level == 0 and is_kernel(node.module))
        or (isinstance(node, ast.Import) and any(is_kernel(a.name) for a in node.names))
    ]
    changed = False
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        where = f"{_shown(path)}:{node.lineno}"
        first, last = lines[node.lineno - 1], lines[node.end_lineno - 1]
        indent = first[: node.col_offset]
        tail = last[node.end_col_offset :].rstrip("\r\n")
        if indent.strip() or (tail.strip() and not tail.strip().startswith("#")):
            warnings.append(f"{where}: import shares its line with other code; left as is")
            continue
        statements = statements_for(node, source, resolver, where, warnings)
        if statements is None:
            continue
        comment = tail.strip()
        new = [indent + s + (f"  {comment}" if comment else "") + "\n" for s in statements]
        lines[node.lineno - 1 : node.end_lineno] = new
        changed = True
    return "".join(lines) if changed else None


def statements_for(
    node: ast.ImportFrom | ast.Import,
    source: str,
    resolver: Resolver,
    where: str,
    warnings: list[str],
) -> list[str] | None:
    """The statements replacing ``node``, or None to leave it untouched."""
    if isinstance(node, ast.Import):
        if len(node.names) != 1 or node.names[0].asname is None:
            warnings.append(f"{where}: `import kernel...` without `as`; left as is")
            return None
        alias = node.names[0]
        target = resolver.module(alias.name, attributes_used(source, alias.asname))
        if target is None:
            warnings.append(f"{where}: no SDK module stands for {alias.name}")
            return None
        package, short = target.rsplit(".", 1)
        return [f"from {package} import {short} as {alias.asname}"]

    by_target: dict[str, list[ast.alias]] = {}
    unknown: list[ast.alias] = []
    for alias in node.names:
        if alias.name == "*":
            warnings.append(f"{where}: star import from {node.module}; left as is")
            return None
        target = resolver.name(node.module, alias.name)
        if target is None and _import_or_none(f"{node.module}.{alias.name}") is not None:
            used = attributes_used(source, alias.asname or alias.name)
            module = resolver.module(f"{node.module}.{alias.name}", used)
            if module is not None:
                target = module.rsplit(".", 1)[0]
        if target is None:
            unknown.append(alias)
        else:
            by_target.setdefault(target, []).append(alias)
    if unknown:
        names = ", ".join(a.name for a in unknown)
        warnings.append(f"{where}: not in the SDK, left as it was: {node.module}.{{{names}}}")
    if not by_target:
        return None
    statements = [render(target, names) for target, names in by_target.items()]
    if unknown:
        statements.append(render(node.module, unknown))
    return statements


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _import_or_none(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "builtin_plugins"])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any is left")
    parser.add_argument("--no-tidy", action="store_true", help="do not run ruff on changed files")
    args = parser.parse_args(argv)

    resolver = Resolver()
    warnings: list[str] = []
    changed: list[Path] = []
    files = sorted(
        file for path in args.paths for file in ([path] if path.is_file() else path.rglob("*.py"))
    )
    for file in files:
        text = rewrite(file, resolver, warnings)
        if text is None:
            continue
        changed.append(file)
        if not args.check:
            file.write_text(text)

    for warning in sorted(warnings):
        print(f"warning: {warning}", file=sys.stderr)
    verb = "would rewrite" if args.check else "rewrote"
    print(f"{verb} {len(changed)} file(s); {len(warnings)} import(s) left for a person")
    if changed and not args.check and not args.no_tidy:
        ruff = [sys.executable, "-m", "ruff"]
        names = [str(f) for f in changed]
        subprocess.run([*ruff, "check", "--fix", "--quiet", *names], cwd=ROOT, check=False)
        subprocess.run([*ruff, "format", "--quiet", *names], cwd=ROOT, check=False)
    return 1 if args.check and (changed or warnings) else 0


if __name__ == "__main__":
    sys.exit(main())
