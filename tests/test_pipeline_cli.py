"""The whole path on real ONNX sessions (the tiny fixture bundle) and the CLI contract."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import write_wav
from edge_audiollm import Pipeline
from edge_audiollm.errors import AudioError, BundleError

CONTRACT_FIELDS = {"path", "text", "audio_seconds", "compute_seconds", "timings_ms", "provider", "bundle"}


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "edge_audiollm", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pipe(tiny_bundle):
    return Pipeline.load(tiny_bundle, providers=["cpu"], threads=1)


def test_transcribe_file_and_array_agree(pipe, speech_wav):
    import soundfile as sf

    r = pipe.transcribe(speech_wav)
    samples, rate = sf.read(str(speech_wav), dtype="int16")
    r2 = pipe.transcribe(samples, sample_rate=rate)
    assert r.text == r2.text and r.ctc_text == r2.ctc_text
    assert r.provider == "cpu" and r.bundle == "tiny-test-fixture" and r.decoder == "llm"
    assert r.audio_seconds == pytest.approx(len(samples) / rate, abs=1e-3)
    for stage in ("audio", "features", "encoder", "adapter", "llm_prefill", "llm_decode"):
        assert r.timings_ms[stage] >= 0.0
    # strided adapter, stride 4 on a 50 Hz encoder: 12.5 embeddings per second into the LLM
    assert r.llm_tokens_per_second == pytest.approx(12.5, rel=0.1)


def test_ctc_decoder_and_understand(pipe, speech_wav):
    r = pipe.transcribe(speech_wav, decoder="ctc")
    assert r.decoder == "ctc" and r.text == r.ctc_text and "llm_prefill" not in r.timings_ms
    u = pipe.understand(speech_wav)
    assert u.intent == "unknown" and u.slots == {}  # random weights cannot produce a valid intent


def test_generation_is_capped_per_audio_second(pipe, speech_16k):
    r = pipe.transcribe(speech_16k, sample_rate=16000)
    from edge_audiollm.pipeline import Pipeline as P  # noqa: F401
    cap = max(8, int(np.ceil(6.5 * r.audio_seconds)))
    assert len(r.text.split()) <= cap


def test_one_pipeline_serves_threads(pipe, speech_wav, speech_wav2):
    from concurrent.futures import ThreadPoolExecutor

    expected = {p: pipe.transcribe(p).ctc_text for p in (speech_wav, speech_wav2)}
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda p: (p, pipe.transcribe(p).ctc_text), [speech_wav, speech_wav2] * 4))
    assert all(text == expected[p] for p, text in got)


def test_bad_audio_through_the_api(pipe):
    with pytest.raises(AudioError, match="NaN"):
        pipe.transcribe(np.array([0.0, np.nan], np.float32), sample_rate=16000)


def test_cli_json_contract(tiny_bundle, speech_wav, speech_wav2):
    p = cli("transcribe", "--json", "--bundle", tiny_bundle, speech_wav, speech_wav2)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.strip().splitlines()]
    assert len(lines) == 2
    for obj, path in zip(lines, (speech_wav, speech_wav2)):
        assert CONTRACT_FIELDS <= set(obj)
        assert obj["path"] == str(path) and obj["provider"] == "cpu" and obj["bundle"] == "tiny-test-fixture"
        assert obj["audio_seconds"] > 0.5 and obj["compute_seconds"] > 0
        assert all(isinstance(v, (int, float)) for v in obj["timings_ms"].values())
    p = cli("understand", "--json", "--bundle", tiny_bundle, speech_wav)
    obj = json.loads(p.stdout)
    assert p.returncode == 0 and CONTRACT_FIELDS | {"intent", "slots"} <= set(obj)


def test_cli_bad_inputs_one_line_no_traceback(tiny_bundle, speech_wav, tmp_path):
    text = tmp_path / "text.wav"
    text.write_text("hello, I am not audio")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(speech_wav.read_bytes()[:4000])
    nan = write_wav(tmp_path / "nan.wav", np.array([0.1, np.nan] * 800, np.float32), subtype="FLOAT")
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    for path, words in ((tmp_path / "missing.wav", "no such file"), (text, "not audio"), (cut, "truncated"),
                        (nan, "NaN"), (empty, "no audio samples")):
        p = cli("transcribe", "--bundle", tiny_bundle, path)
        assert p.returncode != 0, path
        err = p.stderr.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in p.stderr, p.stderr
        assert str(path) in err[0] and words in err[0]


def test_cli_bad_file_does_not_stop_the_batch(tiny_bundle, speech_wav, tmp_path):
    p = cli("transcribe", "--json", "--bundle", tiny_bundle, tmp_path / "missing.wav", speech_wav)
    assert p.returncode == 2 and len(p.stdout.strip().splitlines()) == 1


def test_cli_provider_fallback_is_reported(tiny_bundle, speech_wav):
    p = cli("transcribe", "--json", "--provider", "cuda", "--bundle", tiny_bundle, speech_wav)
    assert p.returncode == 0
    assert json.loads(p.stdout)["provider"] == "cpu"
    assert p.stderr.count("cuda not available") == 1


def test_cli_bad_bundle_and_info(tiny_bundle, tmp_path):
    p = cli("transcribe", "--bundle", tmp_path / "nope", "x.wav")
    assert p.returncode == 2 and "not found" in p.stderr and "Traceback" not in p.stderr
    p = cli("info", "--json", "--bundle", tiny_bundle)
    info = json.loads(p.stdout)
    assert p.returncode == 0 and "cpu" in info["providers_available"]
    assert info["bundles"][0]["name"] == "tiny-test-fixture" and info["bundles"][0]["fixture"] is True


def test_understand_refuses_bundle_without_llm(tiny_bundle_copy):
    m = json.loads((tiny_bundle_copy / "manifest.json").read_text())
    del m["llm"]
    (tiny_bundle_copy / "manifest.json").write_text(json.dumps(m))
    pipe = Pipeline.load(tiny_bundle_copy)
    with pytest.raises(BundleError, match="no LLM"):
        pipe.understand(np.zeros(16000, np.float32), sample_rate=16000)


def test_cli_bench_tradeoff_measures_each_bundle(tiny_bundle, speech_wav, speech_wav2, tmp_path):
    manifest = tmp_path / "set.jsonl"
    manifest.write_text(json.dumps({"path": str(speech_wav), "text": "hello world"}) + "\n"
                        + json.dumps({"path": speech_wav2.name, "text": "open the door", "intent": "open",
                                      "slots": {"device": "door"}}) + "\n")
    import shutil

    shutil.copyfile(speech_wav2, tmp_path / speech_wav2.name)  # a relative path reads beside the manifest
    out = tmp_path / "tradeoff.json"
    r = cli("bench", "tradeoff", "--bundle", tiny_bundle, "--bundle", tiny_bundle, "--set", f"mine={manifest}",
            "--json-out", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("tiny-test-fixture") == 2
    rows = json.loads(out.read_text())["bundles"]
    s = rows[0]["sets"]["mine"]["summary"]
    assert s["utterances"] == 2 and 0.0 <= s["wer"] and s["intent_accuracy"] in (0.0, 1.0)
    assert s["tokens_per_second"] == pytest.approx(12.5, rel=0.1) and s["prefill_gflops"] > 0
    # the same bundle twice, one shared encoder pass: the same words and rates (timings differ)
    same = ("wer", "ctc_wer", "tokens_per_second", "intent_accuracy", "prefill_gflops")
    assert all(rows[0]["sets"]["mine"]["summary"][k] == rows[1]["sets"]["mine"]["summary"][k] for k in same)
    for bad, message in ((["--set", "nodelimiter"], "NAME=MANIFEST"),
                         (["--set", f"x={tmp_path / 'absent.jsonl'}"], "no such set manifest")):
        r = cli("bench", "tradeoff", "--bundle", tiny_bundle, *bad)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    r = cli("bench", "tradeoff", "--bundle", tiny_bundle, "--set", f"b={tmp_path / 'broken.jsonl'}")
    assert r.returncode == 2 and "broken.jsonl:1" in r.stderr
