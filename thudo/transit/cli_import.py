"""`thudo transit import FILE.zip [--name N] [--no-activate]`: import a GTFS feed as a new
timetable version with a progress bar, switch it on (unless --no-activate) and print what it
holds; on errors print each as "file:row field — message" and exit with status 1.
`thudo transit import --demo` imports the demo Hanoi network (`demo_network`), and
`thudo transit import --write-demo FILE.zip` only writes it to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="Import a GTFS zip as a new timetable version and switch it on.",
    )
    parser.add_argument("file", nargs="?", default="", help="the GTFS zip file")
    parser.add_argument("--name", default="", help="a name for the version (default: the file's)")
    parser.add_argument(
        "--no-activate",
        action="store_true",
        help="import only; switch it on later from the timetables page",
    )
    parser.add_argument(
        "--demo", action="store_true", help="import the demo Hanoi network instead of a file"
    )
    parser.add_argument(
        "--write-demo", default="", metavar="FILE.zip", help="write the demo network's GTFS zip"
    )
    parser.add_argument("--seed", type=int, default=18, help="the demo network's seed")
    parser.set_defaults(func=handle)


def handle(options: dict[str, Any], stdout: Any) -> int:
    from . import demo, demo_network, gtfs

    if options.get("write_demo"):
        path = Path(options["write_demo"])
        path.write_bytes(demo_network.build_demo_gtfs(options.get("seed", 18)))
        stdout.write(f"Wrote the demo GTFS feed to {path}.\n")
        return 0
    source: Any
    if options.get("demo"):
        source = demo_network.build_demo_gtfs(options.get("seed", 18))
        name = options.get("name") or demo.DEMO_FEED_NAME
    else:
        if not options.get("file"):
            stdout.write("Give a GTFS zip file (or --demo).\n")
            return 2
        path = Path(options["file"])
        if not path.is_file():
            stdout.write(f"No such file: {path}\n")
            return 2
        source = path
        name = options.get("name") or path.stem

    bar = tqdm(total=100, unit="%", file=None, dynamic_ncols=True, leave=False)
    done = [0]

    def progress(percent: int, message: str) -> None:
        if percent > done[0]:
            bar.update(percent - done[0])
            done[0] = percent
        bar.set_description(message[:60])

    try:
        feed = gtfs.import_feed(
            source=source,
            name=name,
            activate=not options.get("no_activate"),
            progress=progress,
        )
    except gtfs.GtfsInvalid as exc:
        bar.close()
        stdout.write(f"{exc.message}\n")
        for line in gtfs.iter_errors(exc.errors):
            stdout.write(line + "\n")
        if exc.feed is not None:
            stdout.write(f"Version {exc.feed.version} was kept as failed.\n")
        return 1
    finally:
        bar.close()
    summary = gtfs.feed_summary(feed)
    stdout.write(
        f"Imported {feed.name} as version {feed.version} ({feed.status}): "
        f"{summary['routes']} routes, {summary['stops']} stops, {summary['trips']} trips, "
        f"{summary['stop_times']} stop times.\n"
    )
    for line in gtfs.iter_errors(feed.warnings[:20]):
        stdout.write("warning: " + line + "\n")
    if len(feed.warnings) > 20:
        stdout.write(f"... and {len(feed.warnings) - 20} more warnings.\n")
    return 0
