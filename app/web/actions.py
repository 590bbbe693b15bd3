"""One shape for every form action: load → validate → operation → commit, or roll back → answer.

A view loads what the action is about (404/403 there), then hands the bound form, the operation and the
answer to `run_action`. The operation refuses by raising app.errors.Refused (its status and field say how);
the answer renders the reply for the part of the page the form came from (see app/web.is_htmx_partial).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import Refused
from app.extensions import db


@dataclass(frozen=True)
class Outcome:
    form: Any
    status: int = 200
    error: Refused | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def invalid(self) -> bool:
        """The form itself did not validate (nothing was tried)."""
        return self.error is None and not self.ok


def attach_error(form, exc: Refused) -> None:
    """Show a refusal beside the field(s) it concerns, when the form has them."""
    messages = getattr(exc, "errors", None) or {exc.field: str(exc)}
    for name, message in messages.items():
        if form is not None and name and name in form:
            form[name].errors = [*form[name].errors, message]


def run_action(form, operation: Callable[[Any], Any], answer: Callable[[Outcome], Any], validate=None):
    """Validate `form` (or call `validate()`), run `operation(form)`, commit; a refusal rolls back."""
    valid = form.validate() if validate is None else validate()
    if not valid:
        return answer(Outcome(form, 422))
    try:
        result = operation(form)
    except Refused as exc:
        db.session.rollback()
        attach_error(form, exc)
        return answer(Outcome(form, exc.status, error=exc))
    db.session.commit()
    return answer(Outcome(form, 200, result=result))
