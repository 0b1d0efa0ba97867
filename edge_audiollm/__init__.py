"""edge_audiollm: offline speech understanding for small devices.

Imports stay cheap: the heavy modules (onnxruntime) load only when a Pipeline is built,
so `edge-audiollm info` and `import edge_audiollm` start fast.
"""

__version__ = "0.1.0"

__all__ = ["Pipeline", "EdgeAudioError", "__version__"]

from .errors import EdgeAudioError


def __getattr__(name):
    # Lazy attribute: `from edge_audiollm import Pipeline` without importing
    # onnxruntime at package import time.
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'edge_audiollm' has no attribute {name!r}")
