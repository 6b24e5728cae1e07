"""Administration by stewards and admins: source registration and catalog entries,
users and their emergency state, access requests (grants).

May use enforcement (the same source guard, the same subject tokens), never the web."""
