"""The Markdown summary of one load run from locust's CSV statistics and the locustfile's CPU
counters: sustained rate, p50 and p99 per endpoint, failures, whether the run held (no failure
and p99 under 300 ms over all requests, the headline; and which endpoints, if any, have their
own p99 over it), the load average during the run and where the CPU went.

    .venv/bin/python bench/load/summary.py bench/load/results/<tag> --city bench/load/city.json \\
        --users 3330 --time-scale 1 --command "..." > bench/load/results/<tag>.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
from pathlib import Path

P99_LIMIT_MS = 300.0
MACHINE = "machine (all processes)"  # the locustfile's name for the whole machine's CPU


def rows(path: Path) -> list[dict[str, str]]:
    """A locust CSV file as dicts (empty when locust wrote none)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def number(text: str) -> float:
    """A locust figure ('N/A' when nothing was measured)."""
    return float(text) if text not in ("", "N/A") else 0.0


def render(prefix: Path, args: argparse.Namespace) -> str:
    """The summary of the run whose CSV files start with `prefix`."""
    stats = rows(Path(f"{prefix}_stats.csv"))
    endpoints = sorted(
        (r for r in stats if r["Name"] != "Aggregated" and number(r["Request Count"])),
        key=lambda r: -number(r["Requests/s"]),
    )
    total = next((r for r in stats if r["Name"] == "Aggregated"), None)
    if total is None or not number(total["Request Count"]):
        return f"# Load run {prefix.name}\n\nNo requests were recorded.\n"
    failures = rows(Path(f"{prefix}_failures.csv"))
    exceptions = rows(Path(f"{prefix}_exceptions.csv"))
    city = json.loads(Path(args.city).read_text(encoding="utf-8"))
    patients = len(city["patients"])
    wearing = {
        kind: sum(bool(p.get(f"{kind}_device_id")) for p in city["patients"])
        for kind in ("bp", "ecg")
    }
    rate = number(total["Requests/s"])
    seconds = number(total["Request Count"]) / rate
    slow = [r for r in endpoints if number(r["99%"]) >= P99_LIMIT_MS]
    failed = sum(int(r["Failure Count"]) for r in endpoints)
    uploads = next((r for r in endpoints if r["Name"] == "/api/v1/readings"), None)
    lines = [
        f"# Load run {prefix.name}",
        "",
        f"- command: `{args.command}`" if args.command else "- command: (not given)",
        f"- city: {patients} patients ({sum(p['chatting'] for p in city['patients'])} "
        f"chatting, {wearing['bp']} with a BP monitor, {wearing['ecg']} with an ECG patch), "
        f"{len(city['doctors'])} doctors, {len(city['pharmacists'])} pharmacists, "
        f"{len(city.get('couriers', []))} couriers; {args.users} simulated people (quiet "
        f"patients' phones {args.group} to a user), time scale {args.time_scale:g} "
        f"(offered load of a city of ~{round(patients * args.time_scale):,} patients)",
        f"- machine: {os.cpu_count()} cores, load average {args.load_before} before, "
        f"{args.load_after} after",
        f"- measured: {seconds:.0f} s from the moment everyone had signed in; "
        f"errors logged by the service over the whole run: {args.server_errors}",
        f"- sustained: **{rate:.1f} requests/s**, "
        + (f"{number(uploads['Requests/s']):.1f} reading uploads/s, " if uploads else "")
        + f"{int(total['Failure Count'])} failures, {len(exceptions)} client exceptions",
        f"- aggregate latency: p50 {number(total['50%']):.0f} ms, "
        f"p99 {number(total['99%']):.0f} ms, max {number(total['Max Response Time']):.0f} ms",
        "- held (no failure, p99 of all requests < 300 ms): "
        + (
            "**yes**"
            if number(total["99%"]) < P99_LIMIT_MS and not failed
            else f"**no** (p99 {number(total['99%']):.0f} ms, {failed} failures)"
        ),
        "- endpoints with their own p99 >= 300 ms: "
        + (", ".join(f"`{r['Name']}` {number(r['99%']):.0f} ms" for r in slow) or "none"),
        "",
        "| endpoint | requests | req/s | p50 ms | p99 ms | max ms | failures |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in endpoints:
        lines.append(
            f"| `{r['Type']} {r['Name']}` | {r['Request Count']} | {number(r['Requests/s']):.2f} "
            f"| {number(r['50%']):.0f} | {number(r['99%']):.0f} "
            f"| {number(r['Max Response Time']):.0f} | {r['Failure Count']} |"
        )
    if failures:
        lines += ["", "| failed request | error | occurrences |", "| --- | --- | --- |"]
        for (method, name, error), count in failure_kinds(failures).items():
            lines.append(f"| `{method} {name}` | {error} | {count} |")
    if exceptions:
        lines += ["", "Client exceptions (a task given up), by kind:", ""]
        kinds: dict[str, int] = {}
        for r in exceptions:
            kind = re.sub(r',"detail".*', "", r["Message"])[:160]
            kinds[kind] = kinds.get(kind, 0) + int(r["Count"])
        lines += [f"- {n} x {kind}" for kind, n in sorted(kinds.items(), key=lambda k: -k[1])]
    lines += cpu_lines(Path(f"{prefix}.cpu.json"))
    lines += [
        "",
        "Latencies are locust's (client side, including the load generator's own queueing on "
        "the same 2 cores); locust rounds them to 2 significant figures above 100 ms.",
    ]
    return "\n".join(lines) + "\n"


def failure_kinds(failures: list[dict[str, str]]) -> dict[tuple[str, str, str], int]:
    """Failures by request and kind (HTTP status and problem code, or the client's error; the
    request ids that make each one distinct left out), most frequent first."""
    kinds: dict[tuple[str, str, str], int] = {}
    for r in failures:
        status = re.search(r"'(\d+): ", r["Error"])
        code = re.search(r'"code":"([^"]+)"', r["Error"])
        if status and status.group(1) == "0":
            error = "0 (no answer: connection error or the client's 60 s timeout)"
        elif status:
            error = f"{status.group(1)} {code.group(1) if code else ''}".strip()
        else:
            error = r["Error"].replace("|", "\\|").replace("\n", " ")[:120]
        key = (r["Method"], r["Name"], error)
        kinds[key] = kinds.get(key, 0) + int(r["Occurrences"])
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def cpu_lines(path: Path) -> list[str]:
    """Where the CPU went over the measured window (the locustfile's counters), if recorded."""
    if not path.exists():
        return []
    cpu = json.loads(path.read_text(encoding="utf-8"))
    seconds, cores, requests = cpu["seconds"], cpu["cores"], cpu["requests"]
    loads = cpu["load_average_1min"]
    lines = [
        "",
        f"Simulated people who never signed in (missing from the mix): "
        f"{cpu.get('sign_ins_given_up', 0)}",
        "",
        f"CPU over the measured {seconds:.0f} s ({cores} cores; 1-minute load average "
        f"sampled every 15 s: min {min(loads):.2f}, mean {sum(loads) / len(loads):.2f}, "
        f"max {max(loads):.2f}):",
        "",
        "| processes | CPU s | share of the machine | ms per request |",
        "| --- | --- | --- | --- |",
    ]
    used = dict(sorted(cpu["cpu_seconds"].items(), key=lambda item: -item[1]))
    machine = used.pop(MACHINE)
    used["everything else on the machine"] = machine - sum(used.values())
    used[MACHINE] = machine
    for group, seconds_used in used.items():
        lines.append(
            f"| {group} | {seconds_used:.1f} | {100 * seconds_used / (seconds * cores):.0f} % "
            f"| {1000 * seconds_used / max(requests, 1):.1f} |"
        )
    return lines


def main() -> None:
    """Print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("prefix", type=Path, help="locust --csv prefix")
    parser.add_argument("--city", default=str(Path(__file__).with_name("city.json")))
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--group", type=int, default=1, help="quiet patients per simulated user")
    parser.add_argument("--command", default="")
    parser.add_argument("--load-before", default="?")
    parser.add_argument("--load-after", default="?")
    parser.add_argument("--server-errors", type=int, default=0, help="error lines in its log")
    args = parser.parse_args()
    print(render(args.prefix, args), end="")


if __name__ == "__main__":
    main()
