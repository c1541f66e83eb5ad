"""``GET /window/{market}?format=csv|parquet``: the rolling window (the last ``history_seconds``
seconds a viewer sees) as a file, one row per second, oldest first.

The columns are the ``history`` of the ``snapshot`` message (docs/frames.md) with ``ts`` also as
an ISO ``time``. Parquet adds ``heatmap``: each second's column of resting sizes, a list of
``heatmap_rows`` floats (null without a live book), with ``heatmap_lo`` and the ``heatmap_step``
of the meta giving the prices. CSV, being flat, leaves the heatmap cells out.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from state.symbol_state import SymbolState

Format = Literal["csv", "parquet"]
MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def window_table(state: SymbolState, with_heatmap: bool) -> pa.Table:
    message = state.snapshot_message()
    history: dict[str, list[Any]] = dict(message["history"])
    heatmap = history.pop("heatmap")
    columns: dict[str, Any] = {
        "market": [state.market] * len(history["ts"]),
        "time": [None if t is None else datetime.fromtimestamp(t, UTC) for t in history["ts"]],
    }
    for name, values in history.items():
        columns[name] = pa.array(values, type=pa.float64() if name != "trade_count"
                                 else pa.int64())
    if with_heatmap:
        columns["heatmap"] = pa.array(heatmap, type=pa.list_(pa.float64()))
        columns["heatmap_step"] = [message["meta"]["heatmap_step"]] * len(history["ts"])
    return pa.table(columns)


def window_file(state: SymbolState, fmt: Format) -> bytes:
    """The window encoded as ``fmt``."""
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(window_table(state, with_heatmap=True), sink)
    else:
        pa_csv.write_csv(window_table(state, with_heatmap=False), sink)
    return sink.getvalue()


def file_name(state: SymbolState, fmt: Format) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = state.market.replace(":", "_")
    return f"depthlens_{safe}_{stamp}.{fmt}"
