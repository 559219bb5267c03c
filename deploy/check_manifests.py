"""Offline checks of the rendered manifests, run by deploy/check.

Validates each object against the Kubernetes schemas (kubernetes-validate,
strict), skips the custom resources with the reason, and checks the rules
that Louyu's deployment rests on. Prints one line per finding and exits 1 on
any. With --exclusions FILE it only prints checkov's excluded check ids,
comma-separated, after checking that each has its reason.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import yaml

# Custom resources: kubernetes-validate carries only the core API's schemas,
# and the CRDs' own schemas are not on the package registries these checks
# install from. Each is skipped here, with the reason, and cross-checked
# below against the objects it points at.
SKIPPED_KINDS = {
    ("gateway.networking.k8s.io/v1", "Gateway"): "Gateway API CRD; its schema ships with the Gateway API release, not with kubernetes-validate",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "Gateway API CRD (as Gateway)",
    ("gateway.networking.k8s.io/v1", "GRPCRoute"): "Gateway API CRD (as Gateway)",
    ("postgresql.cnpg.io/v1", "Cluster"): "CloudNativePG CRD; its schema ships with the operator's manifests",
    ("postgresql.cnpg.io/v1", "Database"): "CloudNativePG CRD (as Cluster)",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "CloudNativePG CRD (as Cluster)",
    ("barmancloud.cnpg.io/v1", "ObjectStore"): "Barman Cloud plugin CRD; its schema ships with the plugin's manifests",
}

SERVICES = ("registry", "visits", "risk", "referral", "gateway")
EXCLUSION_LINE = re.compile(r"^(CKV2?_(?:K8S|DOCKER)_\d+):\s*(.*)$")


class Findings:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def exclusions(path: Path) -> list[str]:
    ids = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = EXCLUSION_LINE.match(line)
        if not match:
            sys.exit(f"error: {path}:{number}: expected 'CKV_K8S_<n>: <reason>' or 'CKV_DOCKER_<n>: <reason>', got {line!r}")
        if len(match.group(2).strip()) < 20:
            sys.exit(f"error: {path}:{number}: {match.group(1)} needs its reason")
        ids.append(match.group(1))
    return ids


def seconds(text: str) -> float:
    """A LOUYU_DRAIN_DELAY value, `5s`, `500ms`, `0s`, as seconds."""
    match = re.fullmatch(r"(\d+)(ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    value, unit = int(match.group(1)), match.group(2)
    return {"ms": value / 1000, "s": value, "m": value * 60}[unit]


def env_of(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


def check_pod_security(where: str, pod: dict, findings: Findings) -> None:
    spec = pod["spec"]
    if spec.get("automountServiceAccountToken") is not False:
        findings.add(where, "automountServiceAccountToken must be false")
    pod_security = spec.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True:
        findings.add(where, "the pod must set runAsNonRoot: true")
    if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        findings.add(where, "the pod's seccompProfile must be RuntimeDefault")
    for container in spec["containers"] + spec.get("initContainers", []):
        security = container.get("securityContext", {})
        name = f"{where} container {container['name']}"
        if security.get("readOnlyRootFilesystem") is not True:
            findings.add(name, "readOnlyRootFilesystem must be true")
        if security.get("allowPrivilegeEscalation") is not False:
            findings.add(name, "allowPrivilegeEscalation must be false")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            findings.add(name, "capabilities must drop ALL")
        for kind in ("requests", "limits"):
            resources = container.get("resources", {}).get(kind, {})
            if "cpu" not in resources or "memory" not in resources:
                findings.add(name, f"needs cpu and memory {kind}")
        for mount in container.get("volumeMounts", []):
            if "subPath" in mount:
                findings.add(name, f"mounts {mount['name']} by subPath, which the kubelet never updates (the JWKS must be re-readable)")


def check_target(path: Path, objects: list[dict], deploy_dir: Path, findings: Findings) -> None:
    target = path.stem
    if target == "observability":
        # Not Louyu's services: the schemas and checkov cover it.
        return
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj

    if "Secret" in by_kind:
        findings.add(target, f"renders Secrets {sorted(by_kind['Secret'])}: Secrets are referenced, never committed")

    env_maps = [cm for name, cm in by_kind.get("ConfigMap", {}).items() if name.startswith("louyu-env")]
    if len(env_maps) != 1:
        findings.add(target, "expected exactly one louyu-env ConfigMap")
        return
    shared_env = env_maps[0].get("data", {})
    if shared_env.get("LOUYU_MIGRATE_ON_START") not in ("0", "false"):
        findings.add(target, "louyu-env must set LOUYU_MIGRATE_ON_START=0: the Jobs migrate, never the replicas")
    if shared_env.get("LOUYU_DEV_IDENTITY") not in ("0", "false"):
        findings.add(target, "louyu-env must set LOUYU_DEV_IDENTITY=0 (development identity trusts any caller)")
    if not shared_env.get("LOUYU_METRICS_LISTEN", "").endswith(":9464"):
        findings.add(target, "louyu-env must set LOUYU_METRICS_LISTEN to port 9464")

    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    for service in SERVICES:
        where = f"{target} {service}"
        deployment = deployments.get(service)
        if deployment is None:
            findings.add(where, "no Deployment")
            continue
        for kind, name in (
            ("Service", service),
            ("ServiceAccount", service),
            ("HorizontalPodAutoscaler", service),
            ("PodDisruptionBudget", service),
            ("Job", f"{service}-migrate"),
        ):
            if name not in by_kind.get(kind, {}):
                findings.add(where, f"no {kind} {name}")
        pod = deployment["spec"]["template"]
        check_pod_security(f"{where} Deployment", pod, findings)
        if "replicas" in deployment["spec"]:
            findings.add(where, "the Deployment sets replicas, which fights its HorizontalPodAutoscaler")
        container = pod["spec"]["containers"][0]
        if container.get("args") != ["serve", service]:
            findings.add(where, f"the container must run `louyu serve {service}`, not {container.get('args')}")
        env = env_of(container)
        if "LOUYU_MIGRATE_ON_START" in env and env["LOUYU_MIGRATE_ON_START"].get("value") not in ("0", "false"):
            findings.add(where, "the Deployment must not migrate on start")
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        listen = env.get("LOUYU_LISTEN", {}).get("value", "")
        if not listen.endswith(f":{ports.get('grpc')}"):
            findings.add(where, f"LOUYU_LISTEN {listen!r} is not the container's grpc port {ports.get('grpc')}")
        if ports.get("metrics") != 9464:
            findings.add(where, "needs a container port named metrics on 9464")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            grpc = container.get(probe, {}).get("grpc")
            if grpc is None:
                findings.add(where, f"{probe} must be a native gRPC probe")
            elif grpc.get("port") != ports.get("grpc"):
                findings.add(where, f"{probe} probes port {grpc.get('port')}, not the grpc port")
        # Stopping: preStop sleep, then the drain delay, then the grace for
        # calls in flight, all within terminationGracePeriodSeconds.
        try:
            drain = seconds(env["LOUYU_DRAIN_DELAY"]["value"])
            grace = int(env["LOUYU_SHUTDOWN_GRACE_SECONDS"]["value"])
        except (KeyError, ValueError) as error:
            findings.add(where, f"needs LOUYU_DRAIN_DELAY and LOUYU_SHUTDOWN_GRACE_SECONDS as values ({error})")
            continue
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
        if pre_stop is None:
            findings.add(where, "needs a preStop sleep (the image has no shell)")
            continue
        if pre_stop != drain:
            findings.add(where, f"preStop sleeps {pre_stop} s but LOUYU_DRAIN_DELAY is {drain} s: they must match")
        termination = pod["spec"].get("terminationGracePeriodSeconds", 30)
        if termination < pre_stop + drain + grace:
            findings.add(
                where,
                f"terminationGracePeriodSeconds {termination} is less than preStop {pre_stop} + drain {drain} + grace {grace}",
            )
        service_object = services.get(service)
        if service_object:
            service_ports = service_object["spec"]["ports"]
            if not any(port.get("targetPort") in ("grpc", ports.get("grpc")) for port in service_ports):
                findings.add(where, "the Service does not target the grpc port")
        job = by_kind.get("Job", {}).get(f"{service}-migrate")
        if job:
            check_pod_security(f"{where} Job", job["spec"]["template"], findings)
            job_container = job["spec"]["template"]["spec"]["containers"][0]
            if job_container.get("args") != ["migrate", service]:
                findings.add(where, f"the Job must run `louyu migrate {service}`")
            job_db = env_of(job_container).get("LOUYU_DATABASE_URL", {})
            deployment_db = env.get("LOUYU_DATABASE_URL", {})
            if job_db.get("valueFrom") != deployment_db.get("valueFrom"):
                findings.add(where, "the Job and the Deployment read different database URLs")

    # The Gateway API objects point at what exists.
    gateways = by_kind.get("Gateway", {})
    for kind in ("HTTPRoute", "GRPCRoute"):
        for name, route in by_kind.get(kind, {}).items():
            where = f"{target} {kind} {name}"
            for parent in route["spec"].get("parentRefs", []):
                gateway = gateways.get(parent["name"])
                if gateway is None:
                    findings.add(where, f"names Gateway {parent['name']}, which is not rendered")
                    continue
                listeners = {l["name"]: l for l in gateway["spec"]["listeners"]}
                listener = listeners.get(parent.get("sectionName", ""))
                if listener is None:
                    findings.add(where, f"names listener {parent.get('sectionName')!r}, which the Gateway lacks")
                elif listener.get("hostname") not in route["spec"].get("hostnames", []):
                    findings.add(where, f"hostnames {route['spec'].get('hostnames')} miss the listener's {listener.get('hostname')}")
            for rule in route["spec"].get("rules", []):
                for backend in rule.get("backendRefs", []):
                    service = services.get(backend["name"])
                    if service is None or backend.get("port") not in [p["port"] for p in service["spec"]["ports"]]:
                        findings.add(where, f"backend {backend['name']}:{backend.get('port')} is no Service port")
                    elif backend["name"] != "gateway":
                        findings.add(where, f"routes to {backend['name']}: only the gateway is public")
    for name, gateway in gateways.items():
        for listener in gateway["spec"]["listeners"]:
            if listener.get("protocol") != "HTTPS" or not listener.get("tls", {}).get("certificateRefs"):
                findings.add(f"{target} Gateway {name}", f"listener {listener['name']} must be HTTPS with a certificate")
            if listener.get("hostname", "").endswith("example.gov.cn") and target != "base":
                findings.add(f"{target} Gateway {name}", f"listener {listener['name']} keeps the base's example hostname")
    if target != "base":
        for kind in ("Deployment", "Job"):
            for name, obj in by_kind.get(kind, {}).items():
                container = obj["spec"]["template"]["spec"]["containers"][0]
                secret = env_of(container).get("LOUYU_DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name")
                if secret == "louyu-database":
                    findings.add(f"{target} {kind} {name}", "keeps the base's database Secret name; the overlay names its own")
        if shared_env.get("LOUYU_DISTRICT") in (None, "example"):
            findings.add(target, "the overlay must set LOUYU_DISTRICT")
        district = shared_env.get("LOUYU_DISTRICT")
        namespace = next(iter(by_kind.get("Namespace", {})), None)
        if namespace != f"louyu-{district}":
            findings.add(target, f"the namespace is {namespace}, not louyu-{district}")

    # Exactly one database component: the CA must be mounted for verify-full.
    for name, deployment in deployments.items():
        mounts = [m["mountPath"] for m in deployment["spec"]["template"]["spec"]["containers"][0].get("volumeMounts", [])]
        if target != "base" and "/etc/louyu/db-ca" not in mounts:
            findings.add(f"{target} {name}", "mounts no database CA: include components/cloudnative-pg or components/external-postgres")
    clusters = by_kind.get("Cluster", {})
    for name, cluster in clusters.items():
        where = f"{target} Cluster {name}"
        spec = cluster["spec"]
        if spec.get("instances", 0) < 3:
            findings.add(where, "needs three instances")
        if not any(plugin.get("isWALArchiver") for plugin in spec.get("plugins", [])) and "backup" not in spec:
            findings.add(where, "has no backups configured")
        roles = {role["name"] for role in spec.get("managed", {}).get("roles", [])}
        databases = {db["spec"]["name"]: db for db in by_kind.get("Database", {}).values()}
        for service in SERVICES:
            database = databases.get(service)
            if database is None:
                findings.add(where, f"no Database for {service}")
            elif database["spec"]["owner"] not in roles:
                findings.add(where, f"database {service} is owned by {database['spec']['owner']}, no managed role")

    # The district's rules documents parse, and carry a version.
    for rules in ("louyu-referral-rules", "louyu-risk-rules"):
        maps = [cm for name, cm in by_kind.get("ConfigMap", {}).items() if name.startswith(rules + "-") or name == rules]
        if len(maps) != 1:
            findings.add(target, f"expected one ConfigMap {rules}")
            continue
        for key, text in maps[0].get("data", {}).items():
            try:
                document = tomllib.loads(text)
            except tomllib.TOMLDecodeError as error:
                findings.add(f"{target} {rules}", f"{key} is not TOML: {error}")
                continue
            if not document.get("version"):
                findings.add(f"{target} {rules}", f"{key} has no version")
            if target != "base" and document.get("version") == "2026-11-default-1":
                findings.add(f"{target} {rules}", f"{key} keeps the shipped version: a district's rules need their own")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exclusions", type=Path)
    parser.add_argument("--kubernetes-version")
    parser.add_argument("--deploy-dir", type=Path)
    parser.add_argument("rendered", nargs="*", type=Path)
    args = parser.parse_args()
    if args.exclusions:
        print(",".join(exclusions(args.exclusions)))
        return 0

    import kubernetes_validate

    findings = Findings()
    # The base's rules are the shipped defaults, byte for byte.
    root = args.deploy_dir.parent
    for service in ("referral", "risk"):
        shipped = root / "services" / service / "rules" / "default.toml"
        copy = args.deploy_dir / "k8s" / "base" / "rules" / f"{service}.toml"
        if shipped.read_bytes() != copy.read_bytes():
            findings.add(str(copy.relative_to(root)), f"differs from {shipped.relative_to(root)}; copy it again")

    skipped: dict[str, int] = {}
    validated = 0
    for path in args.rendered:
        objects = [obj for obj in yaml.safe_load_all(path.read_text(encoding="utf-8")) if obj]
        for obj in objects:
            key = (obj.get("apiVersion"), obj.get("kind"))
            where = f"{path.stem} {obj.get('kind')} {obj.get('metadata', {}).get('name')}"
            if key in SKIPPED_KINDS:
                skipped[f"{key[1]} ({key[0]})"] = skipped.get(f"{key[1]} ({key[0]})", 0) + 1
                continue
            try:
                kubernetes_validate.validate(obj, args.kubernetes_version, strict=True)
                validated += 1
            except kubernetes_validate.ValidationError as error:
                location = ".".join(str(part) for part in error.path)
                findings.add(where, f"schema: {location}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError:
                findings.add(where, f"no schema for {key[0]} {key[1]}, and it is not a listed custom resource")
        check_target(path, objects, args.deploy_dir, findings)

    print(f"kubernetes-validate {args.kubernetes_version} (strict): {validated} objects valid")
    for kind, count in sorted(skipped.items()):
        key = next(k for k in SKIPPED_KINDS if f"{k[1]} ({k[0]})" == kind)
        print(f"  skipped {count} x {kind}: {SKIPPED_KINDS[key]}")
    if findings.items:
        for item in findings.items:
            print(f"error: {item}", file=sys.stderr)
        print(f"error: {len(findings.items)} problems in the manifests", file=sys.stderr)
        return 1
    print("louyu's deployment rules: hold in every overlay")
    return 0


if __name__ == "__main__":
    sys.exit(main())
