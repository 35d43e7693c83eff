"""`thudo exchange config export [FILE]`, `thudo exchange config import FILE` and
`thudo exchange node-key` (the shared configuration; see thudo.exchange.config)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add this module's subcommands; each sets `func(options, stdout) -> int`."""
    config = subparsers.add_parser(
        "config", help="Export or import the exchange's shared configuration (JSON)."
    )
    sub = config.add_subparsers(dest="config_command", required=True)
    export = sub.add_parser(
        "export", help="Write nodes, members, systems, services and grants as JSON."
    )
    export.add_argument("file", nargs="?", default="-", help="Output file (default: stdout).")
    export.set_defaults(func=config_export)
    load = sub.add_parser("import", help="Upsert a configuration file by identifiers (idempotent).")
    load.add_argument("file", help="The JSON file another node exported ('-': stdin).")
    load.set_defaults(func=config_import)
    key = subparsers.add_parser("node-key", help="Print this node's public signing key (JWK).")
    key.set_defaults(func=node_key)


def config_export(options: dict[str, Any], stdout: Any) -> int:
    from .config import export_json

    text = export_json()
    target = options.get("file") or "-"
    if target == "-":
        stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
        stdout.write(f"Wrote the exchange configuration to {target}\n")
    return 0


def config_import(options: dict[str, Any], stdout: Any) -> int:
    from .config import ConfigError, import_config

    source = options["file"]
    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"Cannot read {source}: {exc}\n")
        return 2
    try:
        changed = import_config(data)
    except ConfigError as exc:
        sys.stderr.write(f"Nothing imported: {exc}\n")
        return 1
    summary = ", ".join(f"{kind} {n}" for kind, n in changed.items())
    stdout.write(f"Imported {source}: created or changed {summary}\n")
    return 0


def node_key(options: dict[str, Any], stdout: Any) -> int:
    from .keys import node_public_jwk

    stdout.write(json.dumps(node_public_jwk(), indent=2) + "\n")
    return 0
