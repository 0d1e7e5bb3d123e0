//! Every input kept from fuzzing (tests/fuzz/regressions/<target>: inputs that
//! once crashed podrt, kept after the fix; tests/fuzz/corpus/<target>: the seed
//! corpus) run through the fuzz targets' own bodies on stable: none may panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use podrt_tests::fuzzing;
use podrt_tests::repo;

/// A fuzz target's body.
type Body = fn(&[u8]);

fn replay(target: &str, body: Body) -> usize {
    let mut count = 0;
    let mut panicked = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = repo().join("tests/fuzz").join(kind).join(target);
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
    let targets: [(&str, Body); 3] = [
        ("manifest", fuzzing::manifest),
        ("container_spec", fuzzing::container_spec),
        ("cni_result", fuzzing::cni_result),
    ];
    for (name, body) in targets {
        let n = replay(name, body);
        assert!(n > 0, "no inputs for {name} under tests/fuzz");
        println!("{name}: {n} inputs");
    }
    assert!(Path::new(&repo().join("tests/fuzz/Cargo.toml")).exists());
}
