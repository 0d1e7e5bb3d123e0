//! `podrt`: run Kubernetes pods from their manifests, with kubectl's verbs.

fn main() {
    std::process::exit(podrt_cli::pod::main());
}
