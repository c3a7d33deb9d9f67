#!/usr/bin/env python3
"""Writes a single-layer OCI image archive from files on this machine, with no daemon and
no base image: the files named on the command line (each `SOURCE:DEST`), the shared
libraries `ldd` lists for the executables among them, a passwd and group file for the
unprivileged user, and a world-writable /tmp. The archive is reproducible (fixed times and
owners, sorted entries) and `ctr images import` reads it.

With `--dockerfile`, the user, entrypoint, command, environment, ports and the destination
of the one `COPY --from=...` of the Dockerfile's last stage give the layout, so the image
built here is laid out as the shipped Dockerfile builds it; SOURCE is then the file to copy.

Usage: oci_image.py --name REF --output FILE [--dockerfile FILE] [--entrypoint JSON]
                    [--cmd JSON] [--env K=V ...] [--expose PORT ...] [--user UID:GID]
                    [--workdir DIR] [--mkdir DIR ...] SOURCE[:DEST] ...
"""

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

USER_NAME = "nonroot"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def shared_libraries(executable):
    """Absolute paths of the libraries and loader `ldd` lists; none for a static binary."""
    result = subprocess.run(["ldd", executable], capture_output=True, text=True)
    if result.returncode != 0:  # "not a dynamic executable"
        return []
    paths = []
    for line in result.stdout.splitlines():
        if "not found" in line:
            sys.exit(f"oci_image: {executable}: a library is missing: {line.strip()}")
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            paths.append(match.group(1))
    return paths


def dockerfile_runtime_stage(path):
    """The instructions after the last FROM, continuation lines joined, comments dropped."""
    logical, current = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            logical.append((current + line).strip())
            current = ""
    last_from = max(i for i, line in enumerate(logical) if line.upper().startswith("FROM "))
    return [line.split(None, 1) for line in logical[last_from + 1:]]


def apply_dockerfile(args):
    """Fills the image settings from the Dockerfile's runtime stage."""
    copy_dest = None
    for instruction, rest in dockerfile_runtime_stage(args.dockerfile):
        instruction = instruction.upper()
        if instruction == "USER":
            args.user = rest.strip()
        elif instruction == "ENTRYPOINT":
            args.entrypoint = json.loads(rest)
        elif instruction == "CMD":
            args.cmd = json.loads(rest)
        elif instruction == "EXPOSE":
            args.expose += rest.split()
        elif instruction == "ENV":
            args.env += re.findall(r'(\w+)=("[^"]*"|\S+)', rest)
        elif instruction == "WORKDIR":
            args.workdir = rest.strip()
        elif instruction == "COPY" and rest.startswith("--from="):
            copy_dest = rest.split()[-1]
        else:
            sys.exit(f"oci_image: {args.dockerfile}: {instruction} is not understood here")
    args.env = [e if isinstance(e, str) else f"{e[0]}={e[1].strip(chr(34))}" for e in args.env]
    if len(args.files) != 1 or copy_dest is None:
        sys.exit("oci_image: --dockerfile takes one SOURCE, for the stage's one COPY --from")
    args.files = [f"{args.files[0]}:{copy_dest}"]


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


class Layer:
    """A tar layer built in memory, entries sorted by path when written."""

    def __init__(self):
        self.entries = {}

    def add_dir(self, dest, mode=0o755, owner=0):
        parts = dest.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            if path not in self.entries:
                self.entries[path] = ("dir", 0o755, 0, None)
        self.entries[dest.strip("/")] = ("dir", mode, owner, None)

    def add_file(self, dest, data, mode):
        parent = os.path.dirname(dest.strip("/"))
        if parent:
            self.add_dir("/" + parent)
        self.entries[dest.strip("/")] = ("file", mode, 0, data)

    def add_host_file(self, source, dest):
        real = os.path.realpath(source)
        with open(real, "rb") as f:
            data = f.read()
        mode = os.stat(real).st_mode & 0o755
        self.add_file(dest, data, mode)

    def tar_bytes(self):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, mode, owner, data = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mtime = 0
                info.uid = info.gid = owner
                info.mode = mode
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                else:
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        return out.getvalue()


def blob(archive, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    add_bytes(archive, "blobs/sha256/" + digest.split(":")[1], data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def add_bytes(archive, path, data):
    info = tarfile.TarInfo(path)
    info.mtime = 0
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="image reference, e.g. tidewatch.local/x:dev")
    parser.add_argument("--output", required=True)
    parser.add_argument("--entrypoint", default="[]", type=json.loads)
    parser.add_argument("--cmd", default="[]", type=json.loads)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--expose", action="append", default=[])
    parser.add_argument("--user", default="65532:65532")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--mkdir", action="append", default=[], help="a directory the user owns")
    parser.add_argument("--dockerfile", help="take the layout from this Dockerfile's last stage")
    parser.add_argument("files", nargs="+", help="SOURCE:DEST")
    args = parser.parse_args()
    if args.dockerfile:
        apply_dockerfile(args)

    uid, gid = (int(x) for x in args.user.split(":"))
    layer = Layer()
    layer.add_file("/etc/passwd", f"root:x:0:0:root:/root:/sbin/nologin\n"
                   f"{USER_NAME}:x:{uid}:{gid}:{USER_NAME}:/home/{USER_NAME}:/sbin/nologin\n".encode(), 0o644)
    layer.add_file("/etc/group", f"root:x:0:\n{USER_NAME}:x:{gid}:\n".encode(), 0o644)
    layer.add_dir("/tmp", mode=0o1777)
    layer.add_dir(f"/home/{USER_NAME}", mode=0o700, owner=uid)
    for d in args.mkdir:
        layer.add_dir(d, mode=0o755, owner=uid)
    if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
        layer.add_host_file("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt")

    for spec in args.files:
        source, _, dest = spec.partition(":")
        if not dest:
            sys.exit(f"oci_image: {spec}: expected SOURCE:DEST")
        layer.add_host_file(source, dest)
        if is_elf(source):
            for lib in shared_libraries(source):
                layer.add_host_file(lib, lib)

    layer_tar = layer.tar_bytes()
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    env = [e for e in args.env]
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, "PATH=" + DEFAULT_PATH)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "User": args.user,
            "Env": env,
            "Entrypoint": args.entrypoint or None,
            "Cmd": args.cmd or None,
            "WorkingDir": args.workdir,
            "ExposedPorts": {f"{p}/tcp": {} for p in args.expose} or None,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config["config"] = {k: v for k, v in config["config"].items() if v is not None}

    tmp = args.output + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as archive:
        add_bytes(archive, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
        layer_desc = blob(archive, layer_tar, "application/vnd.oci.image.layer.v1.tar")
        config_desc = blob(archive, canonical_json(config), "application/vnd.oci.image.config.v1+json")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer_desc],
        }
        manifest_desc = blob(archive, canonical_json(manifest), manifest["mediaType"])
        manifest_desc["annotations"] = {
            "io.containerd.image.name": args.name,
            "org.opencontainers.image.ref.name": args.name.rsplit(":", 1)[-1],
        }
        manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [manifest_desc]}
        add_bytes(archive, "index.json", canonical_json(index))
    os.replace(tmp, args.output)
    print(f"{args.name}: {len(layer_tar) / 1e6:.1f} MB -> {args.output}")


if __name__ == "__main__":
    main()
