"""The SDK surface and the script that moves plugin imports onto it."""

import importlib
import importlib.util
import pkgutil
import textwrap
from pathlib import Path

import sdk

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("sdk_imports", ROOT / "scripts/sdk_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_sdk_module_says_what_it_offers_and_exports_what_it_lists():
    names = [info.name for info in pkgutil.iter_modules(sdk.__path__)]
    for module in [sdk, *(importlib.import_module(f"sdk.{n}") for n in names)]:
        assert module.__doc__, module.__name__
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing, (module.__name__, missing)


def test_kernel_imports_become_sdk_imports_and_unknown_names_stay(tmp_path, capsys):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        textwrap.dedent(
            """\
            from typing import TYPE_CHECKING

            from kernel import audit
            from kernel.clock import utcnow
            from kernel.contracts import (
                Money,
                Principal,  # who acts
            )
            from kernel.app import create_app
            from kernel.problems import NotFound as Missing, Problem

            if TYPE_CHECKING:
                from kernel.db import Base


            async def handler(session):
                from kernel.outbox import record_event

                audit.record
                return utcnow, Money, Principal, Missing, Problem, record_event, create_app
            """
        )
    )
    script = load_script()

    assert script.main([str(plugin), "--no-tidy"]) == 0
    rewritten = plugin.read_text()
    assert "from sdk import audit" in rewritten
    assert "from sdk.clock import utcnow" in rewritten
    assert "from sdk import Money, Principal" in rewritten
    assert "from sdk import NotFound as Missing, Problem" in rewritten
    assert "\n    from sdk.db import Base" in rewritten
    assert "\n    from sdk.outbox import record_event" in rewritten
    assert "from kernel.app import create_app" in rewritten  # not in the SDK
    assert "plugin.py:9: not in the SDK" in capsys.readouterr().err
    compile(rewritten, str(plugin), "exec")

    assert script.main([str(plugin), "--no-tidy"]) == 0
    assert plugin.read_text() == rewritten  # a second run changes nothing
    assert script.main([str(plugin), "--check"]) == 1  # the kernel import left is reported


def test_builtin_plugins_import_nothing_of_the_kernel_the_sdk_offers(capsys):
    assert load_script().main([str(ROOT / "builtin_plugins"), "--check"]) in (0, 1)
    assert "would rewrite 0 file(s)" in capsys.readouterr().out
