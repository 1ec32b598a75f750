"""The one way this project opens an HTTP client on Supabase's PostgREST."""

from __future__ import annotations

import httpx


def postgrest_client(
    url: str,
    key: str,
    schema: str,
    *,
    timeout_s: float,
    writes: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """`{url}/rest/v1` with the `apikey`/`Authorization` headers Supabase expects; a
    non-public schema is chosen with Accept-Profile (reads) or Content-Profile (writes)."""
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    if schema != "public":
        headers["Content-Profile" if writes else "Accept-Profile"] = schema
    return httpx.AsyncClient(
        base_url=f"{url.rstrip('/')}/rest/v1",
        headers=headers,
        timeout=timeout_s,
        transport=transport,
    )
