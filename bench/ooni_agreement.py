"""Score our verdicts against OONI's own conclusions on measurements OONI's probe produced.

    python bench/ooni_agreement.py [--repo GITDIR] [--rev REV] [--only-disagreements]
    python bench/ooni_agreement.py --dir DIR [--allow-net CIDR] [--only-disagreements]
    python bench/ooni_agreement.py --backend GITDIR   # ooni/backend's archived measurements
    python bench/ooni_agreement.py --explorer GITDIR  # ooni/explorer's archived measurements
    python bench/ooni_agreement.py --data GITDIR      # ooni/data's wc05_qa, its new pipeline

By default the measurements are the ones ooni/probe-cli keeps as its minipipeline test data
(``internal/minipipeline/testdata/webconnectivity/{generated,manual}/<case>/measurement.json``:
the generated ones are OONI's probe run against the netem scenarios of
``internal/webconnectivityqa``, the manual ones real-network runs), read from a git directory of
probe-cli with ``git ls-tree`` / ``git cat-file`` (nothing is copied into this repo). ``--dir``
reads every ``.json``/``.jsonl``/``.jsonl.gz`` file of a directory instead, one case per file.

``--backend`` reads the real archive measurements ooni/backend keeps as its fastpath test data
(``fastpath/fastpath/tests/data/*.json``, the Web Connectivity and IM ones), and scores our
verdicts twice: against the OONI probe's own keys, and against what OONI's pipeline concludes
about the same file in its tests (``PIPELINE``: the scores ``fastpath/tests/test_unit.py``
asserts, cited per file), which corrects the probe's known false positives and negatives.

``--explorer`` reads the archived measurements ooni/explorer keeps as its end-to-end test
fixtures (``tests/e2e/fixtures/measurement_meta/*.json``: the API's answer, the raw measurement
beside the pipeline's ``anomaly``, ``confirmed`` and ``failure``), and scores our verdicts
against the probe's keys and against the pipeline (``failure``: neither; ``anomaly`` or
``confirmed``: blocked; else accessible).

``--data`` reads the web_connectivity 0.5 QA measurements ooni/data (OONI's new analysis
pipeline) keeps as its test data (``oonipipeline/tests/data/wc05_qa/<case>.json``, copies of
probe-cli's generated ones) and scores our verdicts against what its tests expect of each case
(``WC05_QA_CASES`` in ``oonipipeline/tests/test_analysis.py``, read from the same git directory),
one expectation per case as ``bench/ooni_data_cases.py``'s ``DATA_CASES`` reads and cites it; a
case the table no longer reads right is flagged ``stale``.

Each case goes through ``tyndau import ooni --json``'s own code (``run_import`` with a line
collector) and is scored with collector/ooni/agreement.py's rules: a table
case | OONI | ours | agree | same layer, then the totals.
"""

from __future__ import annotations

import argparse
import ast
import ipaddress
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ooni_data_cases import (  # noqa: E402
    DATA_CASES,
    cite,
    data_agrees,
    data_same_layer,
    stale,
)
from collector.ooni.agreement import (  # noqa: E402
    Agreement,
    agrees,
    expectation,
    flagged_layer,
    same_layer,
)
from collector.ooni.envelope import OoniFormatError  # noqa: E402
from collector.ooni.evidence import Context  # noqa: E402
from collector.ooni.judge import unjudged_line, verdict_line, verdict_of  # noqa: E402
from collector.ooni.mapping import load_context, map_measurement  # noqa: E402
from collector.ooni.reader import BadInput, read_records  # noqa: E402

MIRROR = Path("/work/.mirror/ooni+probe-cli/repo")
TESTDATA = "internal/minipipeline/testdata/webconnectivity"
SUFFIXES = (".json", ".jsonl", ".jsonl.gz", ".json.gz")
BACKEND_MIRROR = Path("/work/.mirror/ooni+backend/repo")
BACKEND_DATA = "fastpath/fastpath/tests/data"
IMPORTED_TESTS = ("web_connectivity", "telegram", "whatsapp", "signal", "facebook_messenger")
# What OONI's pipeline (ooni/backend fastpath, tests/test_unit.py) asserts about each archived
# file: "blocked" (an anomaly or a confirmed fingerprint), "accessible" (every blocking score
# 0), None (``accuracy: 0``: the measurement is not to be trusted either way). Files whose
# scores no test asserts are not listed.
PIPELINE: dict[str, tuple[str | None, str]] = {
    "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3": (
        "blocked",
        "test_match_id_fingerprint: ooni.id_lamanlabuh_kominfo",
    ),
    "bug_351": (None, "test_bug_backend351: accuracy 0"),
    "bug_352": ("blocked", "test_bug_backend352: confirmed, ooni.ir_10dot10_ipv4_1"),
    "requests_none": ("blocked", "test_bug_requests_None: anomaly, dns"),
    "signal_022": ("accessible", "test_score_signal_2627: blocking 0"),
    "signal_2627": (None, "test_score_signal_2627: accuracy 0 (ooni/probe#2627)"),
    "signal_679": (None, "test_score_signal_679: accuracy 0"),
    "telegram_nourl": (None, "test_score_measurement_telegram_nourl: accuracy 0"),
    "test_keys_none": (None, "test_bug_test_keys_None: accuracy 0"),
    "web_connectivity_ir_fp": ("blocked", "..._dns_ir_fingerprint: ooni.ir_10dot10_ipv4_1"),
    "web_connectivity_no_body": ("accessible", "test_score_web_connectivity_no_body: 0"),
    "web_connectivity_null": (None, "test_score_web_connectivity_bug_610: accuracy 0"),
    "web_connectivity_null2": (None, "test_score_web_connectivity_bug_610_2: accuracy 0"),
    "web_connectivity_odd_hdr": ("blocked", "test_score_web_connectivity_odd_hdr: dns"),
    "whatsapp": ("accessible", "test_score_whatsapp: every group accessible"),
}


def git_blob(repo: Path, rev: str, path: str) -> bytes:
    """The bytes of ``path`` in a git directory at ``rev`` (``git cat-file``)."""
    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "blob", f"{rev}:{path}"],
        capture_output=True,
        check=True,
    ).stdout


def git_files(repo: Path, rev: str, folder: str, *, recursive: bool) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of the ``.json`` files under ``folder`` of a git directory at ``rev``,
    read with ``git ls-tree`` / ``git cat-file`` (nothing is checked out or copied)."""
    deep = ["-r"] if recursive else []
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", *deep, "--name-only", rev, "--", f"{folder}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for path in sorted(p for p in listing if p.endswith(".json")):
        yield path, git_blob(repo, rev, path)


def from_git(repo: Path, rev: str) -> Iterator[tuple[str, bytes]]:
    """(case, measurement.json bytes) of probe-cli's minipipeline test data at ``rev``."""
    for path, blob in git_files(repo, rev, TESTDATA, recursive=True):
        if path.endswith("/measurement.json"):
            kind, case = path.split("/")[-3:-1]
            yield f"{kind}/{case}", blob


def from_backend(repo: Path, rev: str) -> Iterator[tuple[str, bytes]]:
    """(file stem, bytes) of ooni/backend's archived fastpath test measurements of the tests
    we import (the others, Tor, HHFM, ..., are not ours to judge)."""
    for path, blob in git_files(repo, rev, BACKEND_DATA, recursive=False):
        try:
            name = json.loads(blob).get("test_name")
        except (ValueError, AttributeError):
            continue  # a fingerprint list, not a measurement
        if name in IMPORTED_TESTS:
            yield Path(path).stem, blob


EXPLORER_MIRROR = Path("/work/.mirror/ooni+explorer/repo")
EXPLORER_DATA = "tests/e2e/fixtures/measurement_meta"


def from_explorer(repo: Path, rev: str) -> Iterator[tuple[str, bytes, str]]:
    """(measurement uid, raw measurement bytes, the pipeline's conclusion) of ooni/explorer's
    archived end-to-end fixtures, for the tests we import."""
    seen: set[str] = set()
    for path, blob in git_files(repo, rev, EXPLORER_DATA, recursive=False):
        try:
            meta = json.loads(json.loads(blob)["body"])
            raw = meta["raw_measurement"]
        except (ValueError, KeyError, TypeError):
            continue  # not a measurement's page (a 404 fixture)
        if not isinstance(raw, str) or meta.get("test_name") not in IMPORTED_TESTS:
            continue
        said = (
            "unknown"
            if meta.get("failure")
            else "blocked"
            if meta.get("anomaly") or meta.get("confirmed")
            else "accessible"
        )
        uid = str(meta.get("measurement_uid") or Path(path).stem)
        if uid not in seen:  # one measurement can be fixed under its uid and its report id
            seen.add(uid)
            yield uid, raw.encode(), said


DATA_MIRROR = Path("/work/.mirror/ooni+data/repo")
DATA_DIR = "oonipipeline/tests/data/wc05_qa"
DATA_TESTS = "oonipipeline/tests/test_analysis.py"


def from_data(repo: Path, rev: str) -> Iterator[tuple[str, bytes]]:
    """(case, bytes) of ooni/data's web_connectivity 0.5 QA measurements at ``rev``."""
    for path, blob in git_files(repo, rev, DATA_DIR, recursive=False):
        yield Path(path).stem, blob


def data_specs(repo: Path, rev: str) -> dict[str, dict[str, Any]]:
    """``WC05_QA_CASES`` of ooni/data's tests at ``rev``: a literal, read with ``ast`` (the
    module itself needs ooni/data's packages and a ClickHouse to run)."""
    tree = ast.parse(git_blob(repo, rev, DATA_TESTS))
    for node in tree.body:
        if not isinstance(node, ast.AnnAssign) or node.value is None:
            continue
        if isinstance(node.target, ast.Name) and node.target.id == "WC05_QA_CASES":
            value = ast.literal_eval(node.value)
            return value if isinstance(value, dict) else {}
    return {}


def score_data(
    cases: list[tuple[str, Path]], specs: dict[str, dict[str, Any]], *, only_disagreements: bool
) -> int:
    """Print case | OONI's new pipeline | ours | agree | our reason, then the totals."""
    context = load_context()
    agreed, total, checked, same = 0, 0, 0, 0
    pairs: Counter[tuple[str, str]] = Counter()
    print("| case | OONI new pipeline (ooni/data WC05_QA_CASES) | ours | agree | our reason |")
    print("| --- | --- | --- | --- | --- |")
    for case, path in cases:
        for line, _ in judge_file(path, context):
            why = stale(case, specs.get(case))
            if why is not None:
                print(f"| {case} | stale: {why} | {ours_text(line)} | - | - |")
                continue
            total += 1
            ok = data_agrees(line["verdict"], case)
            agreed += ok
            pairs[(DATA_CASES[case][0], line["verdict"])] += 1
            layer = data_same_layer(line["method"], case) if ok else None
            if layer is not None:
                checked += 1
                same += layer
            agree = ("yes" if ok else "NO") + ("" if layer is None or layer else ", other layer")
            cells = (case, cite(case, specs[case]), ours_text(line), agree, str(line["reason"]))
            if not only_disagreements or agree != "yes":
                print("| " + " | ".join(cells) + " |")
    print()
    print(
        f"agreement with OONI's new pipeline: {agreed}/{total}"
        + (f" ({100 * agreed / total:.0f}%)" if total else "")
        + f"; same layer in {same}/{checked} agreed blocks"
    )
    for (expected, ours), n in sorted(pairs.items()):
        print(f"  ooni/data {expected:12} ours {ours:12} {n}")
    return 0


def from_dir(directory: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name.endswith(SUFFIXES):
            yield str(path.relative_to(directory)), path


def judge_file(path: Path, context: Context) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(the --json line, OONI's conclusions) per measurement, as ``run_import`` makes them."""
    judged: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for item in read_records([path]):
        if isinstance(item, BadInput):
            print(f"{item.source}:{item.line}: {item.problem}", file=sys.stderr)
            continue
        try:
            imported = map_measurement(item.data, context)
        except OoniFormatError as exc:
            line = unjudged_line(item.data, f"not imported: {exc}")
            judged.append((line, dict(line["ooni"])))
            continue
        judged.append((verdict_line(imported, verdict_of(imported)), dict(imported.ooni)))
    return judged


def ooni_text(ooni: dict[str, Any]) -> str:
    return f"{ooni.get('blocking')!s}/{ooni.get('accessible')!s}"


def ours_text(line: dict[str, Any]) -> str:
    verdict, method = line["verdict"], line["method"]
    return verdict if method is None else f"{verdict}/{method}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=MIRROR, help="a git directory of probe-cli")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--dir", type=Path, help="score these files instead")
    parser.add_argument(
        "--backend",
        type=Path,
        nargs="?",
        const=BACKEND_MIRROR,
        help="score ooni/backend's archived fastpath test measurements (a git directory)",
    )
    parser.add_argument(
        "--explorer",
        type=Path,
        nargs="?",
        const=EXPLORER_MIRROR,
        help="score ooni/explorer's archived end-to-end fixtures (a git directory)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        nargs="?",
        const=DATA_MIRROR,
        help="score ooni/data's wc05_qa measurements against its new pipeline (a git directory)",
    )
    parser.add_argument(
        "--allow-net",
        action="append",
        default=[],
        type=ipaddress.ip_network,
        help="addresses that are not bogons here (as tyndau import ooni --allow-net)",
    )
    parser.add_argument("--only-disagreements", action="store_true")
    args = parser.parse_args()
    context = load_context(allow_net=tuple(args.allow_net))
    total = Agreement()
    rows: list[tuple[str, str, str, str, str, str]] = []
    pipeline: list[bool] = []
    piped_by: dict[str, tuple[str | None, str]] = dict(PIPELINE) if args.backend else {}
    with tempfile.TemporaryDirectory(prefix="ooni-agreement-") as scratch:
        cases: list[tuple[str, Path]] = []
        if args.data is not None:
            for case, blob in from_data(args.data, args.rev):
                path = Path(scratch) / f"{case}.json"
                path.write_bytes(blob)
                cases.append((case, path))
            specs = data_specs(args.data, args.rev)
            return score_data(cases, specs, only_disagreements=args.only_disagreements)
        if args.dir is not None:
            cases = list(from_dir(args.dir))
        elif args.explorer is not None:
            for case, blob, said in from_explorer(args.explorer, args.rev):
                path = Path(scratch) / f"{len(cases):04d}.json"
                path.write_bytes(blob)
                cases.append((case, path))
                piped_by[case] = (said, "explorer fixture: anomaly/confirmed/failure")
        elif args.backend is not None:
            for case, blob in from_backend(args.backend, args.rev):
                path = Path(scratch) / f"{case}.json"
                path.write_bytes(blob)
                cases.append((case, path))
        else:
            for number, (case, blob) in enumerate(from_git(args.repo, args.rev)):
                path = Path(scratch) / f"{number:04d}.json"
                path.write_bytes(blob)
                cases.append((case, path))
        for case, path in cases:
            for line, ooni in judge_file(path, context):
                expected = expectation(ooni)
                agreed = agrees(line["verdict"], expected)
                total.add(line["verdict"], line["method"], ooni)
                layer = "-"
                if expected == "blocked" and line["verdict"] == "blocked":
                    same = same_layer(line["method"], ooni)
                    layer = "-" if same is None else "yes" if same else "no"
                    if layer == "no" and flagged_layer(line["method"], ooni):
                        layer = "no (yes by x_blocking_flags)"
                reason = str(line["reason"])[:60]
                if case in piped_by:
                    concluded, cited = piped_by[case]
                    piped = agrees(line["verdict"], concluded or "unknown")
                    pipeline.append(piped)
                    mark = "yes" if piped else "NO"
                    reason = f"{reason}; pipeline {concluded} ({cited}): {mark}"
                if not args.only_disagreements or not agreed or layer.startswith("no"):
                    ours, agree = ours_text(line), "yes" if agreed else "NO"
                    rows.append((case, ooni_text(ooni), ours, agree, layer, reason))
    print("| case | OONI blocking/accessible | ours | agree | same layer | our reason |")
    print("| --- | --- | --- | --- | --- | --- |")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    print(total.line())
    if pipeline:
        print(f"agreement with OONI's pipeline: {sum(pipeline)}/{len(pipeline)}")
    for (expected, ours), n in sorted(total.pairs.items()):
        print(f"  OONI {expected:10} ours {ours:12} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
