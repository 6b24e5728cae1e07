"""User administration: attributes in the catalog's users table, roles in casbin."""
