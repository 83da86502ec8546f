"""What can be checked of deploy/z2jh/ without a Kubernetes cluster: the YAML parses, every key in the
Helm values is one the Zero to JupyterHub chart documents, the image recipe installs requirements.txt
and never copies exercises/ (solutions and hidden tests), and the hub's settings files parse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
Z2JH = ROOT / "deploy" / "z2jh"

# Keys documented in the chart's schema (jupyterhub/values.schema.yaml of jupyterhub/zero-to-jupyterhub-k8s,
# read at commit 02dd73df01bdbb6d602fed21b0be12565ab38080). A value marked FREE is a free-form mapping there
# (additionalProperties: true, or a list), whose inside the chart does not constrain.
FREE = object()
DOCUMENTED = {
    "hub": {"config": FREE, "extraConfig": FREE, "baseUrl": None, "cookieSecret": None},
    "singleuser": {
        "image": {"name": None, "tag": None, "pullPolicy": None},
        "defaultUrl": None, "startTimeout": None, "cmd": None, "uid": None, "fsGid": None,
        "memory": {"limit": None, "guarantee": None},
        "cpu": {"limit": None, "guarantee": None},
        "extraEnv": FREE, "extraFiles": FREE, "profileList": FREE, "lifecycleHooks": FREE,
        "storage": {"type": None, "capacity": None, "homeMountPath": None, "extraVolumes": FREE,
                    "extraVolumeMounts": FREE, "dynamic": {"storageClass": None, "pvcNameTemplate": None,
                                                           "storageAccessModes": None}},
    },
    "proxy": {"service": {"type": None, "loadBalancerIP": None}, "https": FREE},
}


def unknown_keys(values: dict, schema: dict, prefix: str = "") -> list[str]:
    bad = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in schema:
            bad.append(path)
        elif isinstance(schema[key], dict):
            if not isinstance(value, dict):
                bad.append(f"{path} (a mapping in the chart)")
            else:
                bad += unknown_keys(value, schema[key], path + ".")
    return bad


def test_values_parse_and_use_only_documented_keys():
    values = yaml.safe_load((Z2JH / "values.yaml").read_text())
    assert unknown_keys(values, DOCUMENTED) == []


def test_the_key_check_can_fail():
    assert unknown_keys({"singleuser": {"storage": {"extraVolume": []}}}, DOCUMENTED) == [
        "singleuser.storage.extraVolume"]


def test_values_share_one_exchange_volume_and_set_limits():
    values = yaml.safe_load((Z2JH / "values.yaml").read_text())
    su = values["singleuser"]
    mounts = {m["name"]: m["mountPath"] for m in su["storage"]["extraVolumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in su["storage"]["extraVolumes"]}
    assert mounts["nbgrader-exchange"] == su["extraEnv"]["IOME_HUB_EXCHANGE"] == "/srv/nbgrader/exchange"
    pvc = yaml.safe_load((Z2JH / "exchange-pvc.yaml").read_text())
    assert claims["nbgrader-exchange"] == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert su["memory"]["limit"] and su["cpu"]["limit"]
    compile(values["hub"]["extraConfig"]["iome-roles"], "hub.extraConfig.iome-roles", "exec")


def test_image_recipe_installs_the_pins_and_no_answers():
    lines = [ln.strip() for ln in (Z2JH / "Dockerfile").read_text().splitlines() if ln.strip()
             and not ln.strip().startswith("#")]
    assert any(re.match(r"RUN pip install -r .*requirements\.txt$", ln) for ln in lines)
    copied = " ".join(ln for ln in lines if ln.startswith("COPY"))
    assert "requirements.txt" in copied and "src" in copied and "data" in copied
    assert "exercises" not in copied and "tests" not in copied and not re.search(r"COPY \. ", copied)
    reqs = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.strip().startswith("#")]
    assert all("==" in ln for ln in reqs), "requirements.txt pins every package"
    for needed in ("jupyterhub==", "nbgrader==", "jupyterlab=="):
        assert any(ln.startswith(needed) for ln in reqs), needed


def test_hub_settings_files_parse():
    for path in (ROOT / "hub" / "jupyter").rglob("*.json"):
        json.loads(path.read_text())
    for path in [ROOT / "hub" / "jupyterhub_config.py", *(ROOT / "hub" / "jupyter").rglob("*.py")]:
        compile(path.read_text(), str(path), "exec")
    pkg = json.loads((ROOT / "hub" / "package.json").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", pkg["dependencies"]["configurable-http-proxy"])
