"""What a plugin's command-line commands run in: a kernel built from the environment with
the plugins started (:func:`started_kernel`, :func:`run_command`), and the platform's
administrators (:func:`set_platform_admin`)."""

from kernel.cli_kernel import run_command, set_platform_admin, started_kernel

__all__ = ["run_command", "set_platform_admin", "started_kernel"]
