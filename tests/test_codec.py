"""The neural codec end to end in its tiny configuration: train a few steps on synthesised speech
(resuming exactly), export both graphs with parity checks, load the bundle, encode and decode;
the residual quantiser's properties; every refusal of a bad token file; the CLI; the Codec2 baseline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from edge_audiollm.errors import BundleError, CodecError

torch = pytest.importorskip("torch")

from models.codec.rvq import ResidualVQ, VectorQuantizer, kmeans, nearest  # noqa: E402
from models.codec.train import CONFIGS, load_codec, train  # noqa: E402

TINY = CONFIGS["tiny"]


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, speech_wav, speech_wav2):
    root = tmp_path_factory.mktemp("codec_corpus")
    rows = []
    for src, text in ((speech_wav, "set a timer for five minutes please"), (speech_wav2, "turn on the lights in the kitchen")):
        shutil.copy(src, root / src.name)
        rows.append(json.dumps({"path": src.name, "text": text}))
    (root / "train.jsonl").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("codec_ckpt")
    lines: list[str] = []
    cfg = replace(TINY, corpus=str(corpus), ckpt=str(ckpt))
    state = train(cfg, log=lines.append, session_steps=6)  # a session that ends early...
    first = json.loads(json.dumps(state))
    state = train(cfg, log=lines.append)  # ...and the next, to TINY.steps (8)
    return {"cfg": cfg, "ckpt": ckpt, "first": first, "state": state, "log": lines}


@pytest.fixture(scope="module")
def bundle(trained, tmp_path_factory):
    from export.codec_export import build_codec_bundle

    codec, _ = load_codec(trained["ckpt"])
    return build_codec_bundle(codec, tmp_path_factory.mktemp("codec_bundle") / "codec", name="tiny-codec-fixture")


@pytest.fixture(scope="module")
def codec(bundle):
    from edge_audiollm.codec import Codec

    return Codec.load(bundle, providers=["cpu"], threads=1)


# ---------------------------------------------------------------------------- training


def test_training_saves_safetensors_and_resumes_exactly(trained, tmp_path):
    from safetensors.torch import load_file

    assert "resuming from step 6" in "\n".join(trained["log"])
    state = trained["state"]
    assert state["step"] == 8 and [x["step"] for x in state["losses"]] == [2, 4, 6, 8]
    assert state["losses"][:3] == trained["first"]["losses"] and trained["first"]["step"] == 6
    assert state["losses"][-1]["loss"] < state["losses"][0]["loss"]
    for name in ("codec.safetensors", "optimizer.safetensors"):
        head = (trained["ckpt"] / name).read_bytes()[:9]
        assert head[8:9] == b"{", name  # safetensors: an 8-byte header length, then JSON; never a pickle
    # An uninterrupted run to step 8 ends with the very same weights, codebooks and optimizer moments.
    straight = train(replace(trained["cfg"], ckpt=str(tmp_path)), log=quiet)
    assert straight["losses"] == state["losses"]
    for name in ("codec.safetensors", "optimizer.safetensors"):
        a, b = load_file(str(trained["ckpt"] / name)), load_file(str(tmp_path / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_teacher_features_are_averaged_to_the_codec_rate():
    from models.codec.losses import teacher_at_rate

    feats = np.arange(22, dtype=np.float16).reshape(11, 2)  # 11 frames at 50 Hz
    out = teacher_at_rate(feats, 50.0, 12.5)
    assert out.dtype == np.float32 and out.tolist() == [[3.0, 4.0], [11.0, 12.0]]  # means of 4; the partial frame dropped
    assert teacher_at_rate(feats, 50.0, 50.0).shape == (11, 2)
    with pytest.raises(ValueError, match="not a whole multiple"):
        teacher_at_rate(feats, 50.0, 30.0)


def _teacher_cache(corpus, root, features_of):
    """A teacher cache in encode_cache.py's layout: features_of(16 kHz samples) -> (T, F) at 50 Hz, float16."""
    from edge_audiollm.audio import load_audio
    from models.train.corpus import read_split

    (root / "train").mkdir(parents=True, exist_ok=True)
    for u in read_split(corpus, "train"):
        np.save(root / "train" / f"{u.uid}.npy", features_of(load_audio(u.path).samples).astype(np.float16))
    return root


def test_crops_carry_the_teacher_frames_of_their_span(corpus, tmp_path):
    from models.codec.data import CropSampler, TeacherSource
    from models.train.corpus import read_split

    # Teacher feature t = t: a crop's codec-rate rows must be means of 4 consecutive frames from a frame boundary.
    cache = _teacher_cache(corpus, tmp_path, lambda x: np.repeat(np.arange(-(-len(x) // 320))[:, None], 3, 1))
    sampler = CropSampler(read_split(corpus, "train"), 4, 1280, 16000, np.random.default_rng(0), TeacherSource(cache))
    batch = sampler.batch(6)
    assert batch.audio.shape == (6, 1, 5120) and batch.teacher.shape == (6, 4, 3) and batch.teacher_mask.all()
    first = batch.teacher[:, :, 0]
    assert np.all(first % 4 == 1.5) and np.all(np.diff(first, axis=1) == 4) and len(set(first[:, 0])) > 1


def test_distillation_trains_from_a_teacher_cache(corpus, tmp_path):
    from edge_audiollm.features import log_mel

    def mel_at_50hz(samples):  # a content-bearing stand-in for Whisper: 40 log-mel bands, pairs of frames averaged
        mel = log_mel(samples)
        return mel[: len(mel) // 2 * 2].reshape(-1, 2, 80).mean(1)[:, :40]

    cache = _teacher_cache(corpus, tmp_path / "teacher", mel_at_50hz)
    cfg = replace(TINY, corpus=str(corpus), ckpt=str(tmp_path / "ckpt"), teacher_cache=str(cache), teacher_dim=40,
                  steps=10)
    state = train(cfg, log=quiet)
    distill = [x["distill"] for x in state["losses"]]
    assert len(distill) == 5 and all(0.0 <= d <= 2.0 for d in distill)
    assert distill[-1] < distill[0], distill
    assert (tmp_path / "ckpt" / "distill_head.safetensors").is_file()
    with pytest.raises(ValueError, match="another shape or distillation setting"):
        train(replace(cfg, teacher_cache=None, steps=12), log=quiet)


def test_resume_without_optimizer_state_rewarms(trained, tmp_path):
    shutil.copytree(trained["ckpt"], tmp_path / "ckpt")
    (tmp_path / "ckpt" / "optimizer.safetensors").unlink()
    lines: list[str] = []
    state = train(replace(trained["cfg"], ckpt=str(tmp_path / "ckpt"), steps=10), log=lines.append)
    assert state["step"] == 10 and "Adam's moments restart from zero" in "\n".join(lines)
    assert (tmp_path / "ckpt" / "optimizer.safetensors").is_file()


def test_resume_refuses_another_shape(trained):
    other = replace(trained["cfg"], codec=replace(TINY.codec, codebook_size=64), steps=10)
    with pytest.raises(ValueError, match="another shape"):
        train(other, log=quiet)


# ---------------------------------------------------------------------------- export and runtime


def test_bundle_manifest_and_parity(bundle):
    from edge_audiollm.bundle import sha256_file

    m = json.loads((bundle / "manifest.json").read_text())
    assert m["kind"] == "codec" and m["sample_rate"] == 16000 and m["frame_rate_hz"] == 12.5
    assert m["hop_samples"] == 1280 and m["codebook_size"] == 32 and m["n_codebooks"] == 3
    assert m["bitrate_bps"] == {"1": 62.5, "2": 125.0, "3": 187.5}
    assert set(m["files"]) == {"codec_encoder.onnx", "codec_decoder.onnx"}
    for name, entry in m["files"].items():
        assert entry["sha256"] == sha256_file(bundle / name)
    parity = m["metrics"]["parity"]  # of the stored (float16-weight) graphs against torch
    assert parity["decoder_max_abs_diff"] < 1e-2 and parity["latent_max_abs_diff"] < 1e-2
    assert parity["code_agreement"] >= 0.99


def test_bundle_stores_weights_as_float16_and_computes_in_float32(bundle):
    import onnx

    for name in ("codec_encoder.onnx", "codec_decoder.onnx"):
        assert json.loads((bundle / "manifest.json").read_text())["files"][name]["quantization"] == "fp16-weights"
        g = onnx.load(str(bundle / name)).graph
        big = [i for i in g.initializer if np.prod(i.dims) >= 256]
        assert big and all(i.data_type == onnx.TensorProto.FLOAT16 for i in big), name
        assert g.output[-1].type.tensor_type.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64)


def test_encode_decode_round_trip(codec, speech_16k, speech_wav):
    tokens = codec.encode(speech_16k, 16000)
    frames = -(-len(speech_16k) // 1280)
    assert tokens.codes.shape == (3, frames) and tokens.codes.dtype == np.int64
    assert tokens.codes.min() >= 0 and tokens.codes.max() < 32
    assert (tokens.frame_rate_hz, tokens.codebook_size, tokens.sample_rate) == (12.5, 32, 16000)
    assert tokens.bitrate_bps == 187.5 and tokens.duration_seconds == pytest.approx(frames / 12.5)
    audio = codec.decode(tokens)
    assert audio.shape == (frames * 1280,) and audio.dtype == np.float32
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0
    # A file at its own rate (espeak's 22.05 kHz) is resampled first: the same tokens as the 16 kHz array.
    assert np.array_equal(codec.encode(speech_wav).codes, tokens.codes)


def test_fewer_codebooks_are_a_prefix_and_each_decodes_like_torch(codec, trained, speech_16k):
    from edge_audiollm.codec import CodecTokens

    model, _ = load_codec(trained["ckpt"])
    full = codec.encode(speech_16k, 16000)
    for k in (1, 2, 3):
        tokens = codec.encode(speech_16k, 16000, n_codebooks=k)
        assert np.array_equal(tokens.codes, full.codes[:k]) and tokens.bitrate_bps == 62.5 * k
        got = codec.decode(tokens)
        with torch.no_grad():
            latent = model.quantizer.decode(torch.from_numpy(tokens.codes)).t()[None]
            expected = model.decoder(latent)[0, 0].numpy()
        assert np.max(np.abs(got - expected)) < 1e-4, k
    assert isinstance(full, CodecTokens)


def test_encode_refuses_bad_codebook_counts(codec, speech_16k):
    for n in (0, 4, -1):
        with pytest.raises(CodecError, match=f"between 1 and 3 for this codec, got {n}"):
            codec.encode(speech_16k, 16000, n_codebooks=n)


def test_load_refuses_pipeline_bundles_and_tampering(bundle, tmp_path):
    from edge_audiollm.codec import Codec

    copy = tmp_path / "codec"
    shutil.copytree(bundle, copy)
    m = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**m, "kind": "pipeline"}))
    with pytest.raises(BundleError, match="is not a codec bundle"):
        Codec.load(copy)
    (copy / "manifest.json").write_text(json.dumps(m))
    data = bytearray((copy / "codec_decoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "codec_decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="'codec_decoder.onnx' does not match its sha256"):
        Codec.load(copy)
    with pytest.raises(BundleError, match="not found"):
        Codec.load(tmp_path / "nope")


# ---------------------------------------------------------------------------- residual quantiser


@pytest.mark.parametrize("rate, hop", [(12.5, 1280), (25.0, 640), (50.0, 320)])
def test_frame_rate_variants(rate, hop):
    from models.codec.config import STRIDES, CodecConfig
    from models.codec.model import Codec

    cfg = replace(TINY.codec, strides=STRIDES[rate])
    assert cfg.hop_samples == hop and cfg.frame_rate_hz == rate
    assert CodecConfig(strides=STRIDES[rate]).bitrate_bps() == 8 * 10 * rate  # 8 x 1024 entries
    model = Codec(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 3 * hop) * 0.1)
    assert out.codes.shape == (1, 3, 3) and out.audio.shape == (1, 1, 3 * hop)
    # causal: the first frame's codes and samples do not change when later audio does
    x = torch.randn(1, 1, 3 * hop) * 0.1
    y = x.clone()
    y[..., hop:] = 0.0
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.equal(a.codes[..., 0], b.codes[..., 0]) and torch.allclose(a.audio[..., :hop], b.audio[..., :hop])



def test_kmeans_initialisation_finds_the_clusters():
    torch.manual_seed(0)
    centres = torch.randn(8, 4) * 10
    x = (centres[:, None] + 0.1 * torch.randn(8, 50, 4)).reshape(-1, 4)
    vq = VectorQuantizer(4, 8, kmeans_iters=10)
    vq.train()
    vq(x)  # the first batch initialises the codebook
    assert bool(vq.initialized)
    # k-means++ seeds one code in each well-separated blob; Lloyd's steps move it to the blob's centre
    dist = torch.cdist(centres, vq.embed).min(1).values
    assert float(dist.max()) < 0.1, dist
    assert float(vq.usage.sum()) == pytest.approx(8.0, rel=0.05)  # in units of a uniform share
    c, counts = kmeans(x, 8, 10)
    assert int(counts.sum()) == len(x) and c.shape == (8, 4)


def test_spectral_losses_floor_digital_silence_under_the_speech(speech_16k):
    """A decoder noise 40 dB under the speech, in a clip that is half digital silence, costs the STFT
    loss less than halving the speech's level (with the absolute 1e-5 floor it cost far more:
    training then turned the whole output down)."""
    from models.codec.losses import MultiResolutionStft, MultiScaleMel

    torch.manual_seed(0)
    speech = torch.as_tensor(np.asarray(speech_16k, dtype=np.float32))
    y = torch.cat([speech, torch.zeros_like(speech)])[None]
    noisy = y + 1e-2 * float(speech.std()) * torch.randn_like(y)
    stft, old_stft = MultiResolutionStft(), MultiResolutionStft(floor_db=None)
    assert float(stft(y, y)) == 0.0
    assert float(stft(noisy, y)) < float(stft(0.5 * y, y))
    assert float(old_stft(noisy, y)) > 2 * float(old_stft(0.5 * y, y))  # the failure the floor removes
    # The mel bands sum a noise's energy across their width, so there the floor only narrows the gap.
    mel, old_mel = MultiScaleMel(), MultiScaleMel(floor_db=None)
    ratio = lambda loss: float(loss(noisy, y)) / float(loss(0.5 * y, y))  # noqa: E731
    assert ratio(mel) < ratio(old_mel) / 3, (ratio(mel), ratio(old_mel))


def test_dead_codes_are_restarted_from_the_batch():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    vq = VectorQuantizer(4, 16, decay=0.5, dead_code_ratio=0.1)
    vq.embed.copy_(torch.cat([x[:8], torch.full((8, 4), 100.0)]))  # 8 codes no vector ever picks
    vq.embed_avg.copy_(vq.embed)
    vq.initialized.fill_(1.0)
    vq.train()
    for _ in range(8):
        vq(x)
    assert int(vq.restarts) >= 8
    assert float(vq.embed.abs().max()) < 10.0  # the far codes now sit among the data
    used = torch.bincount(nearest(x, vq.embed), minlength=16)
    assert int((used > 0).sum()) >= 12, used


def test_quantiser_dropout_and_prefix_decoding():
    torch.manual_seed(0)
    rvq = ResidualVQ(4, 8, 32)
    z = torch.randn(6, 8, 20)
    rvq.init_codebooks(z)
    rvq.train()
    drawn = rvq(z, dropout=1.0).n_active
    assert drawn.min() >= 1 and drawn.max() <= 4 and len(set(drawn.tolist())) > 1
    assert rvq(z, dropout=0.0).n_active.tolist() == [4] * 6
    rvq.eval()
    errors = []
    for k in range(1, 5):
        q = rvq(z, n_codebooks=k)
        assert q.n_active.tolist() == [k] * 6
        decoded = torch.stack([rvq.decode(q.codes[b, :k]).t() for b in range(6)])
        assert torch.allclose(q.quantized, decoded, atol=1e-5)  # the sum the decoder sees = the export's gather
        errors.append(float((z - decoded).pow(2).mean()))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.8 * errors[0], errors
    codes = rvq.encode(z[0].t())
    assert torch.equal(codes, rvq(z[:1], n_codebooks=4).codes[0])


# ---------------------------------------------------------------------------- token files


def _tokens(codes, rate=12.5, size=32, sample_rate=16000):
    from edge_audiollm.codec import CodecTokens

    return CodecTokens(np.asarray(codes), rate, size, sample_rate)


def test_token_file_round_trip_and_no_overwrite(codec, speech_16k, tmp_path):
    from edge_audiollm.codec import load_tokens, save_tokens

    tokens = codec.encode(speech_16k, 16000, n_codebooks=2)
    path = save_tokens(tmp_path / "t.npz", tokens)
    back = load_tokens(path)
    assert np.array_equal(back.codes, tokens.codes) and back.codes.dtype == np.int64
    assert (back.frame_rate_hz, back.codebook_size, back.sample_rate) == (12.5, 32, 16000)
    assert np.array_equal(codec.decode(back), codec.decode(tokens))
    with pytest.raises(CodecError, match="already exists; choose another output path or pass --force"):
        save_tokens(path, tokens)
    save_tokens(path, tokens, overwrite=True)
    odd = save_tokens(tmp_path / "tokens.bin", tokens)  # the path as given: no ".npz" appended
    assert odd.name == "tokens.bin" and odd.exists()


@pytest.mark.parametrize("arrays, message", [
    ({"frame_rate_hz": None, "codebook_size": None, "sample_rate": None}, "missing frame_rate_hz, codebook_size, sample_rate"),
    ({"codes": np.zeros((2, 5), np.float32)}, "codes must be an integer array, got float32"),
    ({"codes": np.zeros(5, np.int64)}, r"codes must be 2-D \(codebooks, frames\), got shape \(5,\)"),
    ({"codes": np.zeros((0, 5), np.int64)}, "hold 0 codebooks"),
    ({"codes": np.zeros((2, 0), np.int64)}, "hold no frames"),
    ({"codes": np.array([[1, -3]], np.int64)}, r"1 codes lie outside \[0, 32\), the first -3 at codebook 1, frame 1"),
    ({"codes": np.array([[1, 2], [32, 40]], np.int64)}, r"2 codes lie outside \[0, 32\), the first 32 at codebook 2, frame 0"),
    ({"frame_rate_hz": np.array([12.5])}, r"frame_rate_hz must be a number \(a 0-d array\)"),
    ({"frame_rate_hz": np.float64(0.0)}, "frame_rate_hz must be a positive number"),
    ({"codebook_size": np.float64(32.0)}, "codebook_size must be an integer"),
    ({"sample_rate": np.int64(0)}, "sample_rate must be positive"),
])
def test_bad_token_files_are_refused(tmp_path, arrays, message):
    from edge_audiollm.codec import load_tokens

    full = {"codes": np.zeros((2, 5), np.uint16), "frame_rate_hz": np.float64(12.5),
            "codebook_size": np.int64(32), "sample_rate": np.int64(16000)}
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: v for k, v in {**full, **arrays}.items() if v is not None})  # None: key left out
    with pytest.raises(CodecError, match=message) as info:
        load_tokens(path)
    assert str(path) in str(info.value) and "re-encode the audio" in str(info.value)


def test_truncated_and_foreign_files_are_refused(codec, speech_16k, tmp_path):
    from edge_audiollm.codec import load_tokens, save_tokens

    good = save_tokens(tmp_path / "good.npz", codec.encode(speech_16k, 16000))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "text.npz"
    text.write_text("not tokens")
    npy = tmp_path / "codes.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros((2, 5), np.int64))
    for path, words in ((cut, "truncated or corrupt"), (text, "not an .npz archive"), (npy, "not an .npz archive"),
                        (tmp_path / "missing.npz", "no such token file")):
        with pytest.raises(CodecError, match=words) as info:
            load_tokens(path)
        assert str(path) in str(info.value)


def test_tokens_from_another_codec_are_refused(codec):
    codes = np.zeros((2, 5), np.int64)
    cases = [
        (_tokens(np.zeros((4, 5), np.int64)), r"hold 4 codebooks but this codec has 3; .*keep the first 3"),
        (_tokens(codes, rate=25.0), "tokens are at 25 Hz but this codec runs at 12.5 Hz; decode with the codec that encoded them"),
        (_tokens(codes, sample_rate=8000), "tokens are for 8000 Hz audio but this codec makes 16000 Hz audio"),
        (_tokens(codes, size=64), "tokens index codebooks of 64 entries but this codec's have 32"),
        (_tokens(np.zeros((0, 5), np.int64)), "hold 0 codebooks"),
        (_tokens(np.full((1, 5), 32)), r"outside \[0, 32\)"),
    ]
    for tokens, message in cases:
        with pytest.raises(CodecError, match=message):
            codec.decode(tokens, source="x.npz")


# ---------------------------------------------------------------------------- CLI


def test_cli_encode_decode_and_refusals(bundle, speech_wav, tmp_path, capsys):
    from edge_audiollm.cli import main

    npz, wav = tmp_path / "t.npz", tmp_path / "t.wav"
    assert main(["codec", "encode", str(speech_wav), str(npz), "--codebooks", "2", "--codec", str(bundle)]) == 0
    assert main(["codec", "decode", str(npz), str(wav), "--codec", str(bundle)]) == 0
    import soundfile as sf

    audio, rate = sf.read(str(wav), dtype="float32")
    from edge_audiollm.codec import load_tokens

    assert rate == 16000 and len(audio) == load_tokens(npz).n_frames * 1280 and load_tokens(npz).n_codebooks == 2
    capsys.readouterr()

    before = npz.read_bytes()
    for argv, words in (
        (["codec", "decode", str(npz), str(npz), "--force"], "is the input file; refusing to overwrite it"),
        (["codec", "decode", str(npz), str(tmp_path / "." / "t.npz")], "is the input file"),
        (["codec", "decode", str(npz), str(wav)], "already exists; choose another output path or pass --force"),
        (["codec", "encode", str(speech_wav), str(tmp_path / "x.npz"), "--codebooks", "4"], "between 1 and 3"),
        (["codec", "decode", str(speech_wav), str(tmp_path / "y.wav")], "not an .npz archive"),
    ):
        assert main(argv + ["--codec", str(bundle)]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("edge-audiollm: error: ") and words in err[0], err
    assert npz.read_bytes() == before
    assert main(["codec", "decode", str(npz), str(wav), "--force", "--codec", str(bundle)]) == 0


def test_cli_subprocess_exit_codes(bundle, speech_wav, tmp_path):
    from edge_audiollm.codec import DEFAULT_CODEC_DIR

    run = lambda *a: subprocess.run([sys.executable, "-m", "edge_audiollm", "codec", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    p = run("encode", speech_wav, tmp_path / "a.npz", "--codec", bundle)
    assert p.returncode == 0 and "3 codebooks" in p.stdout, p.stderr
    p = run("decode", tmp_path / "a.npz", tmp_path / "a.npz", "--codec", bundle)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "is the input file" in p.stderr
    if not DEFAULT_CODEC_DIR.is_dir():
        p = run("encode", speech_wav, tmp_path / "b.npz")
        assert p.returncode == 2 and "no codec given" in p.stderr and "--codec" in p.stderr


def test_runtime_codec_never_imports_torch():
    code = ("import sys, edge_audiollm.codec, edge_audiollm.codec_cli, edge_audiollm.cli; "
            "print(sorted(m for m in ('torch', 'onnx', 'models', 'export') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stdout + p.stderr


# ---------------------------------------------------------------------------- Codec2 baseline


@pytest.mark.skipif(shutil.which("c2enc") is None or shutil.which("c2dec") is None, reason="codec2 not installed")
def test_codec2_baseline_round_trips_speech(speech_16k):
    from bench.codec2_baseline import roundtrip
    from bench.codec_metrics import measures

    seconds = len(speech_16k) / 16000
    decoded, n_bytes = roundtrip(speech_16k, 1200)
    assert decoded.shape == speech_16k.shape and decoded.dtype == np.float32
    assert n_bytes * 8 / seconds == pytest.approx(1200, rel=0.1)
    m = measures(speech_16k, decoded)
    noise = measures(speech_16k, np.random.default_rng(0).normal(0, 0.05, len(speech_16k)).astype(np.float32))
    assert m["stoi"] > 0.6 and m["stoi"] > noise["stoi"] + 0.2, (m, noise)
    assert m["mel_distance"] < noise["mel_distance"]
    low, _ = roundtrip(speech_16k, 700)
    assert measures(speech_16k, low)["stoi"] < m["stoi"]  # fewer bits, less intelligible


def test_alignment_finds_the_delay_of_a_signal_without_the_inputs_phase(speech_16k):
    """Griffin-Lim and Codec2 rebuild magnitudes with a phase of their own: the aligner must find
    their delay from the energy envelope (a waveform correlation peaks at a lag of chance)."""
    from bench.codec_metrics import best_lag, measures
    from edge_audiollm.griffin_lim import GriffinLimOptions, griffin_lim, stft

    x = speech_16k[: 160 * 300]
    rebuilt = griffin_lim(np.abs(stft(x)), GriffinLimOptions(iterations=32))
    delay = 240  # 15 ms
    delayed = np.concatenate([np.zeros(delay, np.float32), rebuilt])[: len(x)]
    assert abs(best_lag(x, delayed) - delay) <= 16, best_lag(x, delayed)  # within 1 ms
    assert best_lag(x, x) == 0 and best_lag(x, np.concatenate([x[80:], np.zeros(80, np.float32)])) == -80
    assert measures(x, delayed)["stoi"] > 0.85


# ---------------------------------------------------------------------------- bench/codec.py options


def test_bench_takes_codebook_counts_per_codec_and_resumes_only_a_matching_run(tmp_path):
    from bench.codec import Condition, carried_over, parse_args, write_json

    a = parse_args(["--codec", f"{tmp_path}:3,12", "--codec", str(tmp_path), "--codebooks", "1", "--codec2", ""])
    assert a.codec_counts == [(tmp_path, [3, 12]), (tmp_path, [1])]
    with pytest.raises(SystemExit):
        parse_args(["--codec", f"{tmp_path}:three"])

    out = tmp_path / "run.json"
    ids, judges = {"cards": ["a", "b"]}, {"whisper": True, "ours": True}
    original = Condition("original", "original", 256000.0, None, None, lambda x: (x, None, None))
    codec = replace(original, name="c k=3", family="c", fingerprint="sha-then")
    assert carried_over(out, ids, judges, [original, codec]) == {}  # nothing yet: run everything
    done = {"original": [{"id": "a"}, {"id": "b"}], "c k=3": [{"id": "a"}, {"id": "b"}]}
    write_json(out, {"ids": ids, "judges": judges, "fingerprints": {"original": "", "c k=3": "sha-then"},
                     "utterances": done})
    assert carried_over(out, ids, judges, [original, codec]) == done
    retrained = replace(codec, fingerprint="sha-now")  # the same name, another bundle: measured again
    assert carried_over(out, ids, judges, [original, retrained]) == {"original": done["original"]}
    with pytest.raises(SystemExit, match="other files or with other judges"):
        carried_over(out, {"cards": ["a"]}, judges, [original])
    with pytest.raises(SystemExit, match="other files or with other judges"):
        carried_over(out, ids, {"whisper": True}, [original])
    out.write_text("{truncated")
    with pytest.raises(SystemExit, match="cannot read"):
        carried_over(out, ids, judges, [original])
