"""Local rules: what the hub does by itself, uplink or not (design.md, "Default home rules").

``load_rules`` reads config/rules/*.yaml into a RuleSet; ``Engine`` turns events and a clock
into actions for the hub service to carry out.
"""

from hub.rules.engine import Engine
from hub.rules.load import load_rules
from hub.rules.model import RuleSet

__all__ = ["Engine", "RuleSet", "load_rules"]
