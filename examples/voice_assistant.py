"""An offline voice assistant: microphone -> Stream (VAD, endpoint) -> understand -> act -> reply.

    python examples/voice_assistant.py --bundle DIR [--device NAME] [--state FILE] [--json]

Timers, alarms, reminders, lists and smart-home device states live in a JSON state file
(examples/assistant/state.py: atomic saves, survives restarts); examples/assistant/actions.py
acts on each intent. Replies are printed and spoken with espeak-ng; while it speaks, and for
`--mute-tail-s` after, the microphone is muted (its blocks thrown away) and the stream is reset,
so the assistant never hears (and answers) itself. A timer, alarm or reminder that comes due while
someone is speaking waits for the end of that utterance (bounded by the stream's maximum utterance
length), so its announcement never mutes the microphone over a command. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assistant.actions import Assistant  # noqa: E402
from assistant.state import StateError  # noqa: E402

from edge_audiollm import Pipeline  # noqa: E402
from edge_audiollm.errors import EdgeAudioError  # noqa: E402
from edge_audiollm.events import Final  # noqa: E402
from edge_audiollm.listen import quiet_native_stderr  # noqa: E402
from edge_audiollm.mic import Microphone  # noqa: E402

DEFAULT_STATE = Path.home() / ".local" / "state" / "edge-audiollm" / "assistant.json"


class Voice:
    """espeak-ng as the speech output; the microphone is deaf while it talks."""

    def __init__(self, args, mic: Microphone, stream):
        self.args, self.mic, self.stream = args, mic, stream
        self.enabled = not args.no_speak and shutil.which("espeak-ng") is not None
        if not args.no_speak and not self.enabled:
            print("voice_assistant: warning: espeak-ng not found; replies are printed only", file=sys.stderr)

    def say(self, text: str, kind: str, heard: Final | None = None) -> None:
        spoken_s = self._speak(text)
        if self.args.json:
            out = {"event": kind, "reply": text, "spoken_s": round(spoken_s, 2)}
            if heard is not None:
                out.update(intent=heard.intent, slots=heard.slots, text=heard.text,
                           endpoint_to_final_ms=round(heard.timings_ms.get("endpoint_to_final", 0.0), 1))
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            print(f"{'>' if kind == 'reply' else '!'} {text}", flush=True)

    def _speak(self, text: str) -> float:
        if not self.enabled:
            return 0.0
        t0 = time.monotonic()
        self.mic.muted = True
        try:
            subprocess.run(["espeak-ng", "-v", self.args.voice, "-s", "165", text], check=True, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            print(f"voice_assistant: warning: espeak-ng failed ({exc}); replies are printed only", file=sys.stderr)
            self.enabled = False
        spoken = time.monotonic() - t0
        # the sound server may still be playing the tail: stay deaf a little longer, then forget it all
        time.sleep(self.args.mute_tail_s)
        self.mic.drain()
        self.mic.muted = False
        self.stream.reset()
        return spoken


def announce_due(assistant: Assistant, stream, voice) -> int:
    """Speak the timers, alarms and reminders now due, unless someone is mid-utterance: talking
    over a command would mute the microphone and drop it, so they wait for its end."""
    if stream.in_utterance:
        return 0
    replies = assistant.due()
    for reply in replies:
        voice.say(reply, "fired")
    return len(replies)


def run(args) -> int:
    assistant = Assistant(args.state)
    mic = Microphone(args.device)
    pipe = Pipeline.load(args.bundle, providers=["cpu"], threads=args.threads)
    pipe.preload()  # no 0.7 s stall on the first utterance that needs the word LM
    stream = pipe.create_stream(task="understand", vad=args.vad, partials=True,
                                silence_after_speech_s=args.silence_s)
    handled = 0
    with mic:
        mic.wait_until_live()
        voice = Voice(args, mic, stream)
        print(f"voice_assistant: listening on {mic.device.name}; state in {args.state}; Ctrl-C stops",
              file=sys.stderr, flush=True)
        seen_overflows = 0
        while True:
            announce_due(assistant, stream, voice)
            chunk = mic.read(timeout_s=0.2)
            if mic.overflows != seen_overflows:
                print(f"voice_assistant: warning: {mic.overflow_message(mic.overflows - seen_overflows)}",
                      file=sys.stderr, flush=True)
                seen_overflows = mic.overflows
            if chunk is None:
                continue
            for event in stream.accept_waveform(chunk, 16000):
                if isinstance(event, Final) and (event.text or event.ctc_text or event.intent != "unknown"):
                    voice.say(assistant.handle(event.intent, event.slots), "reply", heard=event)
                    handled += 1
                    if args.max_commands and handled >= args.max_commands:
                        return 0
                    break  # the stream was reset while speaking: later events of this chunk are stale


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default")
    p.add_argument("--device", default=None, help="input device index or name (edge-audiollm devices)")
    p.add_argument("--state", type=Path, default=DEFAULT_STATE, help=f"state file (default {DEFAULT_STATE})")
    p.add_argument("--voice", default="en-us", help="espeak-ng voice for replies")
    p.add_argument("--no-speak", action="store_true", help="print replies only")
    p.add_argument("--mute-tail-s", type=float, default=0.5, help="stay deaf this long after speaking")
    p.add_argument("--silence-s", type=float, default=0.6, help="trailing silence that ends a command")
    p.add_argument("--vad", default="energy", choices=("energy", "silero", "ctc"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true", help="one JSON line per reply or fired timer/alarm/reminder")
    p.add_argument("--max-commands", type=int, default=0, help="exit 0 after this many commands (0: never)")
    args = p.parse_args()
    with quiet_native_stderr():
        try:
            return run(args)
        except (EdgeAudioError, StateError) as exc:
            print(f"voice_assistant: error: {exc}", file=sys.stderr, flush=True)
            return 2
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
