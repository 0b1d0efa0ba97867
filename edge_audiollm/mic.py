"""Microphone capture through sounddevice (PortAudio), imported only here (extra `mic`).

The PortAudio callback only copies each block into a bounded queue; everything else
(resampling to 16 kHz, VAD, models) runs on the consumer's thread. When the consumer falls
behind and the queue is full, blocks are dropped and counted (`overflows`,
`dropped_seconds`) while capture goes on; PortAudio's own input overflows are counted too.

    with Microphone(device="USB") as mic:                 # name substring or index; None: default
        while True:
            chunk = mic.read(timeout_s=1.0)               # float32 mono 16 kHz, or None on timeout
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from .errors import DeviceError
from .resampler import StreamResampler

TARGET_RATE = 16000
PORTAUDIO_HINT = "install the PortAudio library (Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)"


def import_sounddevice():
    """sounddevice, or one clear DeviceError naming what is missing."""
    try:
        import sounddevice as sd
    except ImportError:
        raise DeviceError("microphone support needs sounddevice: pip install 'edge-audiollm[mic]'") from None
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        detail = "" if "not found" in str(exc) else f" ({exc})"
        raise DeviceError(f"PortAudio library not found{detail}; {PORTAUDIO_HINT}") from None
    return sd


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_sample_rate: int
    is_default: bool


def list_input_devices() -> list[InputDevice]:
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from None
    try:
        default = int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError, KeyError, TypeError):
        default = -1
    return [InputDevice(i, d["name"], int(d["max_input_channels"]), int(d["default_samplerate"]), i == default)
            for i, d in enumerate(devices) if d["max_input_channels"] > 0]


def resolve_device(device: int | str | None) -> InputDevice:
    """An input device by index, by (case-insensitive substring of its) name, or the default."""
    devices = list_input_devices()
    if not devices:
        raise DeviceError("no audio input device found; plug in a microphone (or check `edge-audiollm devices`)")
    if device is None or device == "":
        for d in devices:
            if d.is_default:
                return d
        return devices[0]
    if isinstance(device, int) or (isinstance(device, str) and device.strip().isdigit()):
        index = int(device)
        for d in devices:
            if d.index == index:
                return d
        raise DeviceError(f"no input device with index {index}; `edge-audiollm devices` lists them")
    exact = [d for d in devices if d.name.lower() == device.lower()]
    matches = exact or [d for d in devices if device.lower() in d.name.lower()]
    if not matches:
        raise DeviceError(f"no input device matching {device!r}; `edge-audiollm devices` lists them")
    if len(matches) > 1:
        names = ", ".join(f"{d.index}: {d.name}" for d in matches)
        raise DeviceError(f"{device!r} matches several input devices ({names}); pass an index")
    return matches[0]


class Microphone:
    def __init__(self, device: int | str | None = None, *, block_s: float = 0.05, queue_s: float = 2.0,
                 sample_rate: int | None = None, stall_timeout_s: float = 3.0):
        self.device = resolve_device(device)
        self.sample_rate = int(sample_rate or self.device.default_sample_rate)  # the device's native rate
        self.block_frames = max(1, int(round(block_s * self.sample_rate)))
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, int(round(queue_s / block_s))))
        self.stall_timeout_s = stall_timeout_s
        self.overflows = 0  # blocks dropped because the consumer fell behind
        self.dropped_frames = 0
        self.portaudio_overflows = 0  # input overflows PortAudio itself reported
        self.frames_captured = 0
        self._resampler = StreamResampler(self.sample_rate, TARGET_RATE)
        self._stream = None
        self._last_block_at = 0.0
        self._live = threading.Event()  # set by the first block PortAudio delivers
        self.muted = False  # while True, captured blocks are thrown away (not queued, not overflows)

    @property
    def dropped_seconds(self) -> float:
        return self.dropped_frames / self.sample_rate

    # the PortAudio thread: copy, enqueue, count; nothing else
    def _callback(self, indata, frames, _time, status) -> None:
        if status and status.input_overflow:
            self.portaudio_overflows += 1
        self._last_block_at = time.monotonic()
        self._live.set()
        if self.muted:
            return
        try:
            self.queue.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self.overflows += 1
            self.dropped_frames += frames

    def start(self) -> "Microphone":
        sd = import_sounddevice()
        try:
            self._stream = sd.InputStream(
                device=self.device.index, samplerate=self.sample_rate, channels=1, dtype="int16",
                blocksize=self.block_frames, callback=self._callback,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise DeviceError(f"cannot open input device {self.device.index} ({self.device.name}) at "
                              f"{self.sample_rate} Hz: {exc}") from None
        self._last_block_at = time.monotonic()
        return self

    def wait_until_live(self, timeout_s: float = 5.0) -> None:
        """Block until audio actually flows: a sound server may take about a second after
        start() before the first block arrives, and sound played before that is not heard."""
        if not self._live.wait(timeout_s):
            self._check_alive()
            raise DeviceError(f"input device {self.device.index} ({self.device.name}) delivered no audio "
                              f"within {timeout_s:.0f} s of starting; check it with `edge-audiollm devices`")

    def read(self, timeout_s: float = 1.0) -> np.ndarray | None:
        """The next captured block as float32 mono 16 kHz, or None when none came in timeout_s.
        Raises DeviceError when the device stopped delivering audio (unplugged, server gone)."""
        try:
            block = self.queue.get(timeout=timeout_s)
        except queue.Empty:
            self._check_alive()
            return None
        self.frames_captured += block.size
        return self._resampler(block.astype(np.float32) / 32768.0)

    def overflow_message(self, new_blocks: int) -> str:
        return (f"processing fell behind: {new_blocks} audio block(s) dropped ({self.dropped_seconds:.2f} s "
                f"in all so far, {self.overflows} block(s)); listening goes on")

    def drain(self) -> int:
        """Discard every block captured so far (e.g. while the device itself is speaking); returns how many."""
        n = 0
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return n
            n += 1

    def _check_alive(self) -> None:
        s = self._stream
        if s is None:
            raise DeviceError("the microphone is not started")
        stalled = time.monotonic() - self._last_block_at
        if not s.active or stalled > self.stall_timeout_s:
            raise DeviceError(
                f"input device {self.device.index} ({self.device.name}) stopped delivering audio "
                f"({'stream stopped' if not s.active else f'nothing for {stalled:.1f} s'}); "
                "was it unplugged or its sound server stopped? Reconnect it and start again")

    def stop(self) -> None:
        s, self._stream = self._stream, None
        if s is not None:
            try:
                s.abort()
                s.close()
            except Exception:  # noqa: BLE001 - closing a vanished device must not mask the real error
                pass

    def __enter__(self) -> "Microphone":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
