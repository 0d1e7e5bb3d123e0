//! Disk use of a directory tree, as the CRI's filesystem usages report it
//! (the image store, a container's writable layer): the blocks allocated and
//! the inodes, counted by walking it, as containerd's snapshotters do.

use std::path::Path;

/// Bytes (allocated blocks) and inodes under `dir`, not following links or
/// crossing into other filesystems' mounts. Unreadable entries count as
/// nothing.
pub(crate) fn tree_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return (0, 0);
    };
    let device = top.dev();
    let mut bytes = top.blocks() * 512;
    let mut inodes = 1;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.dev() != device {
                continue;
            }
            bytes += meta.blocks() * 512;
            inodes += 1;
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    (bytes, inodes)
}
