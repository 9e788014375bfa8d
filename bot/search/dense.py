"""Dense scoring over one index: a compact scan of every passage, exact float32 on a shortlist.

The index keeps each vector twice: float32 (`vectors.npy`, exact, memory-mapped, read only for the
rows that are re-scored) and one byte per dimension (`vectors.q8.npy`, scanned for every question).
The scan runs as an integer matrix product in ONNX Runtime (MLAS, VNNI where the CPU has it) with
the question quantised to 12 bits as two int8 columns, so the only approximation that matters is
the passages' own 8-bit rounding; `error_bound` says how far a scanned score can be from the exact
one, and callers re-score every row that could change a decision.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import weakref

import numpy as np

from bot.index.compact import ZERO

log = logging.getLogger(__name__)

EXACT_BELOW = 4096  # indexes smaller than this are scored exactly in float32 (fast, tiny)
_CHUNK = 8192
_HI = 64  # query = HI * high + low, high in [-63, 63], low in [-32, 31]


class DenseScorer:
    """Cosine of a query vector with every passage of one index."""

    _session_lock = threading.Lock()
    _session = None  # one ONNX Runtime session for all indexes (it holds no data)

    def __init__(self, vectors: np.ndarray, codes: np.ndarray | None, scale: np.ndarray | None) -> None:
        self.vectors = vectors
        self.count = len(vectors)
        compact = codes is not None and scale is not None and self.count >= EXACT_BELOW
        self.codes = codes if compact else None
        self.scale = np.asarray(scale, dtype=np.float32) if compact and scale is not None else None
        # Exact rows of a big index are read with pread, not through the memory map: over many
        # questions the map would pull the whole float32 file (1.5 KB a passage) into the process.
        self._fd: int | None = None
        filename = getattr(vectors, "filename", None)
        offset = getattr(vectors, "offset", None)
        if self.codes is not None and filename and isinstance(offset, int) and vectors.flags.c_contiguous:
            try:
                self._fd = os.open(filename, os.O_RDONLY)
                weakref.finalize(self, os.close, self._fd)
                self._offset = offset
                self._row_bytes = vectors.shape[1] * vectors.dtype.itemsize
            except OSError:
                self._fd = None

    @property
    def approximate(self) -> bool:
        return self.codes is not None

    def scores(self, query: np.ndarray) -> np.ndarray:
        """(count,) float32: exact for small indexes, scanned codes otherwise (see error_bound)."""
        query = np.asarray(query, dtype=np.float32)
        if self.codes is None or self.scale is None:
            return np.asarray(self.vectors @ query, dtype=np.float32)
        folded = query * self.scale
        session = self._ort_session()
        if session is not None:
            top = float(np.abs(folded).max()) or 1.0
            step = top / (_HI * 63 + 31)
            whole = np.rint(folded / step).astype(np.int32)
            high = np.rint(whole / _HI).astype(np.int32)
            low = whole - _HI * high
            b = np.stack([high, low], axis=1).astype(np.int8)
            steps = np.array([[_HI * step], [step]], dtype=np.float32)
            feeds = {"a": self.codes, "b": b, "za": np.array(ZERO, dtype=np.uint8), "steps": steps}
            (out,) = session.run(None, feeds)
            return out.reshape(-1)
        return self._numpy_scan(folded)

    def _numpy_scan(self, folded: np.ndarray) -> np.ndarray:
        assert self.codes is not None
        out = np.empty(self.count, dtype=np.float32)
        buffer = np.empty((_CHUNK, folded.size), dtype=np.float32)
        offset = np.float32(ZERO * folded.sum())
        for start in range(0, self.count, _CHUNK):
            block = self.codes[start : start + _CHUNK]
            view = buffer[: len(block)]
            np.copyto(view, block, casting="unsafe")
            np.matmul(view, folded, out=out[start : start + len(block)])
        out -= offset
        return out

    def error_bound(self, query: np.ndarray) -> float:
        """Largest possible |scanned - exact| score for this query (0 when scoring is exact)."""
        if self.scale is None:
            return 0.0
        folded = np.abs(np.asarray(query, dtype=np.float32) * self.scale)
        # Rounding each code is at most half a step; the 12-bit query adds at most half its step
        # times the largest code (127) per dimension.
        query_step = float(folded.max()) / (_HI * 63 + 31)
        return float(0.5 * folded.sum() + 0.5 * query_step * 127 * folded.size) + 1e-6

    def exact(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Exact float32 scores of some rows (sorted reads from the memory map)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros(0, dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        result = np.empty(rows.size, dtype=np.float32)
        result[order] = self.rows(rows[order]) @ np.asarray(query, dtype=np.float32)
        return result

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """Float32 rows (pass them sorted for sequential reads)."""
        if self._fd is None:
            return np.asarray(self.vectors[rows], dtype=np.float32)
        size, start = self._row_bytes, self._offset
        data = b"".join(os.pread(self._fd, size, start + int(r) * size) for r in rows)
        return np.frombuffer(data, dtype=np.float32).reshape(len(rows), -1)

    @classmethod
    def _ort_session(cls):  # type: ignore[no-untyped-def]
        if cls._session is None:
            with cls._session_lock:
                if cls._session is None:
                    cls._session = _build_session() or False
        return cls._session or None


def _build_session():  # type: ignore[no-untyped-def]
    """An ONNX Runtime session computing float(MatMulInteger(codes - 128, query int8 (d, 2))) @ steps,
    all on ONNX Runtime's threads (the int32 columns never reach Python)."""
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return None
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [
                helper.make_node("MatMulInteger", ["a", "b", "za"], ["y"]),
                helper.make_node("Cast", ["y"], ["yf"], to=TensorProto.FLOAT),
                helper.make_node("MatMul", ["yf", "steps"], ["out"]),
            ],
            "scan",
            [
                helper.make_tensor_value_info("a", TensorProto.UINT8, ["n", "d"]),
                helper.make_tensor_value_info("b", TensorProto.INT8, ["d", 2]),
                helper.make_tensor_value_info("za", TensorProto.UINT8, []),
                helper.make_tensor_value_info("steps", TensorProto.FLOAT, [2, 1]),
            ],
            [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 1])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an old or broken onnxruntime: the numpy scan is correct, just slower
        log.warning("integer scan unavailable (%s); using numpy", exc)
        return None
