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
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
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


class CaptureProcess:
    """A Python program that captures from the server's default source, run in a subprocess
    with the server's environment; returned once a stderr line contains `ready` ("listening on")."""

    def __init__(self, server: AudioServer, argv: list, *, ready: str = "listening on", ready_timeout_s: float = 60,
                 cwd: Path | None = None):
        self.proc = subprocess.Popen([sys.executable, *map(str, argv)], env=server.env, cwd=cwd or Path(__file__).parents[1],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err_lines: queue.Queue = queue.Queue()
        self.out_lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err_lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out_lines), daemon=True).start()
        self.ready = ready
        self.stderr: list[str] = []
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.err_lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line is None:  # stderr closed: the program ended
                break
            self.stderr.append(line)
            if ready in line:
                return
        self.proc.kill()
        raise AssertionError(f"{' '.join(map(str, argv))} did not start: {''.join(self.stderr)}")

    @staticmethod
    def _pump(pipe, q: queue.Queue) -> None:
        for line in pipe:
            q.put(line)
        q.put(None)

    def next_line(self, timeout: float) -> str | None:
        """The next stdout line, or None when none came within timeout (or stdout closed)."""
        try:
            return self.out_lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait(self, timeout: float = 60) -> tuple[int, str, list[str]]:
        """Exit status, the rest of stdout, and stderr lines other than the ready line."""
        self.proc.wait(timeout=timeout)
        out = []
        while (line := self.next_line(timeout=5)) is not None:
            out.append(line)
        time.sleep(0.1)
        while not self.err_lines.empty():
            line = self.err_lines.get()
            if line is not None:
                self.stderr.append(line)
        return self.proc.returncode, "".join(out), [ln for ln in self.stderr if self.ready not in ln]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


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
