"""How the SDK's fixtures find the plugins a project tests: its own entry points, read
from its pyproject and imported from its source tree; a plugin the kernel would refuse
stops the tests with the kernel's reason instead of running them without it."""

import sys
import textwrap

import pytest

from sdk.testkit.plugins import PluginRefused, PluginsNotFound, plugin_manager, project_plugins


def write_project(root, entry_points: str, module: str = "") -> None:
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "probe"
            version = "1.0.0"
            {entry_points}
            """
        )
    )
    if module:
        (root / "kit_probe.py").write_text(textwrap.dedent(module))


PROBE = """\
    from sdk import PluginCategory, PluginMetadata, hookimpl

    METADATA = PluginMetadata(
        slug="kit-probe", name="Probe", version="1.0.0", category=PluginCategory.TICKETING
    )

    @hookimpl
    def ticketing_checkout_validate(cart):
        return None
    """


@pytest.fixture
def clean_import(tmp_path):
    """Forget the probe module and its project directory on ``sys.path`` afterwards."""
    yield
    sys.modules.pop("kit_probe", None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_a_project_tests_its_own_entry_points_from_its_source(tmp_path, clean_import):
    write_project(
        tmp_path, '[project.entry-points."ticketing.plugins"]\nkit-probe = "kit_probe"', PROBE
    )
    [plugin] = project_plugins(tmp_path / "tests" / "test_x.py")
    assert plugin.__file__ == str(tmp_path / "kit_probe.py")
    manager = plugin_manager([plugin])
    assert [record.slug for record in manager.loaded] == ["kit-probe"]


def test_a_project_without_entry_points_says_how_to_name_the_plugins(tmp_path):
    write_project(tmp_path, "")
    with pytest.raises(PluginsNotFound, match="ticketing_plugins"):
        project_plugins(tmp_path / "tests" / "test_x.py")


def test_a_plugin_the_kernel_refuses_stops_the_tests_with_the_reason(tmp_path, clean_import):
    broken = PROBE.replace("ticketing_checkout_validate", "ticketing_checkout_validtae")
    write_project(
        tmp_path, '[project.entry-points."ticketing.plugins"]\nkit-probe = "kit_probe"', broken
    )
    [plugin] = project_plugins(tmp_path / "tests" / "test_x.py")
    with pytest.raises(PluginRefused, match="ticketing_checkout_validtae"):
        plugin_manager([plugin])
