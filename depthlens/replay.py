"""Recordings as DataFrames, for notebooks::

    from depthlens import replay
    df = replay.features("hftbacktest_usdm_btcusdt_20240808.gz")   # one row per market-second
    events = replay.events("hftbacktest_usdm_btcusdt_20240808.gz")  # one row per liquidity event

The same pipeline and the same tables as ``python main.py export`` (``depthlens.tables``), so a
DataFrame here equals the Parquet file the export writes. Each call replays the files once;
``tables`` gives all three from one replay.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from config import Config
from depthlens.pipeline import VenueClockReplay
from depthlens.tables import TableBuilder

Files = str | Path | Sequence[str | Path]


@dataclass(frozen=True)
class Tables:
    features: pd.DataFrame
    events: pd.DataFrame
    insights: pd.DataFrame


def frames(files: Files, config: Config = Config()) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(market, frame)`` per market per venue second, the frames of docs/frames.md."""
    return VenueClockReplay(_paths(files), config).frames()


def tables(files: Files, config: Config = Config()) -> Tables:
    builder = TableBuilder()
    batches: list[pa.Table] = []
    for market, frame in frames(files, config):
        builder.add(market, frame)
        if len(builder.features) >= 3600:
            batches.append(builder.take_features())
    batches.append(builder.take_features())
    events, insights = builder.finish()
    return Tables(_frame(pa.concat_tables(batches)), _frame(events), _frame(insights))


def features(files: Files, config: Config = Config()) -> pd.DataFrame:
    """One row per market per second (columns: ``depthlens.tables.FEATURES_SCHEMA``), with a
    UTC ``time`` column made from ``ts``."""
    return tables(files, config).features


def events(files: Files, config: Config = Config()) -> pd.DataFrame:
    """One row per liquidity event (its last state)."""
    return tables(files, config).events


def _frame(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas()
    if "ts" in df.columns:
        df.insert(0, "time", pd.to_datetime(df["ts"], unit="s", utc=True))
    return df


def _paths(files: Files) -> list[Path]:
    if isinstance(files, (str, Path)):
        return [Path(files)]
    return [Path(f) for f in files]
