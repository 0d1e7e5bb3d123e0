//! What `privileged: true` adds to a container's spec, as runc and crun users
//! know it from containerd and CRI-O: the host's devices in its `/dev` and a
//! device cgroup that allows every device, `/sys` and the cgroup filesystem
//! writable, and no masked or read-only `/proc` paths. (Every capability and no
//! seccomp filter are decided with the rest of the context.)

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, Spec,
};

/// Directories of `/dev` whose nodes are the container's own, not the host's.
const SKIPPED: [&str; 5] = [
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/dev/fd",
    "/dev/console",
];

/// Make `spec` privileged.
pub(crate) fn apply(spec: &mut Spec) {
    if let Some(mounts) = spec.mounts().clone() {
        let writable = mounts
            .into_iter()
            .map(|mut m| {
                let kind = m.typ().clone().unwrap_or_default();
                if kind == "sysfs" || kind == "cgroup" || kind == "cgroup2" {
                    let options: Vec<String> = m
                        .options()
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|o| o != "ro")
                        .collect();
                    m.set_options(Some(options));
                }
                m
            })
            .collect();
        spec.set_mounts(Some(writable));
    }
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_masked_paths(Some(Vec::new()));
    linux.set_readonly_paths(Some(Vec::new()));
    linux.set_devices(Some(host_devices(Path::new("/dev"))));
    let mut resources = linux.resources().clone().unwrap_or_default();
    if let Ok(all) = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .access("rwm")
        .build()
    {
        resources.set_devices(Some(vec![all]));
    }
    linux.set_resources(Some(resources));
    spec.set_linux(Some(linux));
}

/// Every character and block device below `dir` (the host's `/dev`), as spec
/// devices at the same paths, with the host's owner and mode.
pub(crate) fn host_devices(dir: &Path) -> Vec<LinuxDevice> {
    let mut out = Vec::new();
    collect(dir, &mut out);
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out
}

fn collect(dir: &Path, out: &mut Vec<LinuxDevice>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if SKIPPED.iter().any(|s| path == Path::new(s)) {
            continue;
        }
        // symlink_metadata: a link to a device is not the device.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            collect(&path, out);
            continue;
        }
        let typ = if ft.is_char_device() {
            LinuxDeviceType::C
        } else if ft.is_block_device() {
            LinuxDeviceType::B
        } else {
            continue;
        };
        let rdev = meta.rdev();
        let device = LinuxDeviceBuilder::default()
            .path(path.clone())
            .typ(typ)
            .major(libc::major(rdev) as i64)
            .minor(libc::minor(rdev) as i64)
            .file_mode(meta.mode() & 0o7777)
            .uid(meta.uid())
            .gid(meta.gid())
            .build();
        if let Ok(d) = device {
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_spec_has_host_devices_and_no_masks() {
        let mut spec = Spec::default();
        apply(&mut spec);
        let linux = spec.linux().clone().unwrap();
        assert!(linux.masked_paths().as_ref().unwrap().is_empty());
        assert!(linux.readonly_paths().as_ref().unwrap().is_empty());
        let devices = linux.devices().clone().unwrap();
        assert!(
            devices.iter().any(|d| d.path() == Path::new("/dev/null")),
            "host /dev/null is among {} devices",
            devices.len()
        );
        assert!(!devices.iter().any(|d| d.path().starts_with("/dev/pts")));
        let sys = spec
            .mounts()
            .clone()
            .unwrap()
            .into_iter()
            .find(|m| m.destination() == Path::new("/sys"))
            .unwrap();
        assert!(!sys.options().clone().unwrap().contains(&"ro".to_string()));
    }
}
