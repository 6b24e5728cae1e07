"""Opening a registered source safely: the effective target, the address guard, one
pooled adapter per source. Registration uses the same guard when a steward connects."""
