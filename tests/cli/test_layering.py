"""Layering: the web interfaces show errors defined below the command line, and never import it."""

from __future__ import annotations

import subprocess
import sys

from chain.paths import REPO_ROOT


def test_the_web_layer_imports_nothing_of_the_command_line() -> None:
    probe = ("import sys, webui.errors, webui.link, organization.web.node, client.web.node; "
             "print(sorted(name for name in sys.modules if name == 'cli' or name.startswith('cli.')))")
    imported = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True, timeout=120).stdout.strip()
    assert imported == "[]"


def test_chain_transports_do_not_carry_node_processes() -> None:
    import chain.backends
    import chain.nodes

    assert not hasattr(chain.backends, "GanacheProcess") and not hasattr(chain.backends, "ganache_command")
    assert hasattr(chain.nodes, "start_ganache") and hasattr(chain.nodes, "start_anvil")
