"""Live captions from a microphone: the partial text rewrites the current line while the
person speaks; the final text of each utterance stays.

    python examples/live_captions.py --bundle DIR [--device NAME]
"""

import argparse
import sys

from edge_audiollm import Pipeline
from edge_audiollm.errors import EdgeAudioError
from edge_audiollm.events import Final, Partial
from edge_audiollm.mic import Microphone


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default")
    p.add_argument("--device", default=None, help="input device index or name (edge-audiollm devices)")
    p.add_argument("--decoder", default="auto", choices=("auto", "llm", "ctc"), help="for the final text")
    args = p.parse_args()
    try:
        mic = Microphone(args.device)
        pipe = Pipeline.load(args.bundle, providers=["cpu"], threads=1)
        stream = pipe.create_stream(task="transcribe", decoder=args.decoder, silence_after_speech_s=0.8)
        with mic:
            mic.wait_until_live()
            print(f"captions from {mic.device.name}; Ctrl-C stops", file=sys.stderr)
            while True:
                chunk = mic.read(timeout_s=0.5)
                for event in stream.accept_waveform(chunk, 16000) if chunk is not None else ():
                    if isinstance(event, Partial):
                        print(f"\r\x1b[K{event.text}", end="", flush=True)
                    elif isinstance(event, Final):
                        print(f"\r\x1b[K[{event.start_s:7.2f}s] {event.text}", flush=True)
    except EdgeAudioError as exc:
        print(f"live_captions: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
