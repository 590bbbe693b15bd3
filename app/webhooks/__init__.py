"""/webhooks: calls from outside services (Stripe, Twilio), each authenticated by its sender's signature."""

from app.webhooks import stripe_hook, twilio_sms  # noqa: F401  (each registers its route on bp)
from app.webhooks.blueprint import bp

__all__ = ["bp"]
