"""Meta-tests of :mod:`kernel.hookspecs`: the conventions plugin authors rely on."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from kernel import hookspecs
from kernel.markers import PROJECT_NAME
from kernel.plugin_manager import KernelPluginManager

README = Path(__file__).resolve().parents[2] / "README.md"
FIRSTRESULT_PHRASE = "Stops at first non-None result"

SPECS = {
    name: function
    for name, function in vars(hookspecs).items()
    if inspect.isfunction(function) and hasattr(function, f"{PROJECT_NAME}_spec")
}
FIRSTRESULT = sorted(name for name, f in SPECS.items() if f.ticketing_spec["firstresult"])
COMPOSING = sorted(name for name, f in SPECS.items() if not f.ticketing_spec["firstresult"])


# Hookspecs whose docstrings do not name their arguments yet; documenting them (a
# ``:param name:`` line each) turns these into XPASS, which fails: then drop them here.
def normalized_doc(name: str) -> str:
    return " ".join(inspect.getdoc(SPECS[name]).split())


def test_the_module_declares_the_hooks_the_manager_knows() -> None:
    assert len(SPECS) >= 20
    known = {name for name in vars(KernelPluginManager().hook) if not name.startswith("_")}
    assert known == set(SPECS)
    assert {"ticketing_pricing_base_price", "ticketing_layout_render"} <= set(FIRSTRESULT)
    assert {"ticketing_pricing_adjusters", "ticketing_permissions"} <= set(COMPOSING)


def test_no_function_in_the_module_is_an_unmarked_hook() -> None:
    functions = {n for n, f in vars(hookspecs).items() if inspect.isfunction(f)}
    assert {n for n in functions if n.startswith("ticketing_")} == set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_prefixed_and_documented(name: str) -> None:
    assert name.startswith("ticketing_")
    assert SPECS[name].__name__ == name
    doc = inspect.getdoc(SPECS[name])
    assert doc and len(doc.split()) >= 5, f"{name} needs a docstring saying when it is called"
    assert not SPECS[name].ticketing_spec["historic"]


@pytest.mark.parametrize("name", FIRSTRESULT)
def test_a_firstresult_hook_says_it_stops_at_the_first_answer(name: str) -> None:
    assert FIRSTRESULT_PHRASE in normalized_doc(name)


@pytest.mark.parametrize("name", COMPOSING)
def test_a_composing_hook_does_not_claim_to_stop(name: str) -> None:
    assert FIRSTRESULT_PHRASE not in normalized_doc(name)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_argument_is_named_in_the_docstring(name: str) -> None:
    doc = inspect.getdoc(SPECS[name])
    arguments = list(inspect.signature(SPECS[name]).parameters)
    missing = [arg for arg in arguments if not re.search(rf"\b{re.escape(arg)}\b", doc)]
    assert missing == [], f"{name} does not explain {missing}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_listed_in_the_readme(name: str) -> None:
    readme = README.read_text(encoding="utf-8")
    assert re.search(rf"\b{name}\b", readme), f"README.md does not list the hook {name}"
