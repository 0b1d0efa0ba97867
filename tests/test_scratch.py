"""The scratch encoder's trainer in its tiny configuration on a few synthesised utterances:
the CTC loss falls, a rerun resumes from the saved step, and the evaluation writes figures."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def test_tiny_scratch_training_learns_resumes_and_evaluates(tmp_path):
    from models.data.build_corpus import BuildOptions, build
    from models.data.plan import PlanOptions
    from models.train.train_scratch import CONFIGS, run

    corpus = tmp_path / "corpus"
    voices = ("espeak_us_klatt", "espeak_us_klatt2", "espeak_us_klatt4")
    build(BuildOptions(out=corpus, plan=PlanOptions(hours=0.01, max_utterances=16), voices=voices, audit=False),
          log=lambda *a, **k: None)
    cfg = replace(CONFIGS["tiny"], corpus=str(corpus), ckpt=str(tmp_path / "ckpt"),
                  results=str(tmp_path / "scratch.json"), steps=20)
    lines: list[str] = []
    result = run(cfg, log=lines.append)
    losses = [loss for _, loss in result["losses"]]
    assert result["steps"] == 20 and len(losses) == 4
    assert losses[-1] < 0.8 * losses[0], losses
    saved = json.loads((tmp_path / "ckpt" / "encoder_ctc.json").read_text())
    assert saved["step"] == 20 and saved["wall_s"] > 0
    assert (tmp_path / "ckpt" / "encoder_ctc.safetensors").stat().st_size < 100_000
    written = json.loads((tmp_path / "scratch.json").read_text())
    assert written["params"] == result["params"] > 0
    for name in ("valid", "test_synthetic"):
        s = written["sets"][name]
        assert s["utterances"] == 2 and s["ctc_cer"] >= 0.0 and s["ctc_wer"] >= 0.0

    # A longer budget continues from step 20 with the saved weights; it does not start again.
    lines.clear()
    result = run(replace(cfg, steps=30), log=lines.append)
    assert "resuming from step 20" in "\n".join(lines)
    steps_logged = [int(line.split()[1].split("/")[0]) for line in lines if line.strip().startswith("step ")]
    assert steps_logged == [25, 30], lines
    assert result["steps"] == 30 and result["train_wall_s"] > saved["wall_s"]
    assert result["losses"][:4] == [list(x) for x in saved["losses"]]
