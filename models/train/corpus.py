"""Reading the corpus manifests (models/data/build_corpus.py writes them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    uid: str
    path: Path
    text: str
    intent: str | None
    slots: dict
    voice: str
    duration_s: float


def read_split(corpus_dir: Path, split: str) -> list[Utterance]:
    manifest = corpus_dir / f"{split}.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: build the corpus first (python -m models.data.build_corpus)")
    out = []
    for i, line in enumerate(manifest.read_text().splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        path = Path(row["path"])
        if not path.is_absolute():
            path = corpus_dir / path
        uid = f"{split}-{i:06d}-{path.stem}"
        out.append(Utterance(uid, path, row.get("text", ""), row.get("intent"), row.get("slots") or {},
                             row.get("voice") or "none", float(row.get("duration_s", 0.0))))
    return out
