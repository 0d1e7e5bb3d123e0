//! The image store as a user meets it: the vendored busybox imported as an OCI
//! layout (directory and tar) and as a docker-archive, found by its short and long
//! names, run from an overlay over its layers, and bad input refused with an error
//! naming the path and nothing left behind, and the store kept apart from the
//! state root (`--image-root`). Needs `vendor-images/build.sh`'s outputs.

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use podrt_sandbox::image::{Error, ImageStore};
use podrt_sandbox::overlay;
use podrt_tests::pods::PodEnv;
use podrt_tests::{repo, require_root, unique};

const BUSYBOX: &str = "docker.io/library/busybox:latest";

/// A private podrt root and its image store; unmounts what the test mounted and
/// removes the root on drop, also when the test fails.
struct Root {
    dir: PathBuf,
    store: ImageStore,
    mounts: RefCell<Vec<PathBuf>>,
}

impl Root {
    fn new() -> Root {
        require_root();
        let dir = std::env::temp_dir().join(unique("podrt-images"));
        fs::create_dir_all(&dir).expect("create test root");
        let store = ImageStore::open(&dir.join("images")).expect("open image store");
        Root {
            dir,
            store,
            mounts: RefCell::default(),
        }
    }

    /// The names of the entries of `images/<sub>`.
    fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.dir.join("images").join(sub))
            .unwrap_or_else(|e| panic!("images/{sub}: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Nothing in the store: no image, layer, config or staging file.
    fn assert_empty(&self, after: &str) {
        assert_eq!(self.store.list().unwrap(), vec![], "no image after {after}");
        for sub in ["layers", "configs", "tmp"] {
            assert_eq!(
                self.entries(sub),
                Vec::<String>::new(),
                "images/{sub} after {after}"
            );
        }
    }

    /// Mount an overlay of `layers` with its own upper/work dirs; returns (rootfs, upper).
    fn overlay(&self, name: &str, layers: &[PathBuf]) -> (PathBuf, PathBuf) {
        let base = self.dir.join(name);
        let (target, upper) = (base.join("rootfs"), base.join("upper"));
        self.mounts.borrow_mut().push(target.clone());
        overlay::mount(layers, &upper, &base.join("work"), &target).expect("mount overlay");
        (target, upper)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        for m in self.mounts.borrow().iter() {
            let _ = overlay::unmount(m);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// An output of `vendor-images/build.sh`.
fn vendored(name: &str) -> PathBuf {
    let p = repo().join("vendor-images/build").join(name);
    assert!(
        p.exists(),
        "{} is missing: run vendor-images/build.sh",
        p.display()
    );
    p
}

/// A copy of a directory tree (regular files only, as image layouts are).
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Flip one byte in the middle of `file`.
fn corrupt(file: &Path) {
    let mut bytes = fs::read(file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(file, bytes).unwrap();
}

/// The single layer blob of the vendored OCI layout, relative to it.
fn layer_blob(layout: &Path) -> PathBuf {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .replace("sha256:", "blobs/sha256/");
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join(manifest)).unwrap()).unwrap();
    PathBuf::from(
        m["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .replace("sha256:", "blobs/sha256/"),
    )
}

#[test]
fn an_oci_layout_directory_imports_under_the_name_given() {
    let root = Root::new();
    let imported = root
        .store
        .import(&vendored("oci-image"), Some("busybox"))
        .unwrap();
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0].name, BUSYBOX);
    assert!(imported[0].id.starts_with("sha256:"), "{:?}", imported[0]);
    assert!(
        imported[0].size > 1_000_000,
        "unpacked size counts bin/busybox: {:?}",
        imported[0]
    );
    assert_eq!(imported[0].created.as_deref(), Some("1970-01-01T00:00:00Z"));
    assert_eq!(root.store.list().unwrap(), imported);

    let image = root.store.resolve("busybox").unwrap();
    assert_eq!(image.layers.len(), 1);
    let bin = fs::metadata(image.layers[0].join("bin/busybox")).expect("layer has bin/busybox");
    assert!(bin.is_file() && bin.permissions().mode() & 0o111 != 0);
    assert_eq!(
        fs::read_link(image.layers[0].join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(image.config.cmd, ["sh"]);
    assert!(
        image.config.env.iter().any(|e| e.starts_with("PATH=")),
        "{:?}",
        image.config
    );
    assert_eq!(image.config.working_dir.as_deref(), Some("/"));
    assert_eq!(
        root.entries("tmp"),
        Vec::<String>::new(),
        "staging is cleaned up"
    );
}

#[test]
fn short_and_long_names_resolve_to_the_same_image() {
    let root = Root::new();
    root.store
        .import(&vendored("oci-image"), Some("busybox"))
        .unwrap();
    let ids: Vec<String> = ["busybox", "busybox:latest", "library/busybox", BUSYBOX]
        .iter()
        .map(|r| {
            root.store
                .resolve(r)
                .unwrap_or_else(|e| panic!("{r}: {e}"))
                .id
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");

    let e = root.store.resolve("alpine").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"alpine\"") && msg.contains("podrt image import"),
        "{msg}"
    );
    let e = root.store.resolve("BusyBox").unwrap_err().to_string();
    assert!(e.contains("\"BusyBox\"") && e.contains("lowercase"), "{e}");
}

#[test]
fn an_oci_layout_whose_name_is_only_a_tag_needs_a_name() {
    let root = Root::new();
    let layout = vendored("oci-image");
    let e = root.store.import(&layout, None).unwrap_err().to_string();
    let want = format!(
        "{}: the image's name is only the tag \"latest\"; give one with --name",
        layout.display()
    );
    assert_eq!(e, want);
    root.assert_empty("a refused import");
}

#[test]
fn the_oci_archive_tar_and_the_directory_share_one_layer() {
    let root = Root::new();
    let from_dir = root
        .store
        .import(&vendored("oci-image"), Some("busybox"))
        .unwrap();
    let from_tar = root
        .store
        .import(&vendored("busybox-oci.tar"), Some("example.com/tools/bb:1"))
        .unwrap();
    assert_eq!(from_tar[0].name, "example.com/tools/bb:1");
    assert_eq!(from_tar[0].id, from_dir[0].id);
    let a = root.store.resolve("busybox").unwrap();
    let b = root.store.resolve("example.com/tools/bb:1").unwrap();
    assert_eq!(a.layers, b.layers, "one unpacked copy of the layer");
    assert_eq!(root.entries("layers").len(), 1);
    assert_eq!(root.entries("configs").len(), 1);
    assert_eq!(root.entries("tmp"), Vec::<String>::new());
}

#[test]
fn a_docker_archive_imports_under_its_repo_tags_as_the_same_image() {
    let root = Root::new();
    let docker = root
        .store
        .import(&vendored("busybox-docker.tar"), None)
        .unwrap();
    assert_eq!(docker.len(), 1);
    assert_eq!(
        docker[0].name, BUSYBOX,
        "RepoTags busybox:latest, normalised"
    );
    let image = root.store.resolve("busybox").unwrap();
    assert!(image.layers[0].join("bin/busybox").is_file());
    assert_eq!(image.config.cmd, ["sh"]);

    // The OCI layout holds the same config and layer: same id, nothing new unpacked.
    let oci = root
        .store
        .import(&vendored("oci-image"), Some("oci/busybox"))
        .unwrap();
    assert_eq!(oci[0].id, docker[0].id);
    assert_eq!(
        root.store.resolve("oci/busybox").unwrap().layers,
        image.layers
    );
    assert_eq!(root.entries("layers").len(), 1);
}

#[test]
fn importing_twice_keeps_one_copy_of_each_layer() {
    let root = Root::new();
    let first = root
        .store
        .import(&vendored("oci-image"), Some("busybox"))
        .unwrap();
    let layer = root.store.resolve("busybox").unwrap().layers[0].clone();
    let marker = fs::metadata(&layer).unwrap();
    let second = root
        .store
        .import(&vendored("busybox-oci.tar"), Some("busybox"))
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(root.store.list().unwrap().len(), 1);
    assert_eq!(root.entries("layers").len(), 1);
    let again = fs::metadata(&layer).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&again),
        std::os::unix::fs::MetadataExt::ino(&marker),
        "the layer was not unpacked again"
    );
}

#[test]
fn an_overlay_over_the_layers_runs_busybox_and_writes_go_to_upper() {
    let root = Root::new();
    root.store
        .import(&vendored("oci-image"), Some("busybox"))
        .unwrap();
    let image = root.store.resolve("busybox").unwrap();
    let (rootfs, upper) = root.overlay("c1", &image.layers);
    assert!(rootfs.join("bin/busybox").is_file());
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        mode(&rootfs),
        mode(&image.layers[0]),
        "`/` has the image's mode"
    );
    assert_eq!(mode(&rootfs.join("tmp")), 0o1777);

    let out = Command::new("chroot")
        .arg(&rootfs)
        .args(["/bin/busybox", "echo", "hello from the image"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from the image"
    );

    fs::write(rootfs.join("hello"), "written in the container").unwrap();
    fs::remove_file(rootfs.join("etc/passwd")).unwrap();
    assert_eq!(
        fs::read_to_string(upper.join("hello")).unwrap(),
        "written in the container"
    );
    assert!(
        fs::symlink_metadata(upper.join("etc/passwd"))
            .unwrap()
            .file_type()
            .is_char_device(),
        "deletion is a whiteout in upper"
    );
    assert!(
        !image.layers[0].join("hello").exists(),
        "the layer is untouched"
    );
    assert!(
        image.layers[0].join("etc/passwd").exists(),
        "the layer is untouched"
    );

    // A second container of the same image sees the layer, not the first one's writes.
    let (other, _) = root.overlay("c2", &image.layers);
    assert!(other.join("etc/passwd").exists() && !other.join("hello").exists());

    overlay::unmount(&rootfs).unwrap();
    assert!(!rootfs.join("bin/busybox").exists(), "unmounted");
    overlay::unmount(&rootfs).expect("unmounting twice is fine");
    overlay::unmount(&root.dir.join("never-mounted")).expect("a missing mount point is fine");
}

#[test]
fn removing_an_image_keeps_layers_other_images_still_use() {
    let root = Root::new();
    root.store
        .import(&vendored("oci-image"), Some("busybox"))
        .unwrap();
    root.store
        .import(&vendored("oci-image"), Some("quay.io/x/bb:2"))
        .unwrap();
    root.store.remove("busybox").unwrap();
    assert!(matches!(
        root.store.resolve("busybox"),
        Err(Error::NotFound { .. })
    ));
    let still = root.store.resolve("quay.io/x/bb:2").unwrap();
    assert!(still.layers[0].join("bin/busybox").is_file());
    let e = root.store.remove("busybox").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    root.store.remove("quay.io/x/bb:2").unwrap();
    root.assert_empty("removing every image");
}

#[test]
fn bad_input_names_the_path_and_leaves_nothing_behind() {
    let root = Root::new();
    let work = root.dir.join("inputs");
    fs::create_dir_all(&work).unwrap();
    let refused = |path: &Path, name: Option<&str>, needles: &[&str]| {
        let e = root
            .store
            .import(path, name)
            .expect_err(&path.display().to_string())
            .to_string();
        eprintln!("refused as expected: {e}");
        assert!(
            e.contains(&path.display().to_string()),
            "names the path: {e}"
        );
        for n in needles {
            assert!(e.contains(n), "mentions {n:?}: {e}");
        }
        root.assert_empty(&e);
    };

    refused(&work.join("no-such-file"), Some("x"), &["No such file"]);

    let empty = work.join("empty-dir");
    fs::create_dir(&empty).unwrap();
    refused(
        &empty,
        Some("x"),
        &["not an OCI image layout", "docker-archive"],
    );

    let text = work.join("notes.txt");
    fs::write(&text, "not an image\n".repeat(100)).unwrap();
    refused(&text, Some("x"), &[]);

    let layout = vendored("oci-image");
    let blob = layer_blob(&layout);
    let bad_layer = work.join("bad-layer");
    copy_dir(&layout, &bad_layer);
    corrupt(&bad_layer.join(&blob));
    refused(&bad_layer, Some("x"), &[blob.to_str().unwrap(), "corrupt"]);

    let missing = work.join("missing-layer");
    copy_dir(&layout, &missing);
    fs::remove_file(missing.join(&blob)).unwrap();
    refused(&missing, Some("x"), &[blob.to_str().unwrap(), "missing"]);

    let bad_index = work.join("bad-index");
    copy_dir(&layout, &bad_index);
    fs::write(bad_index.join("index.json"), "{\"schemaVersion\": 2,").unwrap();
    refused(&bad_index, Some("x"), &["index.json", "line 1"]);

    // A docker-archive (unpacked to a directory) whose layer tar was altered after
    // saving: it still unpacks, but its diff id gives it away before it is installed.
    let docker = work.join("docker");
    fs::create_dir(&docker).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(vendored("busybox-docker.tar"))
        .arg("-C")
        .arg(&docker)
        .status()
        .unwrap();
    assert!(st.success());
    let layer_tar = fs::read_dir(&docker)
        .unwrap()
        .map(|e| e.unwrap().path().join("layer.tar"))
        .find(|p| p.exists())
        .unwrap();
    corrupt(&layer_tar);
    refused(&docker, None, &["layer.tar (uncompressed)", "corrupt"]);

    // After all that, a good import still works.
    root.store.import(&layout, Some("busybox")).unwrap();
}

#[test]
fn concurrent_imports_all_land_in_the_index() {
    let root = Root::new();
    let layout = vendored("oci-image");
    std::thread::scope(|s| {
        for i in 0..4 {
            let (store, layout) = (&root.store, &layout);
            s.spawn(move || store.import(layout, Some(&format!("bb{i}"))).unwrap());
        }
    });
    let names: Vec<String> = root
        .store
        .list()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        (0..4)
            .map(|i| format!("docker.io/library/bb{i}:latest"))
            .collect::<Vec<_>>()
    );
    assert_eq!(root.entries("layers").len(), 1);
    assert_eq!(root.entries("tmp"), Vec::<String>::new());
}

/// `--image-root` puts the store where it says, not under the state root; pods
/// made from it run and stop (their stop signal is read from the image), and
/// the images outlive the state root: a fresh root, as after a reboot empties
/// /run, still has them.
#[test]
fn the_image_store_lives_apart_from_the_state_root_and_outlives_it() {
    let mut env = PodEnv::empty();
    let store = env.dir.join("store");
    env.flags
        .extend(["--image-root".to_string(), store.display().to_string()]);
    let layout = podrt_tests::pods::busybox_layout();
    env.ok(&[
        "image",
        "import",
        layout.to_str().unwrap(),
        "--name",
        "busybox",
    ]);
    assert!(store.join("index.json").is_file(), "no index in the store");
    assert_eq!(fs::read_dir(store.join("layers")).unwrap().count(), 1);
    assert!(
        !env.root.join("images").exists(),
        "the state root got an image store of its own"
    );
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: kept}\nspec:\n  \
               terminationGracePeriodSeconds: 5\n  containers:\n  - name: app\n    \
               image: busybox\n    command: [sh, -c, \"echo up; exec sleep 3600\"]\n";
    env.apply(pod);
    assert_eq!(env.pod_json("kept")["status"]["phase"], "Running");
    env.ok(&["delete", "pod", "kept"]);

    // The state root goes, as /run does at a reboot; the store stays.
    fs::remove_dir_all(&env.root).expect("remove the state root");
    let list = env.ok(&["images"]);
    assert!(list.contains("busybox"), "{list}");
    env.apply(pod);
    assert_eq!(env.pod_json("kept")["status"]["phase"], "Running");
    let check = env.ok(&["check"]);
    let line = check
        .lines()
        .find(|l| l.contains("images"))
        .unwrap_or_else(|| panic!("no images line in podrt check: {check}"));
    assert!(line.contains(store.to_str().unwrap()), "{line}");
}
