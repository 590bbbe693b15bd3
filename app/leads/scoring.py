"""The lead quality score, 0–100 (seed 001): required fields, additional fields, qualification.

Each group earns its weight (30 / 40 / 30 by default, editable by admins in IntakeSettings) in proportion to
how many of its fields are filled. The breakdown is stored with the lead so the score explains itself.
"""

from app.extensions import db
from app.leads.fields import specs_for
from app.models import IntakeSettings

GROUPS = (("required", "Required fields"), ("additional", "Additional fields"), ("qualification", "Qualification"))


DEFAULTS = {"weight_required": 30, "weight_additional": 40, "weight_qualification": 30}


def settings() -> IntakeSettings:
    """The platform's intake settings row (the migration creates it), for operations that change or use it."""
    row = db.session.get(IntakeSettings, 1)
    if row is None:
        row = IntakeSettings(id=1, **DEFAULTS)
        db.session.add(row)
        db.session.flush()
    return row


def weights(row: IntakeSettings | None = None) -> dict[str, int]:
    """The score weights; reading them never writes (pages that preview a score are GETs)."""
    row = row or db.session.get(IntakeSettings, 1) or IntakeSettings(**DEFAULTS)
    return {
        "required": row.weight_required,
        "additional": row.weight_additional,
        "qualification": row.weight_qualification,
    }


def score(filled: set[str], category, group_weights: dict[str, int], specs=None) -> tuple[int, dict]:
    """(score, breakdown) of a lead whose filled field names are `filled` (`specs`: specs_for(category), cached)."""
    breakdown, total = {}, 0.0
    specs = specs if specs is not None else specs_for(category)
    for group, label in GROUPS:
        names = [spec.name for spec in specs if spec.group == group]
        have = [name for name in names if name in filled]
        weight = group_weights[group]
        points = weight * len(have) / len(names) if names else 0.0
        total += points
        breakdown[group] = {
            "label": label,
            "points": round(points, 1),
            "max": weight,
            "missing": [spec.label for spec in specs if spec.group == group and spec.name not in filled],
        }
    return min(100, int(total + 0.5)), breakdown  # half up: 32.5 scores 33
