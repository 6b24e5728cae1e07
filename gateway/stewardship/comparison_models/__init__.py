"""Comparison models as shared, versioned rules: authoring, versions, sharing (issue 15)."""
