"""The query broker: the enforcement point between an analyst and a partner's source."""
