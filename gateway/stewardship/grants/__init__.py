"""Access requests and the grants they become once approved (checks and balances)."""
