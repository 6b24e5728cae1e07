"""The data resource catalog: departments, sources, datasets, fields and their classification."""
