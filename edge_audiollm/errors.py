"""Typed errors. Every user-facing failure is an EdgeAudioError with a message that
names what is wrong, where, and what to do; the CLI prints it as one line."""


class EdgeAudioError(Exception):
    """Base class for every error the package raises on purpose."""


class AudioError(EdgeAudioError, ValueError):
    """Audio that cannot be read or is not usable (empty, NaN, wrong dtype, ...)."""


class FeatureError(EdgeAudioError, ValueError):
    """Bad input to the feature front-end."""


class DecoderError(EdgeAudioError, ValueError):
    """Bad input to a CTC or HMM decoder (shape, vocabulary size, non-finite values)."""


class CodecError(EdgeAudioError, ValueError):
    """Codec tokens that do not fit the codec (count, range, rates) or a token file that cannot be read."""


class BundleError(EdgeAudioError):
    """A bundle that is missing, incomplete, tampered with or of an unknown version."""


class ProviderError(EdgeAudioError):
    """An execution provider problem that cannot be solved by falling back to CPU."""


class DeviceError(EdgeAudioError):
    """Microphone / PortAudio problems."""
