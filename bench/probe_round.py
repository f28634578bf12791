"""Benchmark: a 40-target round in the lab with half the targets blackholed.

Prints the round's wall time against the slowest single target, CPU time per measurement and
peak RSS of ``tyndau probe once``, side by side with dig + curl doing the same lookups and
fetches from the same vantage (in parallel, as the probe does). Needs root (it builds the lab).
Run: ``.venv/bin/python bench/probe_round.py [--timeout 3]``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.internet import Lab  # noqa: E402

TYNDAU = str(Path(sys.executable).parent / "tyndau")
TIME = ["/usr/bin/time", "-f", "TIME %e %U %S %M"]
TARGETS = 40
CONTROLS = 2


def targets_file(directory: Path) -> Path:
    blocks = []
    for i in range(TARGETS):
        category = "control" if i < CONTROLS else "platform"
        blocks.append(
            f'[[targets]]\nname = "b{i:02d}"\ndomain = "b{i:02d}.example.org"\n'
            f'category = "{category}"\n'
        )
    path = directory / "bench-targets.toml"
    path.write_text("\n".join(blocks))
    return path


def timed(lab: Lab, cmd: list[str]) -> tuple[float, float, int, str]:
    """(wall s, cpu s, peak RSS KiB, stdout) of ``cmd`` run in the fixed vantage."""
    done = lab.run("fixed", [*TIME, *cmd], timeout=300)
    line = next(x for x in done.stderr.splitlines() if x.startswith("TIME "))
    wall, user, system, rss = line.split()[1:]
    return float(wall), float(user) + float(system), int(rss), done.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", default="3", help="per-step timeout, seconds")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=TARGETS,
        help="targets measured at once (probe config 'concurrency'; default here: all 40)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        path = targets_file(directory)
        with Lab(prefix="tpbb", targets_file=path) as lab:
            names = [f"b{i:02d}" for i in range(TARGETS)]
            blackholed = names[CONTROLS : CONTROLS + TARGETS // 2]
            for name in blackholed:
                lab.apply("tcp-blackhole", target=name)
            config = directory / "probe.toml"
            config.write_text(f"[probe]\nconcurrency = {args.concurrency}\n")
            common = [
                "--config",
                str(config),
                "--ca-bundle",
                str(lab.ca_bundle),
                "--allow-net",
                "198.18.0.0/15",
                "--timeout",
                args.timeout,
                "--json",
            ]
            single = directory / "single.toml"
            single.write_text(
                "\n".join(
                    f'[[targets]]\nname = "{n}"\ndomain = "{n}.example.org"\n'
                    f'category = "{"control" if n in names[:CONTROLS] else "platform"}"\n'
                    for n in (*names[:CONTROLS], blackholed[0])
                )
            )
            timed(lab, [TYNDAU, "probe", "once", "--targets", str(single), *common])  # warm-up
            slow_wall, _, _, _ = timed(
                lab, [TYNDAU, "probe", "once", "--targets", str(single), *common]
            )
            wall, cpu, rss, out = timed(
                lab, [TYNDAU, "probe", "once", "--targets", str(path), *common]
            )
            lines = [json.loads(x) for x in out.splitlines()]
            measurements = sum(1 for x in lines if x["type"] == "measurement")
            verdicts = [x for x in lines if x["type"] == "verdict"]
            blocked = sum(1 for v in verdicts if v["verdict"] == "blocked")

            script = []
            for n in names:
                domain = f"{n}.example.org"
                address = lab.address_of(n)
                resolve = f"--resolve {domain}:443:{address} --resolve {domain}:80:{address}"
                script.append(
                    f"( dig +tries=1 +time={args.timeout} A {domain} >/dev/null;"
                    f" dig +tries=1 +time={args.timeout} AAAA {domain} >/dev/null;"
                    f" curl -s -o /dev/null -m {args.timeout} --cacert {lab.ca_bundle} {resolve}"
                    f" https://{domain}/;"
                    f" curl -s -o /dev/null -m {args.timeout} {resolve} http://{domain}/ ) &"
                )
            script.append("wait")
            shell = directory / "digcurl.sh"
            shell.write_text("\n".join(script) + "\n")
            dc_wall, dc_cpu, dc_rss, _ = timed(lab, ["sh", str(shell)])
            dc_measurements = 4 * TARGETS

    print(
        f"targets: {TARGETS} ({len(blackholed)} blackholed, {CONTROLS} controls), "
        f"concurrency {args.concurrency}, "
        f"per-step timeout {args.timeout}s"
    )
    print(f"{'':28}{'tyndau probe once':>20}{'dig + curl':>16}")
    print(f"{'wall time (s)':28}{wall:>20.2f}{dc_wall:>16.2f}")
    print(f"{'slowest single target (s)':28}{slow_wall:>20.2f}")
    print(f"{'wall / slowest single':28}{wall / slow_wall:>20.2f}")
    print(f"{'measurements':28}{measurements:>20}{dc_measurements:>16}")
    print(f"{'CPU s total':28}{cpu:>20.2f}{dc_cpu:>16.2f}")
    print(
        f"{'CPU ms / measurement':28}{1000 * cpu / measurements:>20.1f}"
        f"{1000 * dc_cpu / dc_measurements:>16.1f}"
    )
    print(f"{'CPU ms / target':28}{1000 * cpu / TARGETS:>20.1f}{1000 * dc_cpu / TARGETS:>16.1f}")
    print(f"{'peak RSS (MB)':28}{rss / 1024:>20.1f}{dc_rss / 1024:>16.1f} (largest process)")
    print(f"verdicts: {blocked} blocked of {len(verdicts)}")
    print("command:", shlex.join([TYNDAU, "probe", "once", "--targets", "<40 targets>", *common]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
