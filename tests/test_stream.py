"""Streams on real ONNX sessions (the tiny fixture bundle) and real synthesised speech:
event order, times, endpoint rules, chunk/rate invariance, bounded partial cost, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edge_audiollm import Pipeline
from edge_audiollm.endpoint import EndpointOptions, endpoint_rule
from edge_audiollm.errors import EdgeAudioError
from edge_audiollm.events import Final, Partial, SpeechStarted
from edge_audiollm.resampler import StreamResampler

SR = 16000


@pytest.fixture(scope="module")
def pipe(tiny_bundle):
    return Pipeline.load(tiny_bundle, providers=["cpu"], threads=1)


@pytest.fixture(scope="module")
def speech(speech_16k):
    """(samples, list of (start_s, end_s) of the two spoken commands in it)."""
    frames = speech_16k[: len(speech_16k) // 320 * 320].reshape(-1, 320)
    idx = np.flatnonzero(10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10) > -45)
    a, b = idx[0] * 0.02, (idx[-1] + 1) * 0.02  # the synthesiser's own leading/trailing silence
    gap = np.zeros(SR * 2, np.float32)
    x = np.concatenate([np.zeros(SR, np.float32), speech_16k, gap, speech_16k, np.zeros(SR, np.float32)])
    first = (1.0 + a, 1.0 + b)
    off = 1.0 + len(speech_16k) / SR + 2.0
    return x, [first, (off + a, off + b)]


def feed(stream, x, chunk, rate=SR):
    events = []
    for i in range(0, len(x), chunk):
        events += stream.accept_waveform(x[i:i + chunk], rate)
    return events + stream.finish()


def test_event_order_times_and_endpoint(pipe, speech):
    x, regions = speech
    s = pipe.create_stream(task="understand")
    events = feed(s, (x * 32767).astype(np.int16), 1600)
    kinds = [type(e).__name__[0] for e in events]  # S, P, F
    # every SpeechStarted is followed by partials and exactly one Final
    assert "".join(kinds).replace("P", "") == "SFSF", kinds
    assert kinds.count("P") >= 4
    finals = [e for e in events if isinstance(e, Final)]
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    for (a, b), st, f in zip(regions, starts, finals):
        assert f.endpoint == "silence_after_speech"
        assert a - 0.45 <= st.start_s <= a  # pre-roll before the first speech frame
        assert f.start_s == st.start_s
        assert b - 0.1 <= f.end_s <= b + 0.45  # cut at the last speech frame + post-roll, not at the 0.6 s endpoint
        assert f.intent == "unknown" and f.slots == {}  # random weights: never a valid intent
        assert f.ctc_text and f.timings_ms["endpoint_to_final"] > 0 and "encoder" in f.timings_ms
        assert f.audio.shape == (round((f.end_s - f.start_s) * SR),)
    # partials grow over the utterance and end before its Final
    parts = [e for e in events[: kinds.index("F")] if isinstance(e, Partial)]
    assert all(b.end_s > a.end_s for a, b in zip(parts, parts[1:]))
    assert all(abs((b.end_s - a.end_s) - 0.2) < 1e-6 for a, b in zip(parts, parts[1:]))


def test_final_matches_offline_pipeline(pipe, speech):
    x, _ = speech
    s = pipe.create_stream(task="transcribe", decoder="ctc")
    f = [e for e in feed(s, x, 4000) if isinstance(e, Final)][0]
    offline = pipe.transcribe(f.audio, sample_rate=SR, decoder="ctc")
    assert f.text == offline.text and f.text


def test_chunk_size_and_rate_invariance(pipe, speech):
    from edge_audiollm.audio import resample

    x, _ = speech
    ref = [(round(e.start_s, 2), round(e.end_s, 2)) for e in feed(pipe.create_stream(), x, 1600) if isinstance(e, Final)]
    odd = [(round(e.start_s, 2), round(e.end_s, 2)) for e in feed(pipe.create_stream(), x, 777) if isinstance(e, Final)]
    assert odd == ref
    x44 = resample(x, SR, 44100)
    f44 = [e for e in feed(pipe.create_stream(), x44, 441 * 7, 44100) if isinstance(e, Final)]
    assert len(f44) == len(ref)
    for e, (a, b) in zip(f44, ref):
        assert abs(e.start_s - a) <= 0.05 and abs(e.end_s - b) <= 0.05


def test_callback_gets_the_same_events(pipe, speech):
    x, _ = speech
    got = []
    s = pipe.create_stream(on_event=got.append)
    returned = feed(s, x, 3200)
    assert [type(e) for e in got] == [type(e) for e in returned] and len(got) > 4


def test_max_length_rule_and_bounded_partial_window(pipe, speech_16k):
    # 17 s of continuous speech: max_utterance_s=8 cuts it, the partial window stays bounded
    x = np.concatenate([speech_16k] * int(np.ceil(17 * SR / len(speech_16k))))[: 17 * SR]
    x = x + np.float32(0.02) * np.sin(np.arange(x.size) * 0.3).astype(np.float32)  # no silent gaps
    s = pipe.create_stream(max_utterance_s=8.0, partial_window_s=3.0)
    events = feed(s, x, 1600)
    finals = [e for e in events if isinstance(e, Final)]
    assert finals[0].endpoint == "max_length"
    assert finals[0].end_s - finals[0].start_s == pytest.approx(8.0, abs=0.05)
    parts = [e for e in events if isinstance(e, Partial)]
    assert max(p.window_s for p in parts) <= 3.0 + 0.2 + 0.03
    late = [p for p in parts if p.end_s - p.start_s > 6]
    assert late and all(p.text for p in late)  # the committed text is kept when the window moves


def test_endpoint_rules():
    o = EndpointOptions(silence_after_speech_s=0.6, silence_no_text_s=1.2, max_utterance_s=10)
    assert endpoint_rule(o, trailing_silence_s=0.59, utterance_s=2, has_text=True) is None
    assert endpoint_rule(o, trailing_silence_s=0.6, utterance_s=2, has_text=True) == "silence_after_speech"
    assert endpoint_rule(o, trailing_silence_s=0.9, utterance_s=2, has_text=False) is None
    assert endpoint_rule(o, trailing_silence_s=1.2, utterance_s=2, has_text=False) == "silence_no_text"
    assert endpoint_rule(o, trailing_silence_s=0.0, utterance_s=10, has_text=True) == "max_length"


def test_silence_never_starts_an_utterance(pipe):
    rng = np.random.default_rng(0)
    s = pipe.create_stream()
    x = (rng.standard_normal(SR * 5) * 0.003).astype(np.float32)  # steady room noise
    assert feed(s, x, 1600) == []


def test_streams_share_a_pipeline_across_threads(pipe, speech):
    x, _ = speech
    ref = [e.text for e in feed(pipe.create_stream(), x, 1600) if isinstance(e, Final)]
    out: dict = {}

    def run(k):
        out[k] = [e.text for e in feed(pipe.create_stream(), x, 1600 + 0 * k) if isinstance(e, Final)]

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(out[k] == ref for k in range(3)) and ref


def test_bad_options_and_input_raise_typed_errors(pipe):
    with pytest.raises(EdgeAudioError, match="unknown stream option"):
        pipe.create_stream(silence_s=0.5)
    with pytest.raises(EdgeAudioError, match="task"):
        pipe.create_stream(task="translate")
    with pytest.raises(EdgeAudioError, match="non-negative"):
        pipe.create_stream(silence_after_speech_s=-1)
    s = pipe.create_stream()
    with pytest.raises(EdgeAudioError, match="sample rate"):
        s.accept_waveform(np.zeros(100, np.float32), 0)
    with pytest.raises(EdgeAudioError, match="NaN"):
        s.accept_waveform(np.full(100, np.nan, np.float32), SR)


@pytest.mark.parametrize("rates", [(44100, 16000), (48000, 16000), (8000, 16000), (16000, 16000)])
def test_stream_resampler_is_chunk_invariant(rates):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(rates[0]) * 0.1).astype(np.float32)
    whole = StreamResampler(*rates)(x)
    r = StreamResampler(*rates)
    parts, i = [], 0
    while i < x.size:
        k = int(rng.integers(1, 2000))
        parts.append(r(x[i:i + k]))
        i += k
    assert np.array_equal(np.concatenate(parts), whole)
    assert abs(whole.size - rates[1]) <= 1
    # a 440 Hz tone keeps its frequency and level
    t = np.sin(2 * np.pi * 440 * np.arange(rates[0]) / rates[0]).astype(np.float32) * 0.5
    y = StreamResampler(*rates)(t)[2000:-2000]
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert abs(np.argmax(spec) * rates[1] / y.size - 440) < 3
    assert abs(np.sqrt(np.mean(y ** 2)) - 0.5 / np.sqrt(2)) < 0.01
