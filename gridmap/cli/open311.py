"""``gridmap open311 client …``: the clients of the Open311 port."""

from __future__ import annotations

from typing import Annotated

import typer

from gridmap.cli.common import console, friendly_errors, transaction

open311_app = typer.Typer(help="The Open311 GeoReport v2 port: registered clients.")
open311_client_app = typer.Typer(help="Clients that post reports (each has an api_key).")
open311_app.add_typer(open311_client_app, name="client")


@open311_client_app.command("add")
@friendly_errors
def open311_client_add(
    name: str,
    contact: Annotated[str | None, typer.Option(help="Who runs the client")] = None,
) -> None:
    """Register a client; its api_key is printed once (only its hash is kept)."""
    from gridmap.open311.clients import create_client

    with transaction() as session:
        client, key = create_client(session, name, contact=contact)
    console.print(f"client {client.name} registered; its api_key (shown once): {key}")


@open311_client_app.command("list")
@friendly_errors
def open311_client_list() -> None:
    """The registered clients."""
    from rich.table import Table

    from gridmap.open311.clients import list_clients

    table = Table("name", "active", "contact", "registered")
    with transaction() as session:
        for c in list_clients(session):
            table.add_row(c.name, "yes" if c.is_active else "no", c.contact or "",
                          f"{c.created_at:%Y-%m-%d %H:%M}")  # fmt: skip
    console.print(table)


@open311_client_app.command("disable")
@friendly_errors
def open311_client_disable(name: str) -> None:
    """Disable a client: its api_key stops working at once."""
    from gridmap.open311.clients import set_active

    with transaction() as session:
        set_active(session, name, False)
    console.print(f"client {name} disabled")


@open311_client_app.command("enable")
@friendly_errors
def open311_client_enable(name: str) -> None:
    """Enable a disabled client again."""
    from gridmap.open311.clients import set_active

    with transaction() as session:
        set_active(session, name, True)
    console.print(f"client {name} enabled")
