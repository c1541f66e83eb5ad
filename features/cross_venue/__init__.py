"""Cross-venue analytics for one asset: pure, synchronous, no I/O, no clock.

The runtime builds a ``VenueBook`` per market once per second and calls ``consolidate``,
``merged_depth_curve``, ``basis``, ``all_pairs`` and ``OpportunityTracker.update``. Every price
is in USD (each book's ``usd_per_quote`` applied), every size in base units.
"""

from features.cross_venue.arbitrage import ArbQuote, all_pairs, arbitrage
from features.cross_venue.basis import Basis, basis
from features.cross_venue.consolidated import (
    DEPTH_BANDS_BPS,
    BandDepth,
    ConsolidatedBook,
    MarketTop,
    consolidate,
)
from features.cross_venue.depth_curve import DepthCurve, merged_depth_curve
from features.cross_venue.opportunities import EndReason, Opportunity, OpportunityTracker
from features.cross_venue.venue_book import UsdBook, VenueBook, to_usd, venue_skew_ms

__all__ = [
    "DEPTH_BANDS_BPS", "ArbQuote", "BandDepth", "Basis", "ConsolidatedBook", "DepthCurve",
    "EndReason", "MarketTop", "Opportunity", "OpportunityTracker", "UsdBook", "VenueBook",
    "all_pairs", "arbitrage", "basis", "consolidate", "merged_depth_curve", "to_usd",
    "venue_skew_ms",
]
