"""A real capture device for tests: a private PulseAudio server with a null sink whose
monitor is the default capture source. Whatever `paplay` plays into the sink is what a
program capturing from the default device hears (sounddevice -> PortAudio -> ALSA ->
pulse), paced in real time and sample-exact.

    with AudioServer() as server:            # its own XDG_RUNTIME_DIR, stopped on exit
        env = server.env                     # give this to subprocesses that capture
        server.play(wav_path)                # blocks until played; play_async for a Popen

Needs `pulseaudio pulseaudio-utils libasound2-plugins libportaudio2` (Debian).
Use `python tests/audio_server.py` to print the environment for a shell session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SINK = "mic"
REQUIRED = ("pulseaudio", "pactl", "paplay")


def missing_tools() -> list[str]:
    missing = [t for t in REQUIRED if shutil.which(t) is None]
    alsa_pulse = any(Path(p).exists() for p in (
        "/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so",
        "/usr/lib/aarch64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so",
        "/usr/lib/alsa-lib/libasound_module_pcm_pulse.so"))
    if not alsa_pulse:
        missing.append("libasound2-plugins")
    return missing


class AudioServer:
    def __init__(self, rate: int = 16000):
        self.rate = rate
        self.proc: subprocess.Popen | None = None
        self.runtime_dir: str | None = None

    @property
    def env(self) -> dict:
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = self.runtime_dir
        env["PULSE_RUNTIME_PATH"] = os.path.join(self.runtime_dir, "pulse")
        env.pop("PULSE_SERVER", None)
        return env

    def start(self) -> "AudioServer":
        self.runtime_dir = tempfile.mkdtemp(prefix="edge-audio-pulse-")
        os.chmod(self.runtime_dir, 0o700)
        self.proc = subprocess.Popen(
            ["pulseaudio", "--exit-idle-time=-1", "--disallow-exit", "-n", "--daemonize=no",
             "--log-target=stderr", "--log-level=error",
             "--load=module-native-protocol-unix",
             f"--load=module-null-sink sink_name={SINK} rate={self.rate} channels=1"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with status {self.proc.returncode}")
            if self._pactl("info").returncode == 0:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("pulseaudio did not start within 10 s")
        self._pactl("set-default-source", f"{SINK}.monitor", check=True)
        self._pactl("set-default-sink", SINK, check=True)
        return self

    def _pactl(self, *args, check=False):
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True,
                              timeout=10, check=check)

    def play_async(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", f"--device={SINK}", str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def play(self, wav: Path, timeout: float = 60) -> None:
        p = self.play_async(wav)
        _, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"paplay failed: {err.decode(errors='replace').strip()}")

    def kill(self) -> None:
        """Stop the server abruptly: a capture device that vanishes mid-stream."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if self.runtime_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.runtime_dir = None

    def __enter__(self) -> "AudioServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    import signal

    server = AudioServer().start()
    print(f"export XDG_RUNTIME_DIR={server.runtime_dir} PULSE_RUNTIME_PATH={server.runtime_dir}/pulse")
    print("# Ctrl-C stops the server", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
