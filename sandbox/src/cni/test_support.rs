//! Test helpers: a self-removing temp dir and fake plugin scripts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A temp dir removed on drop, pass or fail.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("podrt-cni-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn read(&self, name: &str) -> String {
        fs::read_to_string(self.0.join(name)).unwrap_or_default()
    }

    /// A `#!/bin/sh` plugin named `name` running `body`, with `$DIR` set to
    /// this dir.
    pub(crate) fn plugin(&self, name: &str, body: &str) {
        let script = format!("#!/bin/sh\nDIR='{}'\n{body}\n", self.0.display());
        let path = self.write(name, &script);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A plugin that records its stdin as `stdin-$CNI_COMMAND-<name>`, appends
    /// `<name> $CNI_COMMAND` to `order`, and prints `result` on ADD.
    pub(crate) fn recording_plugin(&self, name: &str, result: &str) {
        let body = format!(
            "cat > \"$DIR/stdin-$CNI_COMMAND-{name}\"\n\
             echo \"{name} $CNI_COMMAND\" >> \"$DIR/order\"\n\
             echo \"$CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_PATH\" > \"$DIR/env-{name}\"\n\
             if [ \"$CNI_COMMAND\" = ADD ]; then printf '%s' '{result}'; fi"
        );
        self.plugin(name, &body);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
