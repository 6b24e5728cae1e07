"""The demo world: three departments' data (generated from a seed) and their catalog entries.

``generator.generate`` writes the tables; ``install.install_demo_catalog`` registers
the departments, sources, published datasets and demo users in the catalog database.
"""
