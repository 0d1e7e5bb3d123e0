//! `podrt-runc`: podrt's OCI runtime with runc's command line, so containerd,
//! podman/conmon and the OCI validation suite can drive it unchanged.

fn main() {
    std::process::exit(podrt_cli::runc::main());
}
