"""Rules for Trellis's deployment files that JSON schemas cannot express. Run by deploy/check.

    policy.py manifests OVERLAY RENDERED.yaml CONFIG_RS   rendered kustomize overlay
    policy.py compose COMPOSE.yaml CONFIG_RS               deploy/compose.yaml
    policy.py config-env RENDERED.yaml                     prints the ConfigMap as KEY=VALUE
    policy.py skeleton REAL.json SKELETON.json             `cargo metadata` of both trees

Set TRELLIS_DEPLOY_CHECK_VERBOSE=1 to list the rules that passed, not only the failures.
CONFIG_RS is crates/gateway/src/config.rs: the fields of `struct Config` are the settings
the server reads (as TRELLIS_<FIELD>), so a misspelt variable, which the server would
silently ignore, is caught here. Prints one line per rule; exits 1 if any rule failed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import yaml

# Variables the manifests may carry for server-side work that has not landed yet. The server
# ignores unknown TRELLIS_* variables; these are reported, not failed, until it reads them.
# (Empty now that the Stripe adapter reads TRELLIS_STRIPE_*.)
RESERVED: dict[str, str] = {}
SECRET_NAME = "trellis-secrets"
MIN_REPLICAS = 2

VERBOSE = os.environ.get("TRELLIS_DEPLOY_CHECK_VERBOSE") == "1"

failures: list[str] = []
passed = 0


def check(ok: bool, message: str) -> None:
    global passed  # noqa: PLW0603 - one counter for a one-shot script
    if ok:
        passed += 1
        if VERBOSE:
            print(f"  ok    {message}")
    else:
        print(f"  FAIL  {message}")
        failures.append(message)


def note(message: str) -> None:
    print(f"  note  {message}")


def known_variables(config_rs: Path) -> set[str]:
    source = config_rs.read_text()
    body = re.search(r"pub struct Config \{(.*?)\n\}", source, re.S)
    if body is None:
        raise SystemExit(f"cannot find `pub struct Config` in {config_rs}")
    fields = re.findall(r"^\s*pub (\w+):", body.group(1), re.M)
    return {"TRELLIS_CONFIG", *(f"TRELLIS_{f.upper()}" for f in fields)}


def check_variable_names(where: str, names: set[str], known: set[str]) -> None:
    trellis = {n for n in names if n.startswith("TRELLIS_")}
    unknown = sorted(trellis - known - RESERVED.keys())
    check(not unknown, f"{where}: every TRELLIS_* variable is one the server reads"
          + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    for name in sorted(trellis & RESERVED.keys()):
        note(f"{where}: {name} is reserved for {RESERVED[name]}; this build ignores it")


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict], kind: str, name: str) -> dict | None:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    check(len(found) == 1, f"one {kind} {name}")
    return found[0] if found else None


def pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return "/" in name and bool(tag) and "/" not in tag and tag != "latest"


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_pod(where: str, pod: dict, known: set[str], configmaps: dict) -> None:
    spec = pod["spec"]
    check(spec.get("automountServiceAccountToken") is False,
          f"{where}: no service-account token mounted")
    check(spec.get("enableServiceLinks") is False,
          f"{where}: service links off (they would inject TRELLIS_PORT & co.)")
    pod_sc = spec.get("securityContext", {})
    check(pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
          f"{where}: seccomp RuntimeDefault")
    for c in spec["containers"]:
        cwhere = f"{where} container {c['name']}"
        check(pinned(c.get("image", "")), f"{cwhere}: image pinned to a registry and tag ({c.get('image')})")
        res = c.get("resources", {})
        check(all(res.get("requests", {}).get(r) for r in ("cpu", "memory"))
              and all(res.get("limits", {}).get(r) for r in ("cpu", "memory")),
              f"{cwhere}: cpu and memory requests and limits")
        sc = c.get("securityContext", {})
        check((sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True)
              and sc.get("readOnlyRootFilesystem") is True
              and sc.get("allowPrivilegeEscalation") is False
              and "ALL" in sc.get("capabilities", {}).get("drop", []),
              f"{cwhere}: non-root, read-only root filesystem, no privilege escalation, no capabilities")
        names = {e["name"] for e in c.get("env", [])}
        for ref in c.get("envFrom", []):
            cm = ref.get("configMapRef", {}).get("name")
            check(cm in configmaps, f"{cwhere}: envFrom ConfigMap {cm} is rendered")
            names |= set(configmaps.get(cm, {}))
        check_variable_names(cwhere, names, known)
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                check(ref.get("name") == SECRET_NAME,
                      f"{cwhere}: {e['name']} comes from the Secret {SECRET_NAME}")


def manifests(overlay: str, rendered: Path, config_rs: Path) -> None:
    known = known_variables(config_rs)
    docs = load_all(rendered)
    check(not by_kind(docs, "Secret"),
          f"{overlay}: no Secret rendered (pods read the existing {SECRET_NAME})")
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}

    # deploy/README.md releases in three `kubectl apply -l` steps keyed on this label:
    # everything unlabelled (config, Service, …), then the migration Job, then the API.
    groups: dict[str | None, set[str]] = {}
    for d in docs:
        component = d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        groups.setdefault(component, set()).add(d["kind"])
    split = (set(groups) <= {None, "migration", "api"} and groups.get("migration") == {"Job"}
             and groups.get("api") == {"Deployment"}
             and not groups.get(None, set()) & {"Job", "Deployment"})
    check(split, "release order: component labels split the resources as the runbook applies them"
          + ("" if split else f" (got {groups})"))

    deploy = one(docs, "Deployment", "trellis")
    job = one(docs, "Job", "trellis-migrate")
    service = one(docs, "Service", "trellis")
    ingress = one(docs, "Ingress", "trellis")
    hpa = one(docs, "HorizontalPodAutoscaler", "trellis")
    pdb = one(docs, "PodDisruptionBudget", "trellis")
    if None in (deploy, job, service, ingress, hpa, pdb):
        return

    spec = deploy["spec"]
    pod = spec["template"]
    labels = pod["metadata"]["labels"]
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "trellis")
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}

    check(spec.get("replicas", 1) >= MIN_REPLICAS, f"Deployment: at least {MIN_REPLICAS} replicas")
    check(selects(spec["selector"]["matchLabels"], labels), "Deployment: selector matches its pods")
    check(spec.get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable") == 0,
          "Deployment: rolling update never drops below the current count")
    check(bool(pod["spec"].get("topologySpreadConstraints")), "Deployment: pods spread across nodes/zones")

    def probe(name: str, path: str) -> None:
        get = container.get(name, {}).get("httpGet", {})
        check(get.get("path") == path and get.get("port") in ports,
              f"Deployment: {name} GET {path} on a declared port")

    probe("readinessProbe", "/readyz")
    probe("livenessProbe", "/healthz")
    probe("startupProbe", "/healthz")
    check_pod("Deployment", pod, known, configmaps)

    env = {}
    for ref in container.get("envFrom", []):
        env.update(configmaps.get(ref.get("configMapRef", {}).get("name"), {}))
    check(env.get("TRELLIS_AUTO_MIGRATE") == "false",
          "config: TRELLIS_AUTO_MIGRATE=false (the Job migrates; replicas never race to)")
    check(env.get("TRELLIS_DEMO") == "false", "config: TRELLIS_DEMO=false (no demo data in a real database)")
    listen = env.get("TRELLIS_LISTEN", "")
    check(listen.startswith("0.0.0.0:") and int(listen.rsplit(":", 1)[1]) in ports.values(),
          f"config: TRELLIS_LISTEN ({listen}) binds all interfaces on the container port")
    # /metrics has its own listener so the Ingress (which routes the API port) cannot expose it.
    metrics_listen = env.get("TRELLIS_METRICS_LISTEN", "")
    metrics_port = int(metrics_listen.rsplit(":", 1)[1]) if ":" in metrics_listen else None
    check(metrics_listen.startswith("0.0.0.0:") and ports.get("metrics") == metrics_port
          and metrics_port != ports.get("http"),
          f"config: TRELLIS_METRICS_LISTEN ({metrics_listen}) is the container's `metrics` port, not the API's")
    annotations = pod["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true"
          and annotations.get("prometheus.io/port") == str(metrics_port)
          and annotations.get("prometheus.io/path") == "/metrics",
          "Deployment: scrape annotations point at the metrics port's /metrics")

    # The migration Job.
    jpod = job["spec"]["template"]
    jcontainer = jpod["spec"]["containers"][0]
    check(jcontainer.get("args") == ["migrate"], "Job: runs `trellis migrate`")
    check(jcontainer.get("image") == container.get("image"), "Job: same image as the Deployment")
    check(jpod["spec"].get("restartPolicy") == "Never", "Job: restartPolicy Never")
    check("serviceAccountName" not in jpod["spec"]
          and not any("envFrom" in c or "volumes" in jpod["spec"] and any(
              "configMap" in v for v in jpod["spec"]["volumes"]) for c in jpod["spec"]["containers"]),
          "Job: references only the pre-existing Secret, so it can run as a PreSync hook")
    check(not selects(spec["selector"]["matchLabels"], jpod["metadata"]["labels"]),
          "Job: its pod is not selected by the Deployment/Service/PDB")
    check_pod("Job", jpod, known, configmaps)

    # Wiring between the objects.
    check(selects(service["spec"]["selector"], labels), "Service: selects the API pods")
    check(all(p.get("targetPort") in ports for p in service["spec"]["ports"]),
          "Service: targets a named container port")
    service_ports = {p.get("name") for p in service["spec"]["ports"]}
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"]
                for path in rule["http"]["paths"]]
    check(bool(backends) and all(b["name"] == "trellis" and b["port"].get("name") in service_ports
                                 for b in backends),
          "Ingress: every path routes to the Service's port")
    check(all(b["port"].get("name") == "http" for b in backends)
          and all(p.get("targetPort") != "metrics" and p.get("targetPort") != ports.get("metrics")
                  for p in service["spec"]["ports"]),
          "Ingress/Service: /metrics is never routed from outside (no Service port targets `metrics`)")
    hosts = {r.get("host") for r in ingress["spec"]["rules"]}
    tls_hosts = {h for t in ingress["spec"].get("tls", []) for h in t.get("hosts", [])}
    check(hosts <= tls_hosts, "Ingress: every host is served over TLS")
    check(hpa["apiVersion"] == "autoscaling/v2"
          and hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "trellis"},
          "HPA: autoscaling/v2 on the Deployment")
    check(MIN_REPLICAS <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"],
          f"HPA: {MIN_REPLICAS} <= minReplicas <= maxReplicas")
    check(any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", [])),
          "HPA: scales on CPU")
    check(selects(pdb["spec"]["selector"]["matchLabels"], labels), "PDB: selects the API pods")
    check(pdb["spec"].get("maxUnavailable") == 1 or
          (isinstance(pdb["spec"].get("minAvailable"), int)
           and pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]),
          "PDB: lets a node drain proceed (never blocks all evictions)")


def config_env(rendered: Path) -> None:
    for d in by_kind(load_all(rendered), "ConfigMap"):
        for key, value in d.get("data", {}).items():
            print(f"{key}={value}")


def compose(path: Path, config_rs: Path) -> None:
    known = known_variables(config_rs)
    services = yaml.safe_load(path.read_text())["services"]
    for name in ("postgres", "localstripe", "migrate", "trellis"):
        check(name in services, f"compose: service {name}")
    for name, svc in services.items():
        env = svc.get("environment", {})
        check(isinstance(env, dict), f"compose {name}: environment is a mapping")
        check_variable_names(f"compose {name}", set(env), known)
        if name != "migrate":
            check("healthcheck" in svc, f"compose {name}: has a health check")
    app = services.get("trellis", {})
    check(app.get("command") == ["serve"] and services.get("migrate", {}).get("command") == ["migrate"],
          "compose: `migrate` migrates, `trellis` serves")
    check(app.get("depends_on", {}).get("migrate", {}).get("condition") == "service_completed_successfully",
          "compose: trellis starts after migrate succeeded")
    check(str(app.get("environment", {}).get("TRELLIS_AUTO_MIGRATE")).lower() == "false",
          "compose: trellis does not migrate itself")


def skeleton(real: Path, skel: Path) -> None:
    def targets(p: Path) -> set[tuple[str, str, str]]:
        meta = json.loads(p.read_text())
        return {(pkg["name"], t["name"], ",".join(t["kind"]))
                for pkg in meta["packages"] for t in pkg["targets"]}

    want, got = targets(real), targets(skel)
    missing = sorted(want - got)
    check(not missing, f"Dockerfile skeleton: all {len(want)} workspace targets stubbed"
          + (f" (missing: {missing})" if missing else ""))
    check(not (got - want), "Dockerfile skeleton: no targets the workspace lacks")


def main(argv: list[str]) -> int:
    mode = argv[1]
    if mode == "manifests":
        manifests(argv[2], Path(argv[3]), Path(argv[4]))
    elif mode == "compose":
        compose(Path(argv[2]), Path(argv[3]))
    elif mode == "config-env":
        config_env(Path(argv[2]))
        return 0
    elif mode == "skeleton":
        skeleton(Path(argv[2]), Path(argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode}; see the docstring")
    print(f"  {'ok' if not failures else 'FAIL':<5} policy ({mode}): {passed} rules passed, {len(failures)} failed"
          + ("" if VERBOSE or failures else " (TRELLIS_DEPLOY_CHECK_VERBOSE=1 lists them)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
