"""``tokencert reference``: run the reference token service, list its defects."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance.cli.console import out, print_json

app = typer.Typer(
    help="The reference token service: a real gateway (auth, limits, metering, TLS) in front "
    "of a simulated or real (llama.cpp) engine, with defect injection.\n\n"
    "Examples:\n\n\b\n"
    "  tokencert reference serve --tls --write-declaration ref/candidate.yaml\n"
    "  tokencert reference serve --engine llama.cpp --port 8443 --tls\n"
    "  tokencert reference serve --defect missing_done --defect dies_after=60\n"
    "  tokencert reference defects",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _override(text: str) -> tuple[str, object]:
    import yaml

    from conformance._core.errors import InputError

    key, sep, value = text.partition("=")
    if not sep:
        raise InputError(f"--set expects KEY=VALUE (e.g. sim.tpot_ms=12), got {text!r}")
    return key.strip(), yaml.safe_load(value)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(0, "--port", help="Port; 0 picks a free one (printed)."),
    tls: bool = typer.Option(False, "--tls",
                             help="Serve https with a freshly generated local CA."),
    engine: str = typer.Option("sim", "--engine",
                               help="sim | llama.cpp | upstream:URL (OpenAI-compatible)."),
    defect: list[str] = typer.Option([], "--defect",
                                     help="Inject a defect (repeatable); NAME or NAME=VALUE. "
                                     "See: tokencert reference defects."),
    write_declaration: Path | None = typer.Option(
        None, "--write-declaration", help="Write candidate.yaml describing this service."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sim engine's jitter and of "
                             "where one-in-k defects fall in each block (logged at start)."),
    config: Path | None = typer.Option(None, "--config",
                                       help="YAML file with sim: and gateway: settings."),
    set_: list[str] = typer.Option([], "--set",
                                   help="Override one setting, e.g. sim.tpot_ms=12 or "
                                   "gateway.rpm=60 (repeatable)."),
    billing_export: Path | None = typer.Option(
        None, "--billing-export", help="Write a per-request billing CSV (for BILL-003)."),
    tls_dir: Path | None = typer.Option(
        None, "--tls-dir", help="Where to write ca.pem (default: next to the declaration)."),
    capacity: float | None = typer.Option(
        None, "--capacity", help="Declared output tokens/s (default: from the sim model)."),
    gguf: Path | None = typer.Option(None, "--gguf",
                                     help="llama.cpp model file (default: built on first "
                                     "use into ~/.cache/tokencert)."),
    dialect: str = typer.Option(
        "openai-chat", "--dialect", help="The dialect the written declaration names: "
        "openai-chat, anthropic-messages or openai-responses (all three are served)."),
) -> None:
    """Serve OpenAI Chat Completions, Anthropic Messages and OpenAI Responses until
    interrupted (Ctrl-C).

    API keys come from TOKENCERT_API_KEY and TOKENCERT_API_KEY_B when set; otherwise
    random keys are generated and printed (never written to disk).

    Examples:

    \b
      tokencert reference serve --tls --write-declaration ref/candidate.yaml
      tokencert reference serve --tls --defect missing_done --port 8443
    """
    from conformance.reference.server import ServeOptions
    from conformance.reference.server import serve as run
    from conformance.run.client.config import make_dialect

    make_dialect(dialect)  # an unknown name is a usage error before anything starts

    opts = ServeOptions(host=host, port=port, tls=tls, engine=engine, defects=tuple(defect),
                        write_declaration=write_declaration, seed=seed, config=config,
                        overrides=dict(_override(s) for s in set_),
                        billing_export=billing_export, tls_dir=tls_dir, capacity=capacity,
                        gguf=gguf, dialect=dialect)
    try:
        run(opts, echo=lambda line: out.print(line, highlight=False, markup=False))
    except KeyboardInterrupt:
        out.print("stopped")


@app.command("defects")
def defects(
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the injectable defects and the requirement each one breaks.

    Examples:

    \b
      tokencert reference defects
      tokencert reference defects --json
    """
    from conformance.reference.defects import ALL_DEFECTS

    if json_out:
        print_json([{"name": d.name, "requirement": d.requirement,
                     "description": d.description, "param": d.param,
                     "param_meaning": d.param_doc or None} for d in ALL_DEFECTS])
        return
    for d in ALL_DEFECTS:
        param = f" [default {d.param:g} {d.param_doc}]" if d.param is not None else ""
        out.print(f"{d.name:24} {d.requirement:10} {d.description}{param}", highlight=False,
                  markup=False)
