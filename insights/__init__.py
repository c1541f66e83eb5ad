"""The decision layer: rules over one-second frames, plain-language insights, profiles.

Public surface: ``RuleBook`` / ``load_rules`` / ``default_rules`` / ``RulesError`` (rules files),
``DecisionLayer`` (per symbol, once a second), ``liquidity_signals`` (event-log facts).
"""

from insights.engine import PROFILES, Decision, DecisionLayer, Profile
from insights.loader import DEFAULT_RULES_PATH, RuleBook, RulesError, default_rules, load_rules
from insights.rules import Condition, Rule
from insights.signals import empty_signals, liquidity_signals

__all__ = [
    "DEFAULT_RULES_PATH", "PROFILES", "Condition", "Decision", "DecisionLayer", "Profile", "Rule",
    "RuleBook", "RulesError", "default_rules", "empty_signals", "liquidity_signals", "load_rules",
]
