"""deploy/k8s, checked without a cluster: every object against the Kubernetes schemas
(kubernetes-validate, strict), and against Elava's own settings, commands and ports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from collectors.aws import catalog
from elava.catalogue import registry
from tests.unit.deploy.checks import (
    CONFIG_VARIABLE,
    LOOPBACK,
    REPO,
    cli_error,
    image_is_pinned,
    pending_settings,
    setting_exists,
    settings_for,
    shadowed_settings,
    unknown_topic_mentions,
    unknown_variables,
)

K8S = REPO / "deploy" / "k8s"
# The oldest Kubernetes these manifests are meant for, and the newest schemas shipped.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
WORKLOADS = ("Deployment", "StatefulSet")
EXAMPLE_SECRET = yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"]


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def objects(kustomization) -> list[dict]:
    """What `kubectl apply -k` sends: the listed files plus the generated ConfigMap."""
    docs = [doc for name in kustomization["resources"] for doc in yaml.safe_load_all((K8S / name).read_text())]
    for generator in kustomization["configMapGenerator"]:
        data = {Path(name).name: (K8S / name).read_text() for name in generator["files"]}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": generator["name"], "namespace": kustomization["namespace"]},
                     "data": data})
    return docs


@pytest.fixture(scope="module")
def secret() -> dict:
    return yaml.safe_load((K8S / "secret.example.yaml").read_text())


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] in WORKLOADS}


def containers(objects: list[dict]):
    for name, workload in workloads(objects).items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            yield name, workload, container


# What the downward API gives the first worker's pod.
POD_FIELDS = {"metadata.name": "elava-worker-0", "metadata.namespace": "elava"}


def literal_env(container: dict) -> dict[str, str]:
    """The container's variables, each secret's value taken from secret.example.yaml (so a
    secret of the wrong shape, e.g. signing keys that are not JSON, fails to load), pod
    fields as for the first worker, and $(NAME) of an earlier variable expanded."""
    env: dict[str, str] = {}
    for e in container.get("env", []):
        source = e.get("valueFrom", {})
        if "value" in e:
            env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), e["value"])
        elif "fieldRef" in source:
            env[e["name"]] = POD_FIELDS[source["fieldRef"]["fieldPath"]]
        else:
            env[e["name"]] = EXAMPLE_SECRET[source["secretKeyRef"]["key"]]
    return env


def config_file(objects: list[dict], workload: dict, container: dict) -> Path:
    """The file of deploy/k8s behind ELAVA_CONFIG, through the mount and its ConfigMap."""
    path = Path(literal_env(container)[CONFIG_VARIABLE])
    mounts = {m["name"]: Path(m["mountPath"]) for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    for name, mount in mounts.items():
        if path.parent == mount and "configMap" in volumes.get(name, {}):
            config_map = by_kind(objects, "ConfigMap")[volumes[name]["configMap"]["name"]]
            assert path.name in config_map["data"]
            return K8S / path.name
    raise AssertionError(f"{CONFIG_VARIABLE}={path} is not a file of a mounted ConfigMap")


def container_settings(objects, workload, container):
    return settings_for(config_file(objects, workload, container), literal_env(container))


def settings_of(objects: list[dict], name: str):
    workload = workloads(objects)[name]
    return container_settings(objects, workload, workload["spec"]["template"]["spec"]["containers"][0])


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_kustomize_applies_every_manifest_of_the_folder(kustomization):
    listed = set(kustomization["resources"])
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "elava.yaml", "secret.example.yaml"}
    assert listed == manifests


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_for_kubernetes(objects, secret, version):
    for obj in [*objects, secret]:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_refuses_a_misspelt_field(objects):
    worker = json.loads(json.dumps(workloads(objects)["elava-worker"]))
    worker["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, VERSIONS[-1], strict=True)


def test_every_image_is_pinned(objects, kustomization):
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    for name, _, container in containers(objects):
        assert image_is_pinned(container["image"]), f"{name}: {container['image']}"
        assert container["image"] == f"elava:{version}", name
    assert [(i["name"], i["newTag"]) for i in kustomization["images"]] == [("elava", version)]


def test_every_command_is_an_elava_command(objects):
    for name, _, container in containers(objects):
        assert "command" not in container, f"{name}: keep the image's elava entrypoint"
        assert cli_error(container["args"]) is None, f"{name}: {cli_error(container['args'])}"


def test_every_elava_variable_is_a_setting(objects):
    names = [name for _, _, container in containers(objects) for name in literal_env(container)]
    assert unknown_variables(names) == []


def test_every_container_loads_its_settings_from_the_config_map(objects):
    for _, workload, container in containers(objects):
        container_settings(objects, workload, container)  # raises, naming the field, on a bad value


def test_the_image_environment_does_not_hide_a_setting_of_the_config_map():
    assert shadowed_settings(K8S / "elava.yaml") == []


def test_secrets_come_from_the_documented_secret(objects, secret):
    refs = [e["valueFrom"]["secretKeyRef"] for _, _, c in containers(objects) for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})]
    assert refs, "no setting comes from a Secret"
    for ref in refs:
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]


def test_selectors_find_their_pods(objects):
    pods = {name: w["spec"]["template"]["metadata"]["labels"] for name, w in workloads(objects).items()}
    for name, workload in workloads(objects).items():
        assert matches(workload["spec"]["selector"]["matchLabels"], pods[name]), name
    selecting = [(o["metadata"]["name"], o["spec"]["selector"]) for o in by_kind(objects, "Service").values()]
    selecting += [(o["metadata"]["name"], o["spec"]["selector"]["matchLabels"])
                  for o in by_kind(objects, "PodDisruptionBudget").values()]
    selecting += [(o["metadata"]["name"], o["spec"]["podSelector"].get("matchLabels", {}))
                  for o in by_kind(objects, "NetworkPolicy").values()]
    for name, selector in selecting:
        assert any(matches(selector, labels) for labels in pods.values()), f"{name} selects no pod"


def test_service_accounts_exist_and_none_gets_an_api_token(objects):
    accounts = by_kind(objects, "ServiceAccount")
    assert all(account["automountServiceAccountToken"] is False for account in accounts.values())
    for name, workload in workloads(objects).items():
        spec = workload["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] in accounts, name
        assert spec["automountServiceAccountToken"] is False, name
    # No workload talks to the Kubernetes API: nothing grants any.
    assert not [o for o in objects if o["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]


def test_the_executor_alone_has_its_service_account_and_role(objects):
    accounts = {name: w["spec"]["template"]["spec"]["serviceAccountName"] for name, w in workloads(objects).items()}
    executor_account = accounts.pop("elava-executor")
    assert executor_account not in accounts.values()
    roles = {name: a["metadata"].get("annotations", {}).get("eks.amazonaws.com/role-arn")
             for name, a in by_kind(objects, "ServiceAccount").items()}
    assert roles[executor_account] and list(roles.values()).count(roles[executor_account]) == 1


def test_the_executor_only_reports(objects):
    executor = workloads(objects)["elava-executor"]
    assert "--enforce" not in executor["spec"]["template"]["spec"]["containers"][0]["args"]
    assert settings_of(objects, "elava-executor").executor.dry_run is True


def test_workers_are_a_stateful_set_with_a_volume_for_their_store(objects):
    worker = workloads(objects)["elava-worker"]
    assert worker["kind"] == "StatefulSet"
    container = worker["spec"]["template"]["spec"]["containers"][0]
    claims = {claim["metadata"]["name"] for claim in worker["spec"]["volumeClaimTemplates"]}
    data_dir = settings_of(objects, "elava-worker").worker.data_dir
    assert any(m["name"] in claims and data_dir.is_relative_to(m["mountPath"]) for m in container["volumeMounts"])
    service = by_kind(objects, "Service")[worker["spec"]["serviceName"]]
    assert service["spec"]["clusterIP"] == "None"  # one address per worker: each answers for its partitions


def test_the_query_api_port_and_probes_follow_worker_web_port(objects):
    worker = workloads(objects)["elava-worker"]
    container = worker["spec"]["template"]["spec"]["containers"][0]
    settings = settings_of(objects, "elava-worker")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"api": settings.worker.web_port}
    assert settings.worker.web_host not in LOOPBACK  # the Service and the kubelet come from outside the pod
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["tcpSocket"]["port"] in ports, probe
    service = by_kind(objects, "Service")[worker["spec"]["serviceName"]]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["api"]
    for policy in by_kind(objects, "NetworkPolicy").values():
        for rule in policy["spec"].get("ingress", []):
            assert all(p["port"] in ports for p in rule["ports"])


def test_replicas_fit_the_partitions_and_singletons_stay_single(objects):
    partitions = settings_of(objects, "elava-worker").kafka.partitions
    found = workloads(objects)
    for name in ("elava-worker", "elava-collector", "elava-executor"):
        assert 1 <= found[name]["spec"]["replicas"] <= partitions, name
    # A second scheduler asks for every scan twice; a second trail reader reads every event twice.
    for name in ("elava-scheduler", "elava-trail"):
        assert found[name]["spec"]["replicas"] == 1
        assert found[name]["spec"]["strategy"] == {"type": "Recreate"}


def test_every_pod_meets_the_restricted_pod_security_standard(objects):
    for name, workload, container in containers(objects):
        pod = workload["spec"]["template"]["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        own = container["securityContext"]
        assert own["allowPrivilegeEscalation"] is False and own["capabilities"] == {"drop": ["ALL"]}, name
        assert "limits" in container["resources"] and "memory" in container["resources"]["limits"], name


def test_the_iam_policies_are_the_generated_and_documented_ones():
    collector = json.loads((K8S / "iam" / "collector-policy.json").read_text())
    assert collector == catalog.policy(registry.all_types())
    documented = re.search(r"## IAM permissions.*?```json\n(.*?)```", (REPO / "docs" / "executor.md").read_text(),
                           re.DOTALL).group(1)
    assert json.loads((K8S / "iam" / "executor-policy.json").read_text()) == json.loads(documented)


def test_topics_named_in_comments_exist_and_pending_settings_have_not_landed():
    text = "".join(path.read_text() for path in sorted(K8S.glob("*.yaml")))
    assert unknown_topic_mentions(text) == []
    landed = [name for name in pending_settings(text) if setting_exists(name)]
    assert landed == [], f"these settings exist now: enable the lines marked pending(...) for {landed}"


def test_each_worker_advertises_its_name_under_the_headless_service(objects):
    """Any worker asks the others for their partitions at the URL they advertise (docs/api.md)."""
    service = by_kind(objects, "Service")["elava-worker"]
    worker = settings_of(objects, "elava-worker")
    assert service["spec"]["clusterIP"] == "None" and workloads(objects)["elava-worker"]["spec"]["serviceName"] == "elava-worker"
    assert worker.worker.advertised_url == f"http://elava-worker-0.elava-worker.elava.svc:{worker.worker.web_port}"
    (api,) = by_kind(objects, "NetworkPolicy")["elava-worker-api"]["spec"]["ingress"]
    workers = workloads(objects)["elava-worker"]["spec"]["template"]["metadata"]["labels"]
    assert any(matches(source["podSelector"]["matchLabels"], workers) for source in api["from"])


def test_one_fleet_pattern_stage_runs_for_the_installation(objects):
    """It reads every partition: one per worker would publish every pattern once per worker."""
    def running(args: list[str]) -> list[str]:
        return [name for name, _, container in containers(objects) if container["args"] == args]

    (worker,) = running(["worker"])
    assert settings_of(objects, worker).analyzer.patterns.fleet_stage_in_worker is False
    (fleet,) = running(["fleet", "serve"])
    spec = workloads(objects)[fleet]["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}  # two never overlap
    assert settings_of(objects, fleet).analyzer.patterns.enabled
    # The worker's principal: its service account and its Kafka settings.
    worker_spec = workloads(objects)[worker]["spec"]["template"]["spec"]
    assert spec["template"]["spec"]["serviceAccountName"] == worker_spec["serviceAccountName"]
    assert settings_of(objects, fleet).kafka == settings_of(objects, worker).kafka
