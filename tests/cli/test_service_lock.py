"""One organization per home: a second one is refused at once, with the holder's PID and command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli.main import main
from cli.service_lock import sole_service
from protocol.errors import UserError
from tests.processes import Service
from tests.support import free_port


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    lock = tmp_path / "service.lock"
    refused = pytest.raises(UserError, match=f"another organization service already runs .*PID {os.getpid()}: ")
    with sole_service(lock, "organization service"), refused, sole_service(lock, "organization service"):
        pass
    with sole_service(lock, "organization service"):  # released: taken again
        pass


def test_a_second_organization_on_a_home_names_the_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path)]
    first = Service("organization", "--headless", "--chain", f"http://127.0.0.1:{free_port()}", *home)
    try:
        first.wait_for("waiting for the chain")  # it holds the home's lock and waits for a chain
        assert main(["organization", "--headless", *home]) == 1
        said = capsys.readouterr().err
        assert said.count("\n") == 1
        assert f"PID {first.process.pid}: " in said and "run.py organization --headless --chain" in said
    finally:
        first.stop()
