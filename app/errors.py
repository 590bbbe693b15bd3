"""The one base of every refusal by a business rule, so that one action runner (app/web/actions.py) and,
later, the API answer them alike. The message is safe to show; `field` names the form field it concerns."""


class Refused(Exception):
    status = 409

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.field = field
