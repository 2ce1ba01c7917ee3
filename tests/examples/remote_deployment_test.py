"""The deployment files of examples/remote agree with the worker they deploy.

No container runtime or cluster is needed: the files are read as text.
"""

import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
REMOTE = ROOT / "examples" / "remote"


class TestDockerfile:
    def test_builds_the_worker_from_python_3_11_slim_on_port_8000(self):
        text = (REMOTE / "Dockerfile").read_text()

        assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
        assert re.search(r"^RUN pip install \. ", text, re.M)
        assert re.search(r'^ENTRYPOINT \["tffl-worker"\]$', text, re.M)
        assert re.search(r"^EXPOSE 8000$", text, re.M)

    def test_copies_only_paths_that_exist(self):
        text = (REMOTE / "Dockerfile").read_text()
        sources = [s for line in re.findall(r"^COPY (.+) \S+$", text, re.M) for s in line.split()]

        assert sources
        assert all((ROOT / source).exists() for source in sources), sources

    def test_worker_is_the_declared_console_script(self):
        assert 'tffl-worker = "tffl.backends.worker:run"' in (ROOT / "pyproject.toml").read_text()


class TestKubernetes:
    def test_declares_a_deployment_and_a_headless_service_with_a_readiness_probe(self):
        text = (REMOTE / "kubernetes" / "workers.yaml").read_text()
        documents = text.split("\n---\n")
        kinds = [re.search(r"^kind: (\w+)$", d, re.M).group(1) for d in documents]

        assert kinds == ["Service", "Deployment"]
        assert re.search(r"^  clusterIP: None$", documents[0], re.M)
        probe = documents[1].split("readinessProbe:")[1].split("livenessProbe:")[0]
        assert "tcpSocket:" in probe
        assert "- --port=8000" in documents[1]
        assert "containerPort: 8000" in documents[1]


class TestStartLocalWorkersScript:
    def test_is_valid_bash(self):
        done = subprocess.run(
            ["bash", "-n", str(REMOTE / "start_local_workers.sh")], capture_output=True, text=True
        )

        assert done.returncode == 0, done.stderr

    def test_prints_usage_when_given_no_count(self):
        done = subprocess.run(
            ["bash", str(REMOTE / "start_local_workers.sh")], capture_output=True, text=True
        )

        assert done.returncode != 0
        assert "usage:" in done.stderr
