"""Demo data generator: realistic, deliberately messy landing files for the retention pipeline.

    from retention.generator import generate
    summary = generate(Path("data/landing"), members=10_000)

Writes members, orders, events, tickets and outreach_feedback day by day in the layout and formats
of docs/landing_contract.md, and the ground truth (personas, planted defects) next to it.
"""

from retention.generator.defects import DEFECT_KINDS, DefectConfig
from retention.generator.generation import GenerationSummary, generate
from retention.generator.members import MemberChangeRates
from retention.generator.personas import DEFAULT_PERSONA_SHARES, PERSONAS, PROFILES

__all__ = [
    "DEFAULT_PERSONA_SHARES",
    "DEFECT_KINDS",
    "PERSONAS",
    "PROFILES",
    "DefectConfig",
    "GenerationSummary",
    "MemberChangeRates",
    "generate",
]
