#!/usr/bin/env python3
"""Write the OCI bundles that scripts/vm/guest-test.sh runs inside the cgroup v2 VM.

Usage: make-bundles.py BASE_CONFIG OUT_DIR GUEST_ROOTFS

Every bundle starts from the vendored config (vendor-images/build/bundle/config.json),
points at one shared read-only rootfs at GUEST_ROOTFS (a path inside the VM) and gets
its own cgroup under /podrt-vm. Bundles (a)-(f) drop `linux.resources.devices` so that
they test memory/pids/freezer on their own; bundle `devices` keeps the stock deny-all
rule and adds allow rules, as runc's default spec and containerd do.
"""

import copy
import json
import os
import sys

MIB = 1024 * 1024


def bundle(base, rootfs, name, args, resources=None, extra_mounts=()):
    cfg = copy.deepcopy(base)
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["args"] = args
    linux = cfg.setdefault("linux", {})
    linux["cgroupsPath"] = f"/podrt-vm/{name}"
    linux["resources"] = resources if resources is not None else {}
    cfg["mounts"] = cfg.get("mounts", []) + list(extra_mounts)
    return cfg


def main():
    base_path, out, rootfs = sys.argv[1:4]
    with open(base_path) as f:
        base = json.load(f)
    limits = {
        "memory": {"limit": 64 * MIB},
        "pids": {"limit": 32},
        # A period other than the default 100000, so quota and period must both land.
        "cpu": {"quota": 50000, "period": 200000, "shares": 1024},
    }
    bundles = {
        # (a) the simplest container.
        "echo": bundle(base, rootfs, "echo", ["echo", "hi"]),
        # (b, d, e, f, exec) a long-running container with limits: a shell and two
        # sleeps, so kill --all has more than init to kill.
        "lim": bundle(
            base,
            rootfs,
            "lim",
            ["sh", "-c", "sleep 1000 & sleep 1000 & wait"],
            resources=limits,
        ),
        # (c) the container's own view of its cgroup.
        "incg": bundle(
            base,
            rootfs,
            "incg",
            ["sh", "-c", "cat /sys/fs/cgroup/pids.max; cat /proc/self/cgroup"],
            resources={"pids": {"limit": 32}},
        ),
        # (g) runc's default device policy: deny everything, then allow rules; plus a
        # bind of /dev/loop-control (10:237, no check at open besides the device
        # cgroup) that no rule allows, to see the policy enforced.
        "devices": bundle(
            base,
            rootfs,
            "devices",
            [
                "sh",
                "-c",
                "echo x > /dev/null && echo NULL_OK; "
                # `true`, not `:`: a failed redirection on a special builtin ends sh.
                "if true < /dev/probe; then echo PROBE_OPENED; else echo PROBE_DENIED; fi",
            ],
            resources={
                "devices": [
                    {"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                ]
            },
            extra_mounts=[
                {
                    "destination": "/dev/probe",
                    "type": "bind",
                    "source": "/dev/loop-control",
                    "options": ["bind"],
                }
            ],
        ),
    }
    # (h) the same policy on a long-running container, to change it with `update`.
    held = json.loads(json.dumps(bundles["devices"]))
    held["process"]["args"] = ["sleep", "60"]
    held["linux"]["cgroupsPath"] = "/podrt-vm/devupdate"
    bundles["devupdate"] = held
    for name, cfg in bundles.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main()
