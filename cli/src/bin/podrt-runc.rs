//! `podrt-runc`: podrt's OCI runtime with runc's command line, so containerd,
//! podman/conmon and the OCI validation suite can drive it unchanged.

fn main() {
    podrt_cli::install_panic_hook("podrt-runc");
    std::process::exit(podrt_cli::runc::main());
}
