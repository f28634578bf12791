"""One lab, one collector (the control endpoint) and one registered probe for the whole QA suite.

Each case clears the censor, sets the sites' own behaviour, applies its actions and runs
``tyndau probe once --json`` in a vantage with short timeouts; two cases with the same sites run
at once, one per vantage group (the censor acts per group). The lab is built from
``tests/qa/targets.toml`` (five small sites) so a round takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.command import TYNDAU
from tests.support.lab import lab_unavailable, serve_collector

QA = Path(__file__).resolve().parent
TARGETS = QA / "targets.toml"
OPERATOR_TOKEN = "operator-token-for-the-qa-suite"
PORT = 8080
STEP_TIMEOUT = 2.0  # every probe step (DNS, TCP, TLS, HTTP); the lab answers in milliseconds
# The control endpoint's own step timeout, as the probe's: the probe waits for the control's
# four steps (DNS + TCP + TLS + HTTP), so a site down by timeout still gets its control, and a
# loaded machine does not lose the control of a healthy site (1 s did under load 8).
CONTROL_TIMEOUT = STEP_TIMEOUT


@dataclass
class QaWorld:
    lab: Any
    work: Path
    collector_url: str

    def probe_config(self, control: str, resolvers: Sequence[str]) -> Path:
        """control: up | down (nothing listens at the endpoint) | none (not configured);
        resolvers: "public" (the lab's resolver abroad), "isp" (resolv.conf's) or addresses."""
        from lab.topology import ISP_RESOLVER, PUBLIC_RESOLVER

        named = {"public": PUBLIC_RESOLVER, "isp": ISP_RESOLVER}
        resolvers = [named.get(r, r) for r in resolvers]
        endpoint = {
            "up": f'control_endpoint = "{self.collector_url}/v1/control"\n',
            "down": f'control_endpoint = "{self.collector_url.rsplit(":", 1)[0]}:9/v1/control"\n',
            "none": "",
        }[control]
        path = self.work / f"probe-{control}-{'-'.join(resolvers) or 'system'}.toml"
        path.write_text(
            f'[probe]\ncc = "KZ"\nasn = 9198\nnetwork = "fixed"\nstate_dir = "{self.work}"\n'
            f'targets = "{TARGETS}"\nca_bundle = "{self.lab.ca_bundle}"\n'
            f'allow_net = ["198.18.0.0/15"]\nresolvers = {json.dumps(resolvers)}\n{endpoint}'
            f'[upload]\ncollector_url = "{self.collector_url}"\n'
            f'credentials_file = "{self.work}/credentials.json"\n'
            f'[outbox]\npath = "{self.work}/outbox.sqlite3"\n'
        )
        return path

    def run_probe(self, node: str, config: Path, timeout: float) -> dict[str, dict[str, Any]]:
        """One round from a vantage: each target's verdict line, with its measurements."""
        cmd = [TYNDAU, "probe", "once", "--json", "--config", str(config)]
        done = self.lab.run(node, [*cmd, "--timeout", str(timeout)], timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        verdicts = {o["target"]: o for o in lines if o.get("type") == "verdict"}
        for line in lines:
            if line.get("type") == "measurement" and line["target"]["name"] in verdicts:
                verdicts[line["target"]["name"]].setdefault("measurements", []).append(line)
        return verdicts

    def run_together(
        self, jobs: Sequence[tuple[str, str, Sequence[str], float]]
    ) -> list[dict[str, dict[str, Any]]]:
        """``(node, control, resolvers, timeout)`` rounds at once, one per vantage group."""
        configs = [self.probe_config(control, resolvers) for _, control, resolvers, _ in jobs]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            running = [
                pool.submit(self.run_probe, node, config, timeout)
                for (node, _, _, timeout), config in zip(jobs, configs, strict=True)
            ]
            return [future.result() for future in running]

    def prepare(
        self,
        sites: Mapping[str, Any],
        actions: Sequence[tuple[str, str, Mapping[str, str], str]],
    ) -> None:
        """Clear the censor, set the sites, apply ``(action, target, params, group)``."""
        self.lab.clear()
        self.lab.configure_sites(sites)
        for action, target, params, group in actions:
            self.lab.apply(action, target, group, **params)


@pytest.fixture(scope="session")
def qa_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QaWorld]:
    reason = lab_unavailable("QA SUITE", also=("curl",))
    if reason:
        pytest.skip(reason)
    from lab import Lab
    from lab.topology import PUBLIC_RESOLVER

    work = tmp_path_factory.mktemp("qa")
    work.chmod(0o755)
    with Lab(prefix="tqa", targets_file=TARGETS) as lab:
        settings = (
            f'open_registration = true\ntargets = "{TARGETS}"\n'
            "[limits]\ncontrol_per_minute = 100000\nregistrations_per_hour = 1000\n"
            f"[control]\nenabled = true\ntimeout_s = {CONTROL_TIMEOUT}\n"
            f'resolver = "{PUBLIC_RESOLVER}"\nca_bundle = "{lab.ca_bundle}"\n'
            'allow_net = ["198.18.0.0/15"]\n'
        )
        url = serve_collector(
            lab, work, token=OPERATOR_TOKEN, port=PORT, settings=settings, wait=60
        )
        world = QaWorld(lab, work, url)
        config = world.probe_config("up", ["public"])
        register = [TYNDAU, "probe", "register", "--config", str(config)]
        done = lab.run("fixed", [*register, "--collector", url], timeout=60)
        assert done.returncode == 0, done.stderr + (work / "collector.log").read_text()
        yield world
