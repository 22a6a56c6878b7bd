"""What a new user sees before the first span arrives: how to point Plano or an SDK here."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from plano_obs.tui.text import clean
from plano_obs.tui.widgets.quiet import set_content


def endpoint_for(listen_address: str) -> str:
    """The collector URL to put in the Plano config for a receiver on ``listen_address``."""
    host, _, port = listen_address.rpartition(":")
    if host in ("127.0.0.1", "[::1]", "0.0.0.0", "[::]", ""):
        host = "localhost"
    return f"http://{host}:{port}"


class EmptyState(Static):
    """The exact Plano config lines and SDK variables to send traces here, and the demo."""

    def show(self, listen_address: str, http_address: str | None = None) -> None:
        """Render the instructions for receivers on ``listen_address`` (gRPC) and HTTP."""
        port = listen_address.rpartition(":")[2]
        t = Text()
        t.append("Waiting for spans", style="bold")
        where = f" on {clean(listen_address)} (OTLP/gRPC)"
        if http_address is not None:
            where += f" and {clean(http_address)} (OTLP/HTTP)"
        t.append(where + "\n\n", style="dim")
        t.append("Point Plano at this console: add to your Plano config (plano_config.yaml)\n\n")
        t.append("  tracing:\n", style="cyan")
        t.append("    random_sampling: 100\n", style="cyan")
        t.append(f"    opentracing_grpc_endpoint: {endpoint_for(listen_address)}\n\n",
                 style="cyan")
        t.append("and restart Plano. If Plano runs in Docker, use ", style="dim")
        t.append(f"http://host.docker.internal:{port}", style="dim cyan")
        t.append(" and start this with ", style="dim")
        t.append("--host 0.0.0.0", style="dim cyan")
        t.append(".\n\n", style="dim")
        t.append("Or an app with an OpenTelemetry SDK: set in its environment\n\n")
        if http_address is not None:
            t.append(f"  OTEL_EXPORTER_OTLP_ENDPOINT={endpoint_for(http_address)}\n", style="cyan")
            t.append("  OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n", style="cyan")
            t.append("  (gRPC instead: ", style="dim")
        else:
            t.append("  (", style="dim")
        t.append(f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint_for(listen_address)}", style="dim cyan")
        t.append(" with ", style="dim")
        t.append("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", style="dim cyan")
        t.append(")\n\n", style="dim")
        t.append("Just looking? Run ")
        t.append("plano obs --demo", style="bold cyan")
        t.append(" for built-in demo traffic: every panel alive, errors and flags included.\n\n")
        t.append("Press ? for help, q to quit.", style="dim")
        set_content(self, t)
