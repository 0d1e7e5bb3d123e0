//! Test helpers shared by the device filter unit tests: building OCI device rules.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// A `linux.resources.devices` entry with the given fields.
pub(super) fn rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: Option<&str>,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow)
        .set_typ(typ)
        .set_major(major)
        .set_minor(minor)
        .set_access(access.map(String::from));
    r
}

/// deny all, allow c 1:3 rw (null), allow c 1:5 r (zero).
pub(super) fn sample_rules() -> Vec<LinuxDeviceCgroup> {
    let c = Some(LinuxDeviceType::C);
    vec![
        rule(false, Some(LinuxDeviceType::A), None, None, Some("rwm")),
        rule(true, c, Some(1), Some(3), Some("rw")),
        rule(true, c, Some(1), Some(5), Some("r")),
    ]
}
