"""The default-bundle recipe end to end in a tiny configuration: corpus -> Whisper encoder
cache -> CTC head -> text LLM -> audio LLM -> int8 bundle -> Pipeline; then a rerun
resumes from the checkpoints instead of training again."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("faster_whisper")
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def test_tiny_recipe_builds_a_loadable_bundle_and_resumes(tmp_path, speech_wav):
    from edge_audiollm import Pipeline
    from models.data.build_corpus import BuildOptions, build
    from models.data.plan import PlanOptions
    from models.train.recipe import CONFIGS, run

    corpus = tmp_path / "corpus"
    voices = ("espeak_us_klatt", "espeak_us_klatt2", "espeak_us_klatt4")
    build(BuildOptions(out=corpus, plan=PlanOptions(hours=0.02, max_utterances=30), voices=voices, audit=False),
          log=lambda *a, **k: None)
    cfg = replace(CONFIGS["tiny"], corpus=str(corpus), cache=str(tmp_path / "cache"), ckpt=str(tmp_path / "ckpt"),
                  out=str(tmp_path / "bundle"), encoder_onnx=str(tmp_path / "whisper" / "encoder.int8.onnx"))
    lines: list[str] = []
    metrics = run(cfg, log=lines.append)
    assert any(line.startswith("[2] training the CTC head") for line in lines)
    assert any(line.startswith("[4b] training the LLM on heard words") for line in lines)
    assert 0.0 <= metrics["valid"]["ctc_cer"] and metrics["valid"]["utterances"] > 0

    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert manifest["encoder"]["kind"] == "whisper-tiny.en" and manifest["adapter"]["stride"] == 4
    assert manifest["sources"][0]["license"] == "MIT" and len(manifest["sources"][0]["model_bin_sha256"]) == 64
    assert "licenses/WHISPER_LICENSE" in manifest["files"]
    assert manifest["files"]["encoder.onnx"]["quantization"].startswith("int8")

    pipe = Pipeline.load(tmp_path / "bundle")
    r = pipe.transcribe(speech_wav)
    assert r.bundle == "default" and r.provider == "cpu" and "encoder" in r.timings_ms
    u = pipe.understand(speech_wav)
    from edge_audiollm.intents import intent_names

    assert u.intent in intent_names()

    # Rerun into a new bundle directory: every stage's weights are there, so nothing trains.
    lines.clear()
    run(replace(cfg, out=str(tmp_path / "bundle2")), log=lines.append)
    assert not any("training" in line for line in lines), lines

    # The frame-rate tradeoff (issue 8) on the same checkpoints: one variant per family, each
    # trained at its rate with LoRA, exported as a bundle the runtime loads like the default.
    from edge_audiollm.segments import ctc_segments
    from edge_audiollm.tradeoff import EvalItem, measure_bundles
    from models.train import tradeoff as T
    from models.train.variant_bundle import build_variant_bundle

    sweep = replace(T.SWEEPS["tiny"], recipe=cfg, ckpt=str(tmp_path / "tradeoff"))
    tok, _, _ = T.load_base(sweep)
    data = T.load_data(sweep, tok, log=lines.append)
    trained = ["strided4", "mlp", "conv4", "qformer_w17_q2", "ctc_mean_g2"]
    dirs = {}
    for name in trained + ["mlp_pool4"]:
        if name in trained:
            info = T.train_variant(sweep, name, data, log=lines.append)
            assert info["valid"]["utterances"] > 0 and (tmp_path / "tradeoff" / name / "lora.safetensors").is_file()
        _, _, adapter, lm = T.load_variant(sweep, name)
        dirs[name] = build_variant_bundle(tmp_path / "variants" / name, base=tmp_path / "bundle", name=name,
                                          adapter=adapter, lm=lm, quantize=True, encoder_fp32=None,
                                          training={"variant": name}, log=lines.append)
    hidden = log_probs = None
    for name, d in dirs.items():
        p = Pipeline.load(d)
        assert isinstance(p.transcribe(speech_wav).text, str)
        if hidden is None:
            a = __import__("edge_audiollm.audio", fromlist=["load_audio"]).load_audio(speech_wav, target_sample_rate=16000)
            hidden, log_probs, _ = p.encode(a.samples)
        t = hidden.shape[0]
        expected = {"strided4": -(-t // 4), "mlp": t, "conv4": -(-t // 4), "qformer_w17_q2": -(-t // 17) * 2,
                    "ctc_mean_g2": ctc_segments(log_probs, group=2).shape[0], "mlp_pool4": -(-t // 4)}[name]
        assert p.adapt(hidden, log_probs).shape == (expected, cfg.llm.dim), name
    rows = measure_bundles(list(dirs.values()), {"one": [EvalItem(speech_wav, "hello", "unknown")]})
    assert [r["bundle"] for r in rows] == list(dirs)
    assert all(r["quantization"] == "int8" and r["sets"]["one"]["summary"]["utterances"] == 1 for r in rows)
    assert rows[-1]["adapter"]["pool_at_inference"] == 4

    # The discrete path (issue 9): the shipped codec's tokens of the same corpus, a token adapter
    # trained the same way, a bundle whose encoder is the codec's, measured beside the others.
    from models.train.encode_cache import encode_split
    from models.train.variant_bundle import build_codec_variant_bundle

    codec_dir = Path(__file__).resolve().parents[1] / "edge_audiollm" / "bundles" / "codec"
    for split in ("train", "valid"):
        encode_split(corpus, split, codec_dir, tmp_path / "codec-cache", log=lines.append)
    sweep = replace(sweep, token_corpus=str(corpus), token_cache=str(tmp_path / "codec-cache"), codec_bundle=str(codec_dir))
    tokens = T.load_data(sweep, tok, log=lines.append, inputs="codec_tokens")
    first = next(iter(tokens["states"].values()))
    assert first.dtype == np.int16 and first.shape[1] == 12 and 0 <= first.min() and first.max() < 1024
    info = T.train_variant(sweep, "codec_sum12_ctx3", tokens, log=lines.append)
    assert info["valid"]["ctc_wer"] is None and info["valid"]["utterances"] > 0
    _, _, adapter, lm = T.load_variant(sweep, "codec_sum12_ctx3")
    d = build_codec_variant_bundle(tmp_path / "variants" / "codec", base=tmp_path / "bundle", codec_dir=codec_dir,
                                   name="codec", adapter=adapter, lm=lm, quantize=True, training=info, log=lines.append)
    p = Pipeline.load(d)
    assert p.encoder_input == "waveform" and isinstance(p.understand(speech_wav).intent, str)
    rows = measure_bundles([dirs["strided4"], d], {"one": [EvalItem(speech_wav, "hello", "unknown")]})
    assert rows[1]["adapter"]["kind"] == "codec_tokens" and rows[1]["sets"]["one"]["summary"]["ctc_wer"] is None
    assert rows[0]["sets"]["one"]["summary"]["ctc_wer"] is not None


def test_every_recipe_config_reads_its_encoders_width():
    # A config whose head or adapter expects another width than its encoder emits would only
    # fail after minutes of encoding; the widths are Whisper's: tiny.en 384, base 512.
    from models.train.recipe import CONFIGS

    widths = {"tiny.en": 384, "base": 512}
    for name, cfg in CONFIGS.items():
        assert cfg.encoder_dim == widths[cfg.whisper], name
        assert cfg.ctc.in_dim == cfg.adapter.in_dim == cfg.encoder_dim, name
    assert len({CONFIGS[n].cache for n in CONFIGS}) == len(CONFIGS)  # no two configs share encoder states
