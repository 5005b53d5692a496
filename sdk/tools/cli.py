"""``ticketing-sdk``: what a plugin author runs to start a project, make a key, build a
bundle, sign it, check it the way an installer will and publish it.

Each command imports what it needs when it runs, so ``ticketing-sdk --help`` (and a
mistyped option) answers without loading the kernel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Tools for plugin authors: new plugin projects and signed plugin bundles.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


PublicKeys = Annotated[
    list[Path] | None,
    typer.Option("--public-key", help="A trusted public key file (ed25519.pub); repeatable."),
]


def _public_keys(paths: list[Path]) -> list:
    from sdk import bundles

    try:
        return [bundles.load_public_key(path.read_bytes()) for path in paths]
    except (OSError, bundles.InvalidKey) as exc:
        raise _fail(str(exc)) from exc


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The plugin's slug, e.g. group-discount.")],
    out: Annotated[
        Path, typer.Option("--out", help="Where to create the project directory.")
    ] = Path("."),
) -> None:
    """Create a plugin project NAME: pyproject, an example pricing hook, passing tests."""
    from sdk.tools.scaffold import ScaffoldRefused, scaffold

    try:
        project = scaffold(name, out)
    except ScaffoldRefused as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"created {project}")
    typer.echo(f"next: cd {project} && pytest, then ticketing-sdk build . --out dist/")


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Directory for the key pair.")],
) -> None:
    """Generate an Ed25519 key pair: ed25519.key (private, mode 600) and ed25519.pub."""
    from kernel.bundles.keys import public_key_text
    from sdk import bundles

    try:
        private_path, public_path, key = bundles.write_key_pair(out)
    except FileExistsError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"private key: {private_path} (keep it secret)")
    typer.echo(f"public key:  {public_path} {public_key_text(key.public_key())}")
    typer.echo(f"key id:      {bundles.key_id(key.public_key())}")


@app.command()
def build(
    project_dir: Annotated[Path, typer.Argument(help="The plugin project (has pyproject.toml).")],
    out: Annotated[Path, typer.Option("--out", help="Empty directory for the bundle.")],
) -> None:
    """Build the plugin's wheel and its manifest (unsigned) into a bundle directory."""
    from sdk import bundles

    try:
        manifest = bundles.build(project_dir, out)
    except bundles.BuildFailed as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"built {manifest.slug} {manifest.version} into {out}")
    typer.echo(f"hooks: {', '.join(manifest.hooks) or '(none)'}")


@app.command()
def sign(
    bundle_dir: Annotated[Path, typer.Argument(help="A bundle directory from `build`.")],
    key: Annotated[Path, typer.Option("--key", help="The private key file (ed25519.key).")],
) -> None:
    """Sign the bundle's manifest with the publisher's private key."""
    from sdk import bundles

    try:
        private_key = bundles.load_private_key(key.read_bytes())
        signed_with = bundles.sign_bundle(bundle_dir, private_key)
    except (OSError, bundles.InvalidKey, bundles.BundleRefused) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"signed {bundle_dir} with key {signed_with}")


@app.command()
def verify(
    bundle_dir: Annotated[Path, typer.Argument(help="A signed bundle directory.")],
    public_key: Annotated[
        list[Path], typer.Option("--public-key", help="A trusted public key file; repeatable.")
    ],
) -> None:
    """Check a bundle as an installer will: signature, files, kernel compatibility."""
    from sdk import bundles

    keys = _public_keys(public_key)
    try:
        manifest = bundles.verify(bundle_dir, keys)
    except bundles.BundleRefused as exc:
        raise _fail(f"{type(exc).__name__}: {exc}") from exc
    typer.echo(
        f"ok: {manifest.slug} {manifest.version} signed by key {bundles.signing_key_id(bundle_dir)}"
    )


@app.command()
def publish(
    bundle_dir: Annotated[Path, typer.Argument(help="A signed bundle directory.")],
    url: Annotated[
        str, typer.Option("--url", help="The platform's base URL, e.g. https://tickets.example.com")
    ],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="TICKETING_PUBLISHER_TOKEN",
            show_envvar=True,
            help="The publisher's API token.",
        ),
    ],
    public_key: PublicKeys = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow plain HTTP to a host other than this one.")
    ] = False,
) -> None:
    """Check the signed bundle, then upload it to the platform's marketplace."""
    from sdk import bundles
    from sdk.tools.publish import PublishFailed
    from sdk.tools.publish import publish as upload

    keys = _public_keys(public_key or [])
    try:
        published = upload(bundle_dir, url, token, public_keys=keys, insecure=insecure)
    except bundles.BundleRefused as exc:
        raise _fail(f"{type(exc).__name__}: {exc}") from exc
    except PublishFailed as exc:
        raise _fail(str(exc)) from exc
    done = "published" if published.created else "already published"
    typer.echo(f"{done} {published.plugin} {published.version} (status: {published.status})")


def main() -> None:
    app()
