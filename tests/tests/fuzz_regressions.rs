//! Every input kept from fuzzing run through the fuzz targets' own bodies on
//! stable: none may panic. tests/fuzz/regressions/<target> holds inputs that once
//! crashed podrt, kept after the fix; tests/fuzz/corpus/<target> the seeds; and
//! tests/fuzz/corpus.tar.gz the corpus the fuzzers grew (minimized with
//! `cargo fuzz cmin`), unpacked here into a temporary directory.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use podrt_tests::fuzzing;
use podrt_tests::repo;

/// The unpacked corpus, removed however the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fuzz target's body.
type Body = fn(&[u8]);

fn replay(target: &str, body: Body, grown: &Path) -> usize {
    let mut count = 0;
    let mut panicked = Vec::new();
    let fuzz = repo().join("tests/fuzz");
    for dir in [
        fuzz.join("corpus").join(target),
        fuzz.join("regressions").join(target),
        grown.join(target),
    ] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.file_name().is_some_and(|n| n == ".keep") {
                continue;
            }
            let data = std::fs::read(&path).expect("read a kept input");
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                panicked.push(path.display().to_string());
            }
        }
    }
    assert!(panicked.is_empty(), "{target} panicked on: {panicked:?}");
    count
}

#[test]
fn kept_fuzz_inputs_do_not_panic() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("podrt-fuzz-corpus-{}", std::process::id())));
    let grown = dir.0.clone();
    std::fs::create_dir_all(&grown).unwrap();
    let tarball = repo().join("tests/fuzz/corpus.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&grown)
        .status()
        .expect("run tar");
    assert!(status.success(), "unpacking {}", tarball.display());
    let targets: [(&str, Body); 3] = [
        ("manifest", fuzzing::manifest),
        ("container_spec", fuzzing::container_spec),
        ("cni_result", fuzzing::cni_result),
    ];
    for (name, body) in targets {
        let n = replay(name, body, &grown);
        assert!(n > 100, "only {n} inputs for {name} under tests/fuzz");
        println!("{name}: {n} inputs");
    }
}
