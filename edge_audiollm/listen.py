"""`edge-audiollm listen` and `edge-audiollm devices`: the microphone -> Stream loop of the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

from .errors import EdgeAudioError
from .events import Final, Partial


def run_devices(args) -> int:
    from .mic import list_input_devices

    devices = list_input_devices()
    for d in devices:
        if args.json:
            print(json.dumps({"index": d.index, "name": d.name, "channels": d.channels,
                              "default_sample_rate": d.default_sample_rate, "default": d.is_default}))
        else:
            print(f"{'*' if d.is_default else ' '} {d.index:3d}  {d.name}  ({d.channels} ch, {d.default_sample_rate} Hz)")
    if not devices:
        print("edge-audiollm: no audio input devices found", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def quiet_native_stderr():
    """PortAudio and ALSA print their own diagnostics on file descriptor 2 (an unplugged device
    gives several lines of C source locations). Send those to /dev/null while Python's
    sys.stderr keeps the real terminal, so a user sees our one clear line.
    EDGE_AUDIOLLM_NATIVE_LOG=1 keeps them."""
    if os.environ.get("EDGE_AUDIOLLM_NATIVE_LOG") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    old_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(old_stderr, "encoding", None) or "utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr.close()
        sys.stderr = old_stderr


def _warn(msg: str) -> None:
    print(f"edge-audiollm: warning: {msg}", file=sys.stderr, flush=True)


def run_listen(args) -> int:
    with quiet_native_stderr():
        try:
            return _listen(args)
        except EdgeAudioError as exc:  # printed here, while sys.stderr is still the terminal
            print(f"edge-audiollm: error: {exc}", file=sys.stderr, flush=True)
            return 2


def _listen(args) -> int:
    from .mic import Microphone
    from .pipeline import Pipeline
    from .stream import SAMPLE_RATE

    if args.threads < 1:
        raise EdgeAudioError(f"--threads must be at least 1, got {args.threads}")
    save_dir = Path(args.save_audio) if args.save_audio else None
    if save_dir is not None:
        try:
            save_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeAudioError(f"--save-audio {save_dir}: cannot create the directory ({exc.strerror})") from None
    mic = Microphone(args.device)  # resolve the device before the (slower) model load
    pipe = Pipeline.load(args.bundle, providers=[args.provider], threads=args.threads)
    pipe.preload()  # no 0.7 s stall on the first utterance that needs the word LM
    stream = pipe.create_stream(task=args.task, vad=args.vad, partials=not args.no_partials,
                                silence_after_speech_s=args.silence_s, max_utterance_s=args.max_utterance_s)
    seen_overflows = 0
    n_final = 0
    with mic:
        mic.wait_until_live()
        print(f"edge-audiollm: listening on {mic.device.index} ({mic.device.name}) at {mic.sample_rate} Hz; "
              "Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            while True:
                chunk = mic.read(timeout_s=0.5)
                if mic.overflows != seen_overflows:
                    _warn(mic.overflow_message(mic.overflows - seen_overflows))
                    seen_overflows = mic.overflows
                if chunk is None:
                    continue
                for event in stream.accept_waveform(chunk, SAMPLE_RATE):
                    if isinstance(event, Partial) and args.json:
                        print(json.dumps({"partial": True, "text": event.text, "start_s": round(event.start_s, 3),
                                          "end_s": round(event.end_s, 3)}, ensure_ascii=False), flush=True)
                    elif isinstance(event, Final):
                        if not (event.text or event.ctc_text):
                            continue  # a VAD false start: nothing heard
                        n_final += 1
                        _print_final(event, args, pipe, _save(event, save_dir, n_final))
                        if args.once:
                            return 0
        except KeyboardInterrupt:
            for event in stream.finish():
                if isinstance(event, Final) and (event.text or event.ctc_text):
                    n_final += 1
                    _print_final(event, args, pipe, _save(event, save_dir, n_final))
            return 0


def _save(event: Final, save_dir: Path | None, n: int) -> str | None:
    if save_dir is None or event.audio is None:
        return None
    import soundfile as sf

    path = save_dir / f"utterance-{time.strftime('%Y%m%d-%H%M%S')}-{n:04d}.wav"
    sf.write(str(path), event.audio, 16000, subtype="PCM_16")
    return str(path)


def _print_final(event: Final, args, pipe, audio_path: str | None) -> None:
    if args.json:
        out = {"partial": False, **event.to_json(), "provider": pipe.provider, "bundle": pipe.bundle.name}
        if args.task == "transcribe":
            out.pop("intent"), out.pop("slots")
        if audio_path:
            out["audio_path"] = audio_path
        print(json.dumps(out, ensure_ascii=False), flush=True)
    elif args.task == "transcribe":
        print(event.text, flush=True)
    else:
        print(json.dumps({"intent": event.intent, "slots": event.slots}, ensure_ascii=False), flush=True)
