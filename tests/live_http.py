"""Connection limits for test clients that keep a connection to a live server.

uvicorn closes a connection idle for 5 s (``timeout_keep_alive``); httpx keeps one
for 5 s too (``keepalive_expiry``). A client idle for about 5 s between two tests
sent its next request on a socket the server was closing at that instant:
"Server disconnected without sending a response" (seen once in a loaded full run,
``test_a_saved_model_runs_and_its_hits_page``). The client must give up an idle
connection well before the server does.
"""

from __future__ import annotations

import httpx

SHORT_KEEPALIVE = httpx.Limits(keepalive_expiry=1.0)
