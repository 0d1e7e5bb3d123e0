//! `podrt`: run Kubernetes pods from their manifests, with kubectl's verbs.

fn main() {
    podrt_cli::install_panic_hook("podrt");
    // A pod's supervisor or PID 1 re-executing this binary: nothing else to parse.
    if let Some(code) = podrt_cli::roles::dispatch() {
        std::process::exit(code);
    }
    std::process::exit(podrt_cli::pod::main());
}
