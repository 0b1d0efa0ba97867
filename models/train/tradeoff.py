"""Train the frame-rate tradeoff's variants (issue 8): every adapter family at the rate it
is deployed at, with the same frozen encoder cache, the same text-trained LLM, the same
data, budget and seed. Only the adapter and a LoRA on the LLM learn, so each variant
stores a few MB and the base LLM is shared.

    python -m models.train.tradeoff                    # every variant not trained yet
    python -m models.train.tradeoff --only mlp,conv4   # some
    python -m models.train.tradeoff --config tiny      # minutes; what the tests run
    python -m models.train.tradeoff --only codec_cb1,codec_sum12   # the discrete path (issue 9)

The discrete-path variants (codec_*) read the codec's tokens instead of the encoder's states:
cache them first (python -m models.train.encode_cache --encoder edge_audiollm/bundles/codec
--out data/cache/codec-mel --splits train valid). They train on the corpus the encoder rows
were trained on (data/corpus: 3.46 h, 17 voices), with the same LLM, LoRA, budget and seed.

Weights go to <ckpt>/<variant>/{adapter,lora}.safetensors with a metrics.json (valid split,
torch). A variant whose weights exist is skipped: the sweep resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from edge_audiollm.segments import ctc_segments
from models import lora
from models.adapters import variants
from models.ctc_head import CtcHead
from models.llm import TinyLM
from models.tokenizer import Tokenizer

from . import checkpoints
from .corpus import read_split
from .encode_cache import cached_encoder, load_states
from .evaluate import evaluate
from .examples import LMExample, StateMasking, targets_for
from .recipe import CONFIGS as RECIPES
from .recipe import RecipeConfig
from .train_lm import LMTrainOptions, train_lm


@dataclass(frozen=True)
class SweepConfig:
    recipe: str | RecipeConfig = "default"  # corpus, cache, tokenizer, CTC head and LLM shape come from here
    ckpt: str = "models/checkpoints/tradeoff"
    steps: int = 1000
    batch_size: int = 24
    lr: float = 1e-3
    lora_rank: int = 32
    text_fraction: float = 0.25
    eval_utterances: int = 60
    seed: int = 1
    # The discrete path's data: codec tokens (encode_cache --encoder <codec bundle>) of this corpus
    token_corpus: str = "data/corpus"
    token_cache: str = "data/cache/codec-mel"
    codec_bundle: str = "edge_audiollm/bundles/codec"


SWEEPS = {
    "default": SweepConfig(),
    "tiny": SweepConfig(recipe="tiny", ckpt="runs/tiny/tradeoff", steps=6, batch_size=4, lora_rank=4,
                        eval_utterances=3),
}


def recipe_of(sweep: SweepConfig) -> RecipeConfig:
    return sweep.recipe if isinstance(sweep.recipe, RecipeConfig) else RECIPES[sweep.recipe]


def build_adapter(sweep: SweepConfig, name: str):
    rc = recipe_of(sweep)
    return variants.build(name, rc.encoder_dim, rc.llm.dim)


def base_llm_path(sweep: SweepConfig) -> Path:
    return Path(sweep.ckpt) / "llm_base.safetensors"


def load_base(sweep: SweepConfig) -> tuple[Tokenizer, CtcHead, TinyLM]:
    """The shared pieces: the recipe's tokenizer and CTC head, and the LLM after its text stage.
    The sweep keeps its own copy of each (taken from the recipe on first use), so retraining the
    default bundle never changes what the committed variants were trained against."""
    rc = recipe_of(sweep)
    for name in ("tokenizer.json", "ctc_head.safetensors"):
        own, recipe_file = Path(sweep.ckpt) / name, Path(rc.ckpt) / name
        if not own.is_file():
            if not recipe_file.is_file():
                raise SystemExit(f"no {name} in {rc.ckpt}: run the recipe (python -m models.train.recipe) first")
            own.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(recipe_file, own)
    tok = Tokenizer.load(Path(sweep.ckpt) / "tokenizer.json")
    head = CtcHead(rc.ctc)
    checkpoints.load(head, Path(sweep.ckpt) / "ctc_head.safetensors")
    base = base_llm_path(sweep)
    if not base.is_file():
        text_stage = Path(rc.ckpt) / "llm_text.safetensors"
        if not text_stage.is_file():
            raise SystemExit(f"neither {base} nor {text_stage}: run the recipe's text stage first")
        base.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(text_stage, base)
    lm = TinyLM(replace(rc.llm, vocab_size=len(tok)))
    checkpoints.load(lm, base)
    return tok, head.eval(), lm


def load_variant(sweep: SweepConfig, name: str) -> tuple:
    """(adapter, lm with its LoRA merged) of a trained variant, in eval mode; pooled rows too."""
    name, pool = variants.trained_name(name)
    tok, head, lm = load_base(sweep)
    adapter = build_adapter(sweep, name)
    d = Path(sweep.ckpt) / name
    lora.add_lora(lm, sweep.lora_rank, float(sweep.lora_rank))
    if not checkpoints.load(adapter, d / "adapter.safetensors"):
        raise SystemExit(f"variant {name!r} is not trained ({d}); run python -m models.train.tradeoff --only {name}")
    state = _load_tensors(d / "lora.safetensors")
    missing = lm.load_state_dict(state, strict=False)
    if missing.unexpected_keys:
        raise SystemExit(f"{d}/lora.safetensors does not fit the LLM: {missing.unexpected_keys[:3]}")
    lora.merge_lora(lm)
    if pool:
        adapter = variants.pooled(adapter, pool)
    return tok, head, adapter.eval(), lm.eval()


def segments_for(head: CtcHead, states: dict[str, np.ndarray], group: int, blank: int) -> dict[str, np.ndarray]:
    out = {}
    with torch.no_grad():
        for k, s in states.items():
            lp = head(torch.from_numpy(s.astype(np.float32))[None])[0].numpy()
            out[k] = ctc_segments(lp, blank=blank, group=group)
    return out


def train_variant(sweep: SweepConfig, name: str, data: dict, log=print) -> dict:
    tok, head, lm = load_base(sweep)
    torch.manual_seed(sweep.seed)
    adapter = build_adapter(sweep, name)
    lora.add_lora(lm, sweep.lora_rank, float(sweep.lora_rank))
    segs = None
    if adapter.uses_segments:
        segs = segments_for(head, data["states"], adapter.cfg.group, adapter.cfg.blank)
    n_params = sum(p.numel() for p in adapter.parameters())
    log(f"[{name}] adapter {n_params / 1e6:.2f} M parameters, {adapter.spec()}")
    t0 = time.time()
    tokens = adapter.inputs == "codec_tokens"
    # SpecAugment-style masking zeroes spans of states; zeroed codes would be code 0, a real sound
    masking = None if tokens else StateMasking()
    train_lm(lm, tok, data["audio_examples"],
             LMTrainOptions(steps=sweep.steps, batch_size=sweep.batch_size, lr=sweep.lr,
                            text_fraction=sweep.text_fraction, masking=masking, seed=sweep.seed, log_every=100),
             adapter=adapter, states=data["states"], text_examples=data["text_examples"], segments=segs, log=log)
    seconds = time.time() - t0
    d = Path(sweep.ckpt) / name
    checkpoints.save(adapter, d / "adapter.safetensors")
    _save_tensors(lora.lora_state(lm), d / "lora.safetensors")
    lora.merge_lora(lm)
    valid = data["valid"][: sweep.eval_utterances]
    metrics = evaluate(None if tokens else head, adapter.eval(), lm.eval(), tok, valid, data["states"], segs)
    info = {"variant": name, "adapter": adapter.spec(), "adapter_parameters": n_params,
            "train_seconds": round(seconds, 1), "sweep": asdict(sweep), "valid": metrics}
    if tokens:  # which codec's codes it learned: a bundle pairs it with that codec's encoder only
        info["codec_encoder_sha256"] = cached_encoder(Path(sweep.token_cache), "train")
    (d / "metrics.json").write_text(json.dumps(info, indent=1) + "\n")
    log(f"[{name}] {seconds:.0f} s; valid llm_wer {metrics['llm_wer']} intent {metrics['intent_accuracy']}")
    return info


def load_data(sweep: SweepConfig, tok: Tokenizer, log=print, inputs: str = "encoder_states") -> dict:
    """Training and validation data of the variants reading `inputs` (an Adapter.inputs)."""
    rc = recipe_of(sweep)
    corpus, cache = Path(rc.corpus), Path(rc.cache)
    if inputs == "codec_tokens":
        corpus, cache = Path(sweep.token_corpus), Path(sweep.token_cache)
        if not (cache / "valid").is_dir():
            raise SystemExit(f"no codec tokens in {cache}: python -m models.train.encode_cache --corpus {corpus} "
                             f"--encoder {sweep.codec_bundle} --out {cache} --splits train valid")
    train, valid = read_split(corpus, "train"), read_split(corpus, "valid")
    states = {u.uid: load_states(cache, s, u.uid) for s, us in (("train", train), ("valid", valid)) for u in us}
    audio_examples, text_examples = [], []
    for u in train:
        for task, target in targets_for(tok, u.text, u.intent, u.slots).items():
            audio_examples.append(LMExample(task, None, u.uid, tuple(target)))
            if u.text:
                text_examples.append(LMExample(task, tuple(tok.encode(u.text)), None, tuple(target)))
    log(f"train {len(train)} utterances, {len(audio_examples)} audio and {len(text_examples)} text examples")
    return {"states": states, "audio_examples": audio_examples, "text_examples": text_examples,
            "valid": [u for u in valid if u.text]}


def _save_tensors(state: dict, path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in state.items()}, str(tmp))
    tmp.rename(path)


def _load_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return {k: v.to(torch.float32) for k, v in load_file(str(path)).items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="default", choices=sorted(SWEEPS))
    p.add_argument("--only", help="comma-separated variant names (default: all)")
    p.add_argument("--retrain", action="store_true", help="train even if the variant's weights exist")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sweep = SWEEPS[a.config]
    names = a.only.split(",") if a.only else list(variants.VARIANTS)
    for n in names:
        variants.build(n)  # unknown names fail before any work
    todo = [n for n in names if a.retrain or not (Path(sweep.ckpt) / n / "lora.safetensors").is_file()]
    log = lambda *m: print(*m, flush=True)  # noqa: E731
    if not todo:
        log("every variant is trained")
        return
    tok, _, _ = load_base(sweep)
    by_inputs: dict[str, list[str]] = {}
    for n in todo:
        by_inputs.setdefault(variants.build(n).inputs, []).append(n)
    for inputs, names_of in by_inputs.items():
        data = load_data(sweep, tok, log, inputs)
        for n in names_of:
            train_variant(sweep, n, data, log)


if __name__ == "__main__":
    main()
