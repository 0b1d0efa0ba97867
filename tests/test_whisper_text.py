"""Whisper's text decoder in the default bundle (edge_audiollm/whisper_text.py): real ONNX
sessions on the committed files, speech from a voice the bundle never trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_audiollm import Pipeline, wer
from edge_audiollm.bundle import load_bundle
from edge_audiollm.errors import BundleError, EdgeAudioError, FeatureError
from edge_audiollm.whisper_text import WhisperTextDecoder, WhisperTextOptions, spoken_words, trim_loop

EXAMPLE = Path(__file__).resolve().parents[1] / "edge_audiollm" / "assets" / "set_an_alarm.wav"


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    p = Pipeline.load("default", providers=["cpu"], threads=1)
    if p.whisper_text is None:
        pytest.fail("the default bundle carries Whisper's text decoder (python -m export.whisper_decoder_export --bundle)")
    return p


@pytest.fixture(scope="module")
def states(pipe):
    import soundfile as sf

    samples, rate = sf.read(EXAMPLE, dtype="float32")
    assert rate == 16000
    hidden, _, _ = pipe.encode(samples)
    return hidden


# ---------------------------------------------------------------------------- loops


def test_trim_loop_keeps_two_of_a_repeated_token_and_one_of_a_repeated_phrase():
    assert trim_loop([7, 5, 5, 5, 5, 5], 2) == [7, 5, 5]
    assert trim_loop([1, 2, 3, 2, 3, 2, 3], 2) == [1, 2, 3]
    assert trim_loop([1, 2, 3, 4], 2) == [1, 2, 3, 4]
    assert trim_loop([5, 5], 2) == [5, 5]


@given(st.lists(st.integers(0, 5), max_size=12), st.lists(st.integers(0, 5), min_size=1, max_size=4), st.integers(2, 6))
def test_trim_loop_only_cuts_a_repeating_tail(prefix, unit, copies):
    ids = prefix + unit * copies
    out = trim_loop(ids, 2)
    assert out and ids[: len(out)] == out  # a prefix: nothing is rewritten, only the tail is cut
    assert trim_loop(out, 2) == out  # what is left no longer loops
    if len(unit) > 1 and len(set(unit)) == len(unit):  # a phrase of distinct tokens: one copy is left
        assert out[-len(unit):] != out[-2 * len(unit):-len(unit)] or len(out) < 2 * len(unit)


@pytest.mark.parametrize("written, spoken", [
    ("Set an alarm for 730.", "set an alarm for seven thirty"),
    ("Set an alarm for 7.30.", "set an alarm for seven thirty"),
    ("Create an alarm for 10.55 P.M.", "create an alarm for ten fifty five p m"),
    ("At 755, remind me to call mom.", "at seven fifty five remind me to call mom"),
    ("Wake me at 6 a.m.", "wake me at six a m"),
    # quantities stay quantities
    ("Set a timer for 100 seconds.", "set a timer for one hundred seconds"),
    ("Turn the volume to 100.", "turn the volume to one hundred"),
    ("Less than 0.55 kilogram.", "less than zero point five five kilogram"),
    ("A table for 730 people.", "a table for seven hundred thirty people"),
])
def test_spoken_words_says_clock_times_as_times(written, spoken):
    assert spoken_words(written) == spoken


# ---------------------------------------------------------------------------- decoding


def test_reads_an_unseen_voice(pipe, states):
    r = pipe.whisper_text.decode(states)
    assert r.text.startswith("Set an alarm for") and r.text.replace(":", "").replace(".", "").rstrip().endswith("730")
    assert not r.capped and -1.0 < r.mean_logprob <= 0.0
    assert len(r.token_ids) >= 5


def test_pooled_silence_writes_what_the_whole_memory_writes(pipe, states):
    pooled = pipe.whisper_text.decode(states)
    whole = pipe.whisper_text.decode(states, WhisperTextOptions(pool_silence=False))
    assert pooled.token_ids == whole.token_ids
    kv, bias = pipe.whisper_text.memory_kv(states)
    full_kv, _ = pipe.whisper_text.memory_kv(states, pool=False)
    assert full_kv.shape[2] == 1500 and kv.shape[2] < len(states) + 50 + 30
    assert bias.shape == (kv.shape[2],) and bias.max() == pytest.approx(np.log(50))


def test_greedy_is_a_beam_of_one_and_the_beam_scores_at_least_as_well(pipe, states):
    w = pipe.whisper_text
    greedy = w.decode(states, WhisperTextOptions(beam_size=1))
    # greedy by hand: the best next token each step, from the same log-probabilities
    cross, bias = w.memory_kv(states)
    past = np.zeros((w.n_kv, 1, 0, w.d_model), np.float32)
    x, ids = w.embed(w.prompt, 0)[None], []
    while True:
        out, past = w.step.run({"inputs_embeds": x, "past_kv": past, "cross_kv": cross, "cross_bias": bias})
        tok = int(np.argmax(w.log_probs(out[0, -1], first=not ids)[0]))
        if tok == w.eot:
            break
        ids.append(tok)
        x = w.embed([tok], len(w.prompt) + len(ids) - 1)[None]
    assert greedy.token_ids == tuple(int(w.full_ids[i]) for i in ids)
    beam = w.decode(states, WhisperTextOptions(beam_size=3))
    assert beam.mean_logprob >= greedy.mean_logprob - 1e-9
    with pytest.raises(EdgeAudioError, match="beam_size must be at least 1"):
        w.decode(states, WhisperTextOptions(beam_size=0))


def test_the_token_cap_ends_a_run(pipe, states):
    r = pipe.whisper_text.decode(states, WhisperTextOptions(max_tokens_per_second=0.5, min_tokens=2))
    assert r.capped and len(r.token_ids) <= 2


def test_pipeline_transcribes_and_understands_with_whisper_words(pipe):
    t = pipe.transcribe(EXAMPLE)
    assert t.decoder == pipe.default_decoder == "whisper"
    assert t.text.startswith("Set an alarm for") and "whisper_decode" in t.timings_ms
    u = pipe.understand(EXAMPLE)
    assert (u.intent, u.slots) == ("set_alarm", {"time": "07:30"})
    assert u.text == spoken_words(t.text) == "set an alarm for seven thirty"  # what the intent reader learned
    assert "whisper_decode" in u.timings_ms
    fast = pipe.understand(EXAMPLE, words="ctc")
    assert (fast.intent, fast.slots) == ("set_alarm", {"time": "07:30"}) and "whisper_decode" not in fast.timings_ms
    with pytest.raises(EdgeAudioError, match="words must be one of"):
        pipe.understand(EXAMPLE, words="llm")


def test_silence_and_noise_are_not_decoded(pipe):
    rng = np.random.default_rng(0)
    for audio in (np.zeros(16000 * 10, np.float32), (0.05 * rng.standard_normal(16000 * 10)).astype(np.float32)):
        r = pipe.transcribe(audio, sample_rate=16000, decoder="whisper")
        assert r.text == "" and "whisper_decode" not in r.timings_ms


def test_audio_past_the_30_s_window_is_transcribed_in_windows(pipe):
    import soundfile as sf

    one, _ = sf.read(EXAMPLE, dtype="float32")
    gap = np.zeros(16000 * 4, np.float32)
    long = np.concatenate([one, gap] * 8)  # ~48 s
    r = pipe.transcribe(long, sample_rate=16000)
    assert r.audio_seconds > 30
    words = wer.normalize(r.text).split()
    assert words.count("alarm") >= 7
    with pytest.raises(EdgeAudioError, match="understand reads one request"):
        pipe.understand(long, sample_rate=16000)


def test_bad_states_are_refused_with_the_shape_named(pipe):
    with pytest.raises(FeatureError, match=r"\(T, 384\)"):
        pipe.whisper_text.decode(np.zeros((10, 80), np.float32))
    with pytest.raises(FeatureError, match="30 s window"):
        pipe.whisper_text.decode(np.zeros((1501, 384), np.float32))


def test_a_bundle_without_the_decoder_refuses_it_by_name(tmp_path):
    from export.tiny_bundle import build_tiny_bundle

    path = build_tiny_bundle(tmp_path / "tiny")
    p = Pipeline.load(path, providers=["cpu"], threads=1)
    with pytest.raises(BundleError, match="no Whisper text decoder"):
        p.transcribe(np.zeros(16000, np.float32), sample_rate=16000, decoder="whisper")


def test_a_damaged_section_names_what_is_missing(tmp_path):
    src = load_bundle("default").path
    dst = tmp_path / "b"
    shutil.copytree(src, dst)
    m = json.loads((dst / "manifest.json").read_text())
    beams = m["whisper_text"]["beam_size"]
    assert beams == {"transcribe": 2, "understand": 1}
    m["whisper_text"]["beam_size"] = {"transcribe": 0}
    (dst / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="beam_size must map tasks to beams >= 1"):
        WhisperTextDecoder(load_bundle(dst))
    m["whisper_text"]["beam_size"] = beams
    del m["whisper_text"]["silence"]
    (dst / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="silence"):
        WhisperTextDecoder(load_bundle(dst))
    m["default_decoder"] = "whisper"
    del m["whisper_text"]
    (dst / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="default_decoder 'whisper'"):
        Pipeline.load(dst)


def test_the_exporter_adds_a_decoder_that_reads_the_example(tmp_path):
    """export/whisper_decoder_export.py end to end on a copy of the default bundle, its vocabulary
    ranked by a few sentences (the recipe ranks it by the Debian text packages)."""
    from export.whisper_decoder_export import DecoderExportOptions, add_whisper_text, token_counts
    from export.whisper_import import find_packaged_whisper

    dst = tmp_path / "b"
    shutil.copytree(load_bundle("default").path, dst)
    source = find_packaged_whisper("tiny.en")
    counts = token_counts(source.support_dir, ["Set an alarm for 7:30.", "Ten of clubs, four of hearts.",
                                               "Turn the lights off in the kitchen, please."])
    before = (dst / "encoder.onnx").read_bytes()
    section = add_whisper_text(dst, source, DecoderExportOptions(keep_tokens=1024, quantize="int8"), counts=counts)
    assert section["kept_tokens"] <= 1024 + 5 and (dst / "encoder.onnx").read_bytes() == before
    m = json.loads((dst / "manifest.json").read_text())
    assert m["files"]["whisper_step.onnx"]["quantization"].startswith("int8")
    assert m["files"]["whisper_tokens.onnx"]["quantization"] == "int8-per-token"
    assert [s["used_for"] for s in m["sources"]] == [["encoder", "text decoder"]]
    p = Pipeline.load(dst, providers=["cpu"], threads=1)  # every hash checked
    assert p.transcribe(EXAMPLE).text.startswith("Set an alarm for")
