"""Partner enablement (SPEC 9.6): the marketing asset library and training with certification."""
