"""Who runs a CLI command on the host, as the trail names them (``cli:<login>``).

The account of the process's real user id, not ``getpass.getuser()``: that reads
``LOGNAME``/``USER`` first, which whoever runs the command sets — ``USER=alice sluice
token root`` put alice's login on record for root's token (red team 8)."""

from __future__ import annotations

import os
import pwd


def host_login() -> str:
    """The real user id's account name, or ``uid:<n>`` when the system has no entry."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"
