"""Partner organisations: company profiles, bank details, logos."""
