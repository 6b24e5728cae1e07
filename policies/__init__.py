"""The policy decision point: casbin for who may call what, Rego for what data a request sees."""
