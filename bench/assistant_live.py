"""Acceptance of examples/voice_assistant.py through a real capture device: commands in a
held-out voice are played into the sound server's null sink (the assistant's microphone) and
its replies are spoken with espeak-ng into the same sink. Checks: a timer is set and fires,
items added to a list are still there after the process is SIGKILLed and restarted, every reply
is spoken, and no reply comes back as a command. As a person would, the bench waits for the
timer's announcement before it says the next command. Writes bench/results/assistant_live.json.

    nice python bench/assistant_live.py --bundle DIR [--voice festival_ked]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import write_results  # noqa: E402
from bench._live import ROOT, AudioServer, CaptureProcess, installed_held_out_voices, padded_wav, synth  # noqa: E402

STEPS = (  # (what is said, what the state must show after it)
    ("set a timer for ten seconds", "timer"),
    ("add milk and eggs to the shopping list", "list2"),
    ("restart", None),
    ("add bread to the shopping list", "list3"),
)


def start(server, args, state):
    return CaptureProcess(server, [ROOT / "examples" / "voice_assistant.py", "--bundle", args.bundle,
                                   "--state", state, "--json"], ready="listening on")


def say(server, app, voice, text, tmp, wait_s=25.0) -> list[dict]:
    server.play(padded_wav(synth(voice, text), Path(tmp) / "cmd.wav"))
    got, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        line = app.next_line(timeout=0.5)
        if line:
            got.append(json.loads(line))
            if got[-1]["event"] == "reply":
                break
    return got


def wait_fired(app, log, t0, wait_s) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        line = app.next_line(timeout=0.5)
        if line:
            log.append({**json.loads(line), "s_after_command_played": round(time.monotonic() - t0, 1)})
            if log[-1]["event"] == "fired":
                return True
    return False


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default="default")
    p.add_argument("--voice", default=None, help="held-out voice (default: the first installed)")
    args = p.parse_args()
    voice = args.voice or installed_held_out_voices(1)[0]
    log, checks = [], {}
    with AudioServer() as server, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.json"
        app = start(server, args, state)
        try:
            for text, check in STEPS:
                if text == "restart":
                    app.kill()  # SIGKILL: no clean shutdown
                    app = start(server, args, state)
                    log.append({"event": "restarted after SIGKILL"})
                    continue
                t_said = time.monotonic()
                got = say(server, app, voice, text, tmp)
                log += [{"said": text, **g} for g in got]
                s = json.loads(state.read_text()) if state.exists() else {}
                shopping = s.get("lists", {}).get("shopping", [])
                if check == "timer":
                    checks["timer_set"] = len(s.get("timers", [])) == 1
                elif check == "list2":
                    checks["list_after_add"] = shopping[:2] == ["milk", "eggs"]
                elif check == "list3":
                    checks["list_kept_after_kill_and_restart"] = shopping == ["milk", "eggs", "bread"]
                if check == "timer":  # like a person, wait while the assistant announces the timer
                    checks["timer_fired_before_next_command"] = wait_fired(app, log, t_said, 30.0)
            deadline = time.monotonic() + 20  # the 10 s timer, if it has not fired yet
            while not any(e.get("event") == "fired" for e in log) and time.monotonic() < deadline:
                line = app.next_line(timeout=0.5)
                if line:
                    log.append(json.loads(line))
            late = app.next_line(timeout=4.0)  # nothing more: no reply heard as a command
            checks["no_self_trigger"] = late is None
        finally:
            app.kill()
    events = [e for e in log if "event" in e and e["event"] in ("reply", "fired")]
    checks["timer_fired"] = any(e["event"] == "fired" and "timer" in e["reply"] for e in events)
    checks["replies_spoken"] = bool(events) and all(e["spoken_s"] > 0.3 for e in events)
    for e in log:
        print(json.dumps(e, ensure_ascii=False))
    for k, v in checks.items():
        print(f"{'ok ' if v else 'BAD'} {k}")
    print(f"wrote {write_results('assistant_live', {'bundle': args.bundle, 'voice': voice, 'checks': checks, 'log': log})}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
