"""The catalogue: categories, their images and order, partners' content per category."""
