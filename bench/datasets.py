"""The evaluation sets for bench/vs_peers.py. Evaluation only: nothing here is ever trained on.

Groups:
  librivox   LibriVox read sentences (Debian `pocketsphinx-testdata`, `librivox/transcription`)
  cards      playing-card names (`cards/cards.transcription`)
  goforward  one command, "go forward ten meters" (`goforward.raw`, 16 kHz int16 without header)
  synthetic  the corpus's held-out speakers (data/corpus/test_synthetic.jsonl), when it was built
  noisy      the same commands mixed with noise (data/corpus/test_noisy.jsonl), when it was built
"real" is librivox + cards + goforward, reported as its own row by the benchmark.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "corpus"
REAL_GROUPS = ("librivox", "cards", "goforward")
SYNTHETIC_GROUPS = {"synthetic": "test_synthetic.jsonl", "noisy": "test_noisy.jsonl"}
ALL_GROUPS = REAL_GROUPS + tuple(SYNTHETIC_GROUPS)
GOFORWARD_TEXT = "go forward ten meters"

# Sphinx transcription lines: "<s> words </s> (utterance_id)"; the markers are not speech.
_SPHINX_LINE = re.compile(r"^\s*(?:<s>)?\s*(?P<text>.*?)\s*(?:</s>)?\s*\((?P<id>[^()]+)\)\s*$")


@dataclass
class Utterance:
    id: str
    group: str
    path: Path
    text: str  # the reference, as the set writes it (normalised only at scoring time)
    meta: dict = field(default_factory=dict)

    def load(self) -> np.ndarray:
        """float32 mono 16 kHz in [-1, 1]; every system gets these same samples."""
        return load_samples(self.path)


@dataclass
class GroupNote:
    """Why a requested group has no utterances (printed, never an error)."""

    group: str
    reason: str


def _shown(path: Path) -> str:
    """Paths inside the repository as relative ones, so notes read the same on every machine."""
    try:
        return str(path.resolve().relative_to(CORPUS_DIR.parents[1]))
    except ValueError:
        return str(path)


def load_samples(path: Path) -> np.ndarray:
    if path.suffix == ".raw":  # headerless: Sphinx test audio is 16 kHz little-endian int16
        return (np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0)
    from edge_audiollm.audio import load_audio  # validates, downmixes and resamples anything else

    return load_audio(path, target_sample_rate=SAMPLE_RATE).samples


def parse_sphinx_transcription(text: str) -> dict[str, str]:
    """{utterance id: words} from a Sphinx `.transcription` file."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _SPHINX_LINE.match(line)
        if m is None:
            raise ValueError(f"not a Sphinx transcription line: {line!r}")
        out[m.group("id").strip()] = " ".join(m.group("text").split())
    return out


def _sphinx_group(group: str, folder: Path, transcription: str) -> list[Utterance]:
    refs = parse_sphinx_transcription((folder / transcription).read_text())
    return [Utterance(uid, group, folder / f"{uid}.wav", text) for uid, text in sorted(refs.items())
            if (folder / f"{uid}.wav").exists()]


def real_group(group: str, root: Path = POCKETSPHINX_DATA) -> list[Utterance]:
    if group == "librivox":
        return _sphinx_group(group, root / "librivox", "transcription")
    if group == "cards":
        return _sphinx_group(group, root / "cards", "cards.transcription")
    if group == "goforward":
        path = root / "goforward.raw"
        return [Utterance("goforward", group, path, GOFORWARD_TEXT)] if path.exists() else []
    raise ValueError(f"unknown real group {group!r}")


def _subsample_key(row: dict) -> tuple[str, str]:
    # Hash of what was said, by whom and how, never of the path or id: test_noisy is
    # test_synthetic's commands again, so the commands picked from test_synthetic are also
    # picked from test_noisy and clean vs noisy compares like with like. Adding rows to the
    # corpus leaves the earlier picks in place. The path only breaks ties, for a stable order.
    key = "\x00".join(str(row.get(k)) for k in ("text", "voice", "speaker", "rate", "pitch_semitones"))
    return hashlib.sha1(key.encode()).hexdigest(), str(row.get("path"))


def synthetic_group(group: str, corpus_dir: Path = CORPUS_DIR, max_utterances: int | None = 200) -> list[Utterance]:
    manifest = corpus_dir / SYNTHETIC_GROUPS[group]
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    if max_utterances is not None and len(rows) > max_utterances:
        rows = sorted(rows, key=_subsample_key)[:max_utterances]
    out = []
    for row in rows:
        path = Path(row["path"])
        if not path.is_absolute():
            path = corpus_dir / path  # manifests write paths relative to the corpus directory
        meta = {k: row[k] for k in ("intent", "slots", "voice", "kind", "snr_db") if k in row}
        out.append(Utterance(str(row.get("id") or path.stem), group, path, row.get("text") or "", meta))
    return sorted(out, key=lambda u: u.id)


def load_groups(groups: list[str], *, corpus_dir: Path = CORPUS_DIR, max_synthetic: int | None = 200,
                sphinx_root: Path = POCKETSPHINX_DATA) -> tuple[dict[str, list[Utterance]], list[GroupNote]]:
    """Utterances per group, and a note for each requested group that could not be loaded."""
    sets: dict[str, list[Utterance]] = {}
    notes: list[GroupNote] = []
    for group in groups:
        if group in REAL_GROUPS:
            utts = real_group(group, sphinx_root) if sphinx_root.is_dir() else []
            if not utts:
                notes.append(GroupNote(group, f"no audio under {sphinx_root}: apt-get install -y pocketsphinx-testdata"))
                continue
        elif group in SYNTHETIC_GROUPS:
            manifest = corpus_dir / SYNTHETIC_GROUPS[group]
            if not manifest.exists():
                notes.append(GroupNote(group, f"{_shown(manifest)} absent: build the corpus (python -m models.data.build_corpus)"))
                continue
            utts = synthetic_group(group, corpus_dir, max_synthetic)
            missing = [u for u in utts if not u.path.exists()]
            if missing:
                notes.append(GroupNote(group, f"{len(missing)} of {len(utts)} files listed in {manifest.name} are missing; "
                                              f"skipped them (first: {missing[0].path})"))
                utts = [u for u in utts if u.path.exists()]
            if not utts:
                continue
        else:
            raise ValueError(f"unknown group {group!r}; choose from {', '.join(ALL_GROUPS)}")
        sets[group] = utts
    return sets, notes
