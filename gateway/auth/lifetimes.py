"""How long an embedded token lives: a module of its own so ``sluice token --help``
shows the bounds without importing the signing stack."""

DEFAULT_TTL_S = 3600
MAX_TTL_S = 7 * 24 * 3600
