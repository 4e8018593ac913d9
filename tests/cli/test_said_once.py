"""A garbage .npz in a client's data directory: the client says the DataError once, not at every poll."""

from __future__ import annotations

from pathlib import Path

from cli.said_once import SaidOnce
from client.driver import ParticipantDriver
from client.service import Client
from client.state import ClientState
from tests.protocol.conftest import build_federation

POLLS = 5


def test_a_client_says_a_repeated_error_once_until_it_changes(tmp_path: Path) -> None:
    federation = build_federation(tmp_path / "federation")
    template = federation.clients[0]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    said: list[str] = []
    log = SaidOnce(said.append)
    client = Client(template.contract, federation.store, template.data, ClientState(tmp_path / "client"),
                    template.settings, log, data_dir=data_dir)
    federation.organization.open_round()
    (data_dir / "part.npz").write_bytes(b"not an archive at all" * 10)  # appears while the client runs
    polls = iter(range(POLLS + 1))
    ParticipantDriver(client).run(poll_seconds=0, should_stop=lambda: next(polls) == POLLS)
    problems = [line for line in said if "part.npz" in line]
    assert len(problems) == 1, said  # five polls, one line

    log("something else happened")  # after another line, the same error is said once more
    polls = iter(range(POLLS + 1))
    ParticipantDriver(client).run(poll_seconds=0, should_stop=lambda: next(polls) == POLLS)
    assert sum("part.npz" in line for line in said) == 2, said
