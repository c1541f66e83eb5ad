"""One price path per asset that every venue's simulation follows, with no state to share.

The venues run in separate threads, event loops or processes, so the common path is a pure
function of the asset's name and time: ``path_offset(asset, t_ns)``. Any instance, created
whenever, computes the same value for the same time. It is multi-scale value noise: at each of
``LEVELS`` grid spacings (``FINEST_NS`` doubling up to ~1.8 hours) a seeded hash of (asset,
level, grid index) gives a value at every grid point, linearly interpolated in between, with an
amplitude growing as the square root of the spacing. The sum moves like a random walk at the
horizons that matter here, a publish tick to half an hour (increments over ``h`` seconds have
variance ~``h``, so a venue scales it by its volatility in bp per sqrt second), but unlike a
walk it is bounded: it wanders around zero with a standard deviation of ``STATIONARY_STD`` units
(~47: ~11 bp for BTC, ~21 bp for the 0.45 bp/sqrt-s markets), so prices stay near the asset's
anchor however long the exchange runs.

Hashing is integer-only (splitmix64 over a CRC of the name): Python's ``hash`` of a string is
salted per process and would give each process its own path.
"""

from __future__ import annotations

import math
import random
import zlib

FINEST_NS = 50_000_000  # half a publish tick (see _RAW_VAR_PER_S)
LEVELS = 18              # spacings 0.05 s .. 0.05 s * 2**17 (~1.8 h)
_MASK = (1 << 64) - 1
_UNIFORM_SCALE = 2 * math.sqrt(3.0) / float(1 << 53)  # 53 random bits -> unit-variance uniform

# Increments of the raw sum over h seconds have variance ``_RAW_VAR_PER_S * h``: measured 3.9-4.1
# over 1 s to 60 s (9000 samples each; tests/test_cross_venue_model.py checks it), falling to 3.5
# at 30 min and 3.0 at 1 h as the coarsest level bounds the path; 3.2 over one 0.1 s publish
# tick, inside which the finest level is only two straight segments (a 0.1 s finest level gave
# 2.7 there, and a visibly stickier touch on the large-tick markets). Dividing by its root
# makes one unit per sqrt second.
_RAW_VAR_PER_S = 4.0
# Standard deviation of the normalised path around zero (2/3 of each level's value variance,
# summed): a venue with 0.25 bp/sqrt(s) wanders ~0.25 * STATIONARY_STD bp around its anchor.
STATIONARY_STD = math.sqrt(sum((FINEST_NS << level) / 1e9 for level in range(LEVELS))
                           * 2 / 3 / _RAW_VAR_PER_S)


def asset_key(asset: str) -> int:
    """A stable 32-bit key of the asset name (the same in every process)."""
    return zlib.crc32(asset.upper().encode())


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _grid_value(key: int, level: int, index: int) -> float:
    """Uniform on [-sqrt 3, sqrt 3] (unit variance), a pure function of its arguments."""
    bits = _mix(_mix(key * 64 + level) ^ (index & _MASK)) >> 11
    return bits * _UNIFORM_SCALE - math.sqrt(3.0)


def _offset(key: int, t_ns: int) -> float:
    """``path_offset`` of the asset keyed ``key``."""
    total = 0.0
    for level in range(LEVELS):
        spacing = FINEST_NS << level
        index, into = divmod(t_ns, spacing)
        frac = into / spacing
        v0 = _grid_value(key, level, index)
        v1 = _grid_value(key, level, index + 1)
        total += math.sqrt(spacing / 1e9) * (v0 + (v1 - v0) * frac)
    return total / math.sqrt(_RAW_VAR_PER_S)


def path_offset(asset: str, t_ns: int) -> float:
    """The asset's common path at ``t_ns`` (ns, any epoch): unitless, zero mean, increments
    over ``h`` seconds with variance ~``h``. A venue's log-price offset is ``vol * this``."""
    return _offset(asset_key(asset), t_ns)


# Each venue's constant premium over the common path. Perpetuals trade a little above spot on
# average (longs usually pay funding), by about a bp or two in calm markets, so the simulated
# basis is visible and positive. USD on Coinbase is taken at par with USDT (config ``usdt_usd``
# defaults to 1.0), so Coinbase sits on the path itself.
VENUE_PREMIUM_BPS: dict[str, float] = {"binance-usdm": 1.5}


class VenueFair:
    """One venue's latent fair price of an asset, in price units:
    ``anchor * exp((path_vol * path_offset(t) + premium + deviation) / 10_000)``.

    ``vol_bps`` is the venue's total volatility (bp per sqrt second). Its own deviation is a
    mean-reverting (Ornstein-Uhlenbeck) walk with stationary std ``deviation_bps`` and
    ``half_life_s``, seeded by the venue's own ``rng``; the common path carries the rest of the
    variance, so the venue's short-term volatility stays ``vol_bps``. Two venues of one asset
    with the same ``vol_bps`` and deviation knobs then follow the same path exactly and differ
    only by their premiums and deviations: a few bps, for as long as they run. (The own part is
    at most half the volatility, so a very calm venue is not all noise.)
    """

    def __init__(self, asset: str, anchor: float, vol_bps: float, premium_bps: float,
                 deviation_bps: float, half_life_s: float, rng: random.Random) -> None:
        self.key = asset_key(asset)
        self.anchor = anchor
        self.premium_bps = premium_bps
        self.rng = rng
        self.tau_s = max(half_life_s, 1e-9) / math.log(2)
        own_vol = min(deviation_bps * math.sqrt(2 / self.tau_s), vol_bps / 2)
        self.deviation_std = own_vol * math.sqrt(self.tau_s / 2)
        self.path_vol = math.sqrt(vol_bps ** 2 - own_vol ** 2)
        self.deviation = rng.gauss(0.0, self.deviation_std)  # bps, started in its steady state

    def common_bps(self, t_ns: int) -> float:
        """The common path's offset from the anchor at ``t_ns``, in bps (no premium)."""
        return self.path_vol * _offset(self.key, t_ns)

    def advance(self, dt_s: float) -> None:
        """Move the own deviation ``dt_s`` seconds on (exact OU transition)."""
        decay = math.exp(-dt_s / self.tau_s)
        self.deviation = (self.deviation * decay
                          + self.deviation_std * math.sqrt(1 - decay * decay)
                          * self.rng.gauss(0.0, 1.0))

    def price(self, t_ns: int) -> float:
        """The fair price at ``t_ns`` with the current deviation, in price units."""
        bps = self.common_bps(t_ns) + self.premium_bps + self.deviation
        return self.anchor * math.exp(bps * 1e-4)
