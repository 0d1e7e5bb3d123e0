//! podrt's `RuntimeDefault` seccomp profile: an allow-list, every other syscall
//! failing with EPERM, as strict as the defaults Docker and containerd ship. It
//! keeps what ordinary programs use (files, memory, processes, signals, time,
//! sockets, SysV and POSIX IPC) and leaves out what reaches past the container:
//! mounts and the new mount API, namespaces (`unshare`, `setns`, and `clone`
//! with a namespace flag), `pivot_root`, `reboot`, `kexec_*`, modules, `bpf`,
//! `perf_event_open`, the keyring, `userfaultfd`, `open_by_handle_at`, swap,
//! `acct`, the clocks, `ptrace` and cross-process memory, `io_uring`, `syslog`,
//! quotas, and old or obscure calls. `clone3` gets ENOSYS, so libcs fall back to
//! `clone`, whose flags the filter can see.
//!
//! Names the machine's syscall table lacks (calls of another architecture, or
//! newer than the table) are skipped by the runtime: they keep the EPERM default.

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

/// Syscalls allowed whatever their arguments.
const ALLOWED: &[&str] = &[
    // Files and descriptors.
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "lseek",
    "_llseek",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "fcntl64",
    "flock",
    "fsync",
    "fdatasync",
    "sync",
    "syncfs",
    "sync_file_range",
    "truncate",
    "ftruncate",
    "truncate64",
    "ftruncate64",
    "fallocate",
    "fadvise64",
    "fadvise64_64",
    "readahead",
    "sendfile",
    "sendfile64",
    "copy_file_range",
    "splice",
    "tee",
    "vmsplice",
    "ioctl",
    "pipe",
    "pipe2",
    "memfd_create",
    "eventfd",
    "eventfd2",
    // File metadata and directories.
    "stat",
    "fstat",
    "lstat",
    "stat64",
    "fstat64",
    "lstat64",
    "newfstatat",
    "fstatat64",
    "statx",
    "statfs",
    "fstatfs",
    "statfs64",
    "fstatfs64",
    "access",
    "faccessat",
    "faccessat2",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "chown32",
    "fchown32",
    "lchown32",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "utimensat_time64",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "mknod",
    "mknodat",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "chroot",
    "umask",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "getxattrat",
    "setxattrat",
    "listxattrat",
    "removexattrat",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "fanotify_mark",
    // Memory.
    "brk",
    "mmap",
    "mmap2",
    "munmap",
    "mremap",
    "mprotect",
    "pkey_mprotect",
    "pkey_alloc",
    "pkey_free",
    "madvise",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "mincore",
    "msync",
    "membarrier",
    "remap_file_pages",
    "mseal",
    "map_shadow_stack",
    "cachestat",
    "get_mempolicy",
    // Processes and threads.
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "waitpid",
    "kill",
    "tkill",
    "tgkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "setpgid",
    "getpgrp",
    "getsid",
    "setsid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getuid32",
    "geteuid32",
    "getgid32",
    "getegid32",
    "setuid",
    "setgid",
    "setuid32",
    "setgid32",
    "setreuid",
    "setregid",
    "setreuid32",
    "setregid32",
    "setresuid",
    "setresgid",
    "setresuid32",
    "setresgid32",
    "getresuid",
    "getresgid",
    "getresuid32",
    "getresgid32",
    "setfsuid",
    "setfsgid",
    "setfsuid32",
    "setfsgid32",
    "getgroups",
    "setgroups",
    "getgroups32",
    "setgroups32",
    "capget",
    "capset",
    "prctl",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "rseq",
    "restart_syscall",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_setparam",
    "sched_getscheduler",
    "sched_setscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_getattr",
    "sched_setattr",
    "getpriority",
    "setpriority",
    "ioprio_get",
    "ioprio_set",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "ugetrlimit",
    "getrusage",
    "times",
    "sysinfo",
    "uname",
    "getcpu",
    "pidfd_open",
    "pidfd_send_signal",
    "process_mrelease",
    "set_thread_area",
    "get_thread_area",
    "seccomp",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "sethostname",
    "setdomainname",
    // Signals.
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigreturn",
    "sigaction",
    "sigprocmask",
    "sigpending",
    "sigsuspend",
    "pause",
    "alarm",
    "getitimer",
    "setitimer",
    // Time (reading it, sleeping, timers; not setting the clocks).
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "clock_gettime64",
    "clock_getres_time64",
    "clock_nanosleep_time64",
    "gettimeofday",
    "time",
    "nanosleep",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "timer_settime64",
    "timer_gettime64",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "timerfd_settime64",
    "timerfd_gettime64",
    // Waiting on descriptors.
    "select",
    "_newselect",
    "pselect6",
    "pselect6_time64",
    "poll",
    "ppoll",
    "ppoll_time64",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_wait",
    "epoll_wait_old",
    "epoll_pwait",
    "epoll_pwait2",
    // Sockets.
    "socket",
    "socketpair",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "send",
    "recv",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "recvmmsg_time64",
    "setsockopt",
    "getsockopt",
    "shutdown",
    "socketcall",
    // SysV and POSIX IPC (the pod's own IPC namespace).
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "ipc",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_timedsend_time64",
    "mq_timedreceive_time64",
    "mq_notify",
    "mq_getsetattr",
    // Asynchronous I/O (not io_uring).
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    // Randomness.
    "getrandom",
];

/// The namespace flags `clone` may not carry: CLONE_NEWNS, NEWCGROUP, NEWUTS,
/// NEWIPC, NEWUSER, NEWPID, NEWNET (CLONE_NEWTIME shares a bit with CSIGNAL and
/// is refused by `clone` itself).
const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// `personality` values allowed (as in Docker's profile): the default, the
/// 32-bit-address one, no-ASLR off or on, and the query.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The profile as an OCI `linux.seccomp` section.
pub(crate) fn profile() -> LinuxSeccomp {
    let mut syscalls = vec![allow(ALLOWED)];
    // clone(flags, ...): flags is argument 0 on x86_64 and aarch64.
    syscalls.push(rule(
        &["clone"],
        LinuxSeccompAction::ScmpActAllow,
        None,
        vec![masked_eq(0, CLONE_NAMESPACE_FLAGS, 0)],
    ));
    for p in PERSONALITIES {
        syscalls.push(rule(
            &["personality"],
            LinuxSeccompAction::ScmpActAllow,
            None,
            vec![eq(0, p)],
        ));
    }
    syscalls.push(rule(
        &["clone3"],
        LinuxSeccompAction::ScmpActErrno,
        Some(libc::ENOSYS as u32),
        Vec::new(),
    ));
    // The builder only fails on missing required fields; defaultAction is set.
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(libc::EPERM as u32)
        .syscalls(syscalls)
        .build()
        .unwrap_or_default()
}

/// Is `name` allowed by the profile without conditions?
#[cfg(test)]
fn allows(name: &str) -> bool {
    ALLOWED.contains(&name)
}

fn allow(names: &[&str]) -> LinuxSyscall {
    rule(names, LinuxSeccompAction::ScmpActAllow, None, Vec::new())
}

fn rule(
    names: &[&str],
    action: LinuxSeccompAction,
    errno: Option<u32>,
    args: Vec<oci_spec::runtime::LinuxSeccompArg>,
) -> LinuxSyscall {
    let mut b = LinuxSyscallBuilder::default()
        .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .action(action);
    if let Some(e) = errno {
        b = b.errno_ret(e);
    }
    if !args.is_empty() {
        b = b.args(args);
    }
    // Names and action are set: the builder cannot fail.
    b.build().unwrap_or_default()
}

fn masked_eq(index: usize, mask: u64, value: u64) -> oci_spec::runtime::LinuxSeccompArg {
    arg(
        index,
        mask,
        Some(value),
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    )
}

fn eq(index: usize, value: u64) -> oci_spec::runtime::LinuxSeccompArg {
    arg(index, value, None, LinuxSeccompOperator::ScmpCmpEq)
}

fn arg(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> oci_spec::runtime::LinuxSeccompArg {
    let mut b = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    if let Some(v) = value_two {
        b = b.value_two(v);
    }
    // Index, value and op are set: the builder cannot fail.
    b.build()
        .unwrap_or_else(|_| oci_spec::runtime::LinuxSeccompArg::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_for_this_machine() {
        let program = podrt_runtime::seccomp::SeccompProgram::compile(&profile())
            .expect("the RuntimeDefault profile compiles");
        assert_eq!(program.filter_count(), 1);
    }

    #[test]
    fn blocks_what_reaches_past_the_container() {
        for name in [
            "mount",
            "umount2",
            "reboot",
            "kexec_load",
            "init_module",
            "finit_module",
            "delete_module",
            "bpf",
            "perf_event_open",
            "keyctl",
            "add_key",
            "request_key",
            "open_by_handle_at",
            "userfaultfd",
            "unshare",
            "setns",
            "pivot_root",
            "swapon",
            "swapoff",
            "acct",
            "settimeofday",
            "clock_settime",
            "ptrace",
            "io_uring_setup",
            "syslog",
            "fsopen",
            "move_mount",
            "clone3",
            "clone",
            "personality",
        ] {
            assert!(!allows(name), "{name} must not be allowed unconditionally");
        }
        for name in [
            "read",
            "openat",
            "execve",
            "futex",
            "socket",
            "getrandom",
            "mknodat",
        ] {
            assert!(allows(name), "{name}");
        }
    }
}
