"""The structured contact data of `flask seed-scale` leads (SPEC 9.2), as app.leads.intake would have stored it.

A lead's person is a number: its name, email and phone follow from it, so the few leads that reuse an earlier
person (or only its phone, a shared office line) are real duplicates by normalised email and E.164 phone. The
quality score is app.leads.scoring.score over the fields filled, computed once per distinct set of filled fields.
"""

import json
import random

import click

from app.leads import scoring
from app.leads.fields import BUDGETS, LEAD_TYPES, TIMELINES, normalise_email, to_e164
from app.models import IntakeSettings

# Real US area codes; exchanges 230–929 avoid the N11 service codes, so every number is valid for phonenumbers.
AREA_CODES = ("202", "212", "305", "312", "415", "617", "713", "206")
DOMAINS = ("client.example.com", "example.com", "mail.example.org", "gmail.com", "corp.example.net")
JOBS = ("Owner", "Operations manager", "Head of purchasing", "IT lead", "Finance director", "Office manager")
INDUSTRIES = ("Retail", "Manufacturing", "Healthcare", "Hospitality", "Construction", "Education", "Transport")
STREETS = ("Market Street", "High Street", "Station Road", "Harbour Way", "Mill Lane", "Park Avenue")
REPEAT_PERSON, REPEAT_PHONE, NO_PHONE = 0.02, 0.01, 0.08  # shares of leads
PENDING_REVIEW = 0.25  # of the unallocated leads; the rest are approved and wait for a partner
# Optional fields in the order of the filled-set bit mask; each is filled with this probability.
OPTIONAL = (("job_title", 0.6), ("industry", 0.7), ("address", 0.5), ("lead_type", 0.8), ("budget", 0.55),
            ("timeline", 0.5))  # fmt: skip
ALWAYS = ("first_name", "last_name", "contact_email", "contact_company")
COLUMNS = ("contact_name", "contact_email", "contact_phone", "first_name", "last_name", "job_title", "industry",
           "address", "lead_type", "budget", "timeline", "custom_fields", "email_normalized", "phone_e164",
           "quality_score", "score_breakdown", "channel", "intake_status", "confirmed_at", "utm")  # fmt: skip


def default_weights() -> dict[str, int]:
    """The score weights a fresh platform has (IntakeSettings' column defaults): 30 / 40 / 30."""
    table = IntakeSettings.__table__
    return {group: table.c[f"weight_{group}"].default.arg for group, _label in scoring.GROUPS}


def phone(n: int) -> tuple[str, str]:
    """Person n's phone as typed (one of a few national formats) and in E.164."""
    area, rest = AREA_CODES[n % len(AREA_CODES)], n // len(AREA_CODES)
    exchange, line = 230 + (rest // 10_000) % 700, rest % 10_000
    shown = (f"({area}) {exchange}-{line:04d}", f"+1 {area} {exchange} {line:04d}", f"{area}.{exchange}.{line:04d}")
    return shown[n % 3], f"+1{area}{exchange}{line:04d}"


def check_phones(rng: random.Random, people: int, samples: int = 3000) -> None:
    """Refuse to generate anything unless phonenumbers reads the generated numbers as the E.164 stored."""
    for n in [0, 1, people - 1, people] + [rng.randrange(0, people + 1) for _ in range(samples)]:
        shown, e164 = phone(n)
        try:
            parsed = to_e164(shown, "US")
        except ValueError:
            parsed = None
        if parsed != e164:
            raise click.ClickException(f"generated phone {shown!r} is not the valid number {e164}")


class Contacts:
    """Builds the COLUMNS of each generated lead from the generator's random source."""

    def __init__(self, rng: random.Random, first: tuple, last: tuple):
        self.rng, self.first, self.last = rng, first, last
        self.weights = default_weights()
        self.scores: dict[int, tuple[str, str]] = {}  # filled-set bit mask → (score, breakdown JSON)
        self.values = {"lead_type": [k for k, _ in LEAD_TYPES], "budget": [k for k, _ in BUDGETS],
                       "timeline": [k for k, _ in TIMELINES], "job_title": JOBS, "industry": INDUSTRIES}  # fmt: skip

    def score(self, mask: int, has_phone: bool) -> tuple[str, str]:
        key = mask * 2 + has_phone
        if key not in self.scores:
            filled = {*ALWAYS, *(name for bit, (name, _) in enumerate(OPTIONAL) if mask >> bit & 1)}
            if has_phone:
                filled.add("contact_phone")
            points, breakdown = scoring.score(filled, None, self.weights)
            self.scores[key] = str(points), json.dumps(breakdown).replace("\\", "\\\\")  # COPY text escapes
        return self.scores[key]

    def person(self, serial: int) -> tuple[int, int]:
        """(whose name and email, whose phone): mostly the lead's own, sometimes an earlier lead's."""
        roll = self.rng.random()
        if serial > 1 and roll < REPEAT_PERSON:
            earlier = self.rng.randrange(1, serial)
            return earlier, earlier
        if serial > 1 and roll < REPEAT_PERSON + REPEAT_PHONE:
            return serial, self.rng.randrange(1, serial)
        return serial, serial

    def row(self, serial: int, allocated: bool, originated: bool, created: str) -> tuple:
        rng = self.rng
        who, phone_of = self.person(serial)
        first, last = self.first[who % len(self.first)], self.last[(who // len(self.first)) % len(self.last)]
        local = f"{first}.{last}{who}"
        domain = DOMAINS[who % len(DOMAINS)]
        typed = f"{local}+lead@{domain}" if rng.random() < 0.05 else f"{local}@{domain}"  # as people type it
        email = typed if rng.random() < 0.5 else typed.lower()
        shown, e164 = phone(phone_of) if rng.random() >= NO_PHONE else (None, None)
        mask, extra = 0, []
        for bit, (name, share) in enumerate(OPTIONAL):
            if rng.random() < share:
                mask |= 1 << bit
                extra.append(self.value(name, who))
            else:
                extra.append(None)
        points, breakdown = self.score(mask, shown is not None)
        if originated:  # a partner's own lead, typed in its portal or arrived through its referral link
            channel = "portal" if rng.random() < 0.8 else "referral"
        else:
            channel = ("admin", "public_form", "import")[rng.randrange(3)]
        status = "distributed" if allocated else "pending_review" if rng.random() < PENDING_REVIEW else "approved"
        return (f"{first} {last}", email, shown, first, last, *extra, "{}", normalise_email(email), e164, points,
                breakdown, channel, status, created, "{}")  # fmt: skip

    def value(self, name: str, who: int) -> str:
        if name == "address":
            return f"{who % 900 + 1} {STREETS[who % len(STREETS)]}"
        choices = self.values[name]
        return choices[self.rng.randrange(len(choices))]
