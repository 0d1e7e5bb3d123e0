//! A user namespace's id mappings as the runtime needs them outside the namespace.
//!
//! When a container enters its user namespace only after its mounts are made (see
//! [`crate::namespaces::LATE_USERNS_ANNOTATION`]), those mounts are made by the host's
//! root, so what they create would belong to the host's uid 0, which the container
//! cannot map. Ownership options (`uid=`/`gid=` of tmpfs and devpts) are therefore
//! translated here from the container's ids to the host ids they map to, so a tmpfs
//! the container gets is owned by its own root, exactly as if it had been mounted
//! inside the namespace.

use oci_spec::runtime::LinuxIdMapping;

use crate::error::{Error, Result};

/// One line of `uid_map`/`gid_map`: `size` ids from `inside` map to `outside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    inside: u32,
    outside: u32,
    size: u32,
}

/// One direction (uids or gids) of a user namespace's mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdMap {
    extents: Vec<Extent>,
}

impl IdMap {
    /// Take `linux.uidMappings` or `linux.gidMappings`.
    pub(crate) fn from_spec(maps: &[LinuxIdMapping]) -> IdMap {
        IdMap {
            extents: maps
                .iter()
                .map(|m| Extent {
                    inside: m.container_id(),
                    outside: m.host_id(),
                    size: m.size(),
                })
                .collect(),
        }
    }

    /// True when no id is mapped.
    pub(crate) fn is_empty(&self) -> bool {
        self.extents.is_empty()
    }

    /// The host id that the container's `id` is, if it is mapped.
    pub(crate) fn to_host(&self, id: u32) -> Option<u32> {
        self.extents.iter().find_map(|e| {
            let offset = id.checked_sub(e.inside)?;
            (offset < e.size).then(|| e.outside + offset)
        })
    }
}

/// Both directions of a user namespace's mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdMaps {
    /// uids.
    pub(crate) uids: IdMap,
    /// gids.
    pub(crate) gids: IdMap,
}

impl IdMaps {
    /// Rewrite the filesystem options of a `tmpfs` or `devpts` mount made by the
    /// host's root for a container in this namespace: `uid=N`/`gid=N` name the
    /// container's ids and become the host ids they map to; a tmpfs without them
    /// gets the container's root as owner. Other filesystems are left alone.
    pub(crate) fn translate_owner(
        &self,
        fstype: &str,
        data: &mut Vec<String>,
        field: &str,
    ) -> Result<()> {
        if fstype != "tmpfs" && fstype != "devpts" {
            return Ok(());
        }
        let (mut has_uid, mut has_gid) = (false, false);
        for opt in data.iter_mut() {
            let Some((key, value)) = opt.split_once('=') else {
                continue;
            };
            let (key, value) = (key.to_string(), value.to_string());
            let (map, which) = match key.as_str() {
                "uid" => (&self.uids, "uid"),
                "gid" => (&self.gids, "gid"),
                _ => continue,
            };
            let id: u32 = value.parse().map_err(|_| {
                Error::spec(
                    format!("{field}.options"),
                    format!("{key}={value}: not a number"),
                )
            })?;
            let host = map.to_host(id).ok_or_else(|| {
                Error::spec(
                    format!("{field}.options"),
                    format!("{which}={id} is not mapped in the container's user namespace"),
                )
            })?;
            *opt = format!("{key}={host}");
            has_uid |= key == "uid";
            has_gid |= key == "gid";
        }
        if fstype == "tmpfs" {
            for (has, map, key) in [(has_uid, &self.uids, "uid"), (has_gid, &self.gids, "gid")] {
                if has {
                    continue;
                }
                let root = map.to_host(0).ok_or_else(|| {
                    Error::spec(
                        "linux.uidMappings",
                        "the container's root (id 0) is not mapped: its tmpfs mounts would have no owner",
                    )
                })?;
                data.push(format!("{key}={root}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    fn maps() -> IdMaps {
        let m = LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(100_000u32)
            .size(65_536u32)
            .build()
            .unwrap();
        IdMaps {
            uids: IdMap::from_spec(std::slice::from_ref(&m)),
            gids: IdMap::from_spec(&[m]),
        }
    }

    #[test]
    fn ids_inside_the_range_map_and_others_do_not() {
        let m = maps();
        assert_eq!(m.uids.to_host(0), Some(100_000));
        assert_eq!(m.uids.to_host(65_535), Some(165_535));
        assert_eq!(m.uids.to_host(65_536), None);
    }

    #[test]
    fn tmpfs_gets_the_containers_root_and_given_ids_are_translated() {
        let m = maps();
        let mut data = vec!["mode=755".to_string()];
        m.translate_owner("tmpfs", &mut data, "mounts[0]").unwrap();
        assert_eq!(data, ["mode=755", "uid=100000", "gid=100000"]);
        let mut data = vec!["gid=5".to_string(), "mode=620".to_string()];
        m.translate_owner("devpts", &mut data, "mounts[1]").unwrap();
        assert_eq!(data, ["gid=100005", "mode=620"]);
        let mut data = vec!["uid=70000".to_string()];
        let err = m
            .translate_owner("tmpfs", &mut data, "mounts[2]")
            .unwrap_err();
        assert!(err.to_string().contains("mounts[2].options"), "{err}");
        let mut data = vec!["uid=1".to_string()];
        m.translate_owner("proc", &mut data, "mounts[3]").unwrap();
        assert_eq!(data, ["uid=1"]);
    }
}
