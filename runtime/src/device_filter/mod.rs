//! Device access control on cgroup v2: `linux.resources.devices` compiled to an eBPF
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE` and attached to the container's cgroup.
//!
//! cgroup v2 has no devices controller and `cgroups-rs` has no substitute, so this
//! module assembles the few instructions it needs itself and talks to `bpf(2)`
//! directly. It neither chooses the rules (see [`crate::cgroups::effective_resources`])
//! nor creates the cgroup; it only compiles, loads and attaches.
//!
//! Program layout (`r1` holds `struct bpf_cgroup_dev_ctx *` on entry):
//!
//! ```text
//! prologue (6)   r2 = ctx->access_type & 0xffff    device type: 1 block, 2 char
//!                r3 = ctx->access_type >> 16       requested access: 1 mknod, 2 read, 4 write
//!                r4 = ctx->major;  r5 = ctx->minor
//! one block per rule, last rule first; each test jumps past its block on mismatch:
//!                if r2 != TYPE goto next            unless type is "a"
//!                if r3 & ~ACCESS goto next          unless access is "rwm"
//!                if r4 != MAJOR goto next           unless major is a wildcard
//!                if r5 != MINOR goto next           unless minor is a wildcard
//!                r0 = ALLOW; exit
//! epilogue (2)   r0 = 0; exit                       no rule matched: deny
//! ```
//!
//! A block with no tests matches everything, so the rules before it and the epilogue
//! are not emitted: they could never run, and the verifier rejects unreachable code.

use std::ffi::CStr;
use std::fs::OpenOptions;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

// bpf(2) commands, program type, attach type and flag (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

// Values in `struct bpf_cgroup_dev_ctx`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: u8 = 1;
const ACC_READ: u8 = 2;
const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Field offsets in `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

// Registers.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

// Opcodes: instruction class | operation | operand source.
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
const ALU64_AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const ALU64_RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto +off
const JMP_JSET_K: u8 = 0x45; // BPF_JMP | BPF_JSET | BPF_K: if dst & imm goto +off
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// The license the kernel records for the program; no GPL-only helper is used.
const LICENSE: &CStr = c"Apache-2.0";
/// Shown by `bpftool prog`; at most 15 bytes of `[A-Za-z0-9_.]` plus the NUL.
const PROG_NAME: [u8; 16] = *b"podrt_devices\0\0\0";
/// Verifier log size on the diagnostic retry; a failing log of this filter is short.
const LOG_SIZE: u32 = 256 * 1024;

/// One instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u8,
    /// Destination register in the low nibble, source register in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
}

/// A compiled device filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFilter {
    insns: Vec<Insn>,
}

/// Why a device filter could not be compiled, loaded or attached.
#[derive(Debug, thiserror::Error)]
pub enum DeviceFilterError {
    /// A rule the filter cannot express.
    #[error("invalid spec: linux.resources.devices[{index}].{field}: {message}")]
    InvalidRule {
        /// Position of the rule in `linux.resources.devices`.
        index: usize,
        /// The rule's field at fault (`type`, `major`, `minor`, `access`).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// More instructions than `bpf(2)` can describe.
    #[error("device filter needs {insns} instructions: too many device rules")]
    TooLarge {
        /// Instructions the rules compiled to.
        insns: usize,
    },
    /// `BPF_PROG_LOAD` refused the program.
    #[error(
        "loading the cgroup device filter ({insns} instructions) failed: {source}{}{}",
        load_hint(.source, .log),
        show_log(.log)
    )]
    Load {
        /// Instructions in the program.
        insns: usize,
        /// The errno of the first attempt.
        source: io::Error,
        /// The verifier's log from a second attempt, possibly truncated or empty.
        log: String,
    },
    /// The cgroup directory could not be opened.
    #[error("cannot open cgroup directory {}: {source}", .path.display())]
    OpenCgroup {
        /// The cgroup v2 directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// `BPF_PROG_ATTACH` refused to attach the program to the cgroup.
    #[error(
        "attaching the device filter to cgroup {} failed: {source}{}",
        .path.display(),
        attach_hint(.source)
    )]
    Attach {
        /// The cgroup v2 directory.
        path: PathBuf,
        /// The underlying errno.
        source: io::Error,
    },
}

fn load_hint(err: &io::Error, log: &str) -> &'static str {
    match err.raw_os_error() {
        // The verifier's log, shown after the hint, says what it rejected.
        _ if !log.is_empty() => "",
        Some(libc::EPERM) => {
            " (needs CAP_SYS_ADMIN or CAP_BPF; before Linux 5.11 RLIMIT_MEMLOCK must also cover the program)"
        }
        Some(libc::EINVAL) => " (does the kernel have CONFIG_CGROUP_BPF?)",
        _ => "",
    }
}

fn attach_hint(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EBADF) => " (is the directory in a cgroup2 mount?)",
        Some(libc::EPERM) => {
            " (needs CAP_NET_ADMIN or CAP_SYS_ADMIN, and no program may be attached there without BPF_F_ALLOW_MULTI)"
        }
        _ => "",
    }
}

fn show_log(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("\nverifier log:\n{log}")
    }
}

/// One rule, validated: `None` is a wildcard.
#[derive(Debug, Clone, Copy)]
struct Rule {
    allow: bool,
    typ: Option<i32>,
    major: Option<u32>,
    minor: Option<u32>,
    access: u8,
}

impl Rule {
    fn parse(index: usize, rule: &LinuxDeviceCgroup) -> Result<Rule, DeviceFilterError> {
        let invalid = |field, message: String| DeviceFilterError::InvalidRule {
            index,
            field,
            message,
        };
        let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C => Some(DEV_CHAR),
            other => {
                return Err(invalid(
                    "type",
                    format!(
                        "{:?} is not a cgroup device type: use \"a\", \"b\" or \"c\"",
                        other.as_str()
                    ),
                ))
            }
        };
        let number = |field, value: Option<i64>| match value {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                invalid(
                    field,
                    format!("{n} is out of range: use 0 to {} or -1 for any", u32::MAX),
                )
            }),
        };
        let major = number("major", rule.major())?;
        let minor = number("minor", rule.minor())?;
        let access = match rule.access().as_deref() {
            None => ACC_ALL,
            Some(letters) => {
                let mut bits = 0;
                for c in letters.chars() {
                    bits |= match c {
                        'r' => ACC_READ,
                        'w' => ACC_WRITE,
                        'm' => ACC_MKNOD,
                        _ => {
                            return Err(invalid(
                                "access",
                                format!("{letters:?} has {c:?}: use letters from \"rwm\""),
                            ))
                        }
                    };
                }
                bits
            }
        };
        Ok(Rule {
            allow: rule.allow(),
            typ,
            major,
            minor,
            access,
        })
    }

    /// The tests a request must pass for this rule to decide it, offsets not yet set.
    fn tests(&self) -> Vec<Insn> {
        let mut tests = Vec::with_capacity(4);
        if let Some(typ) = self.typ {
            tests.push(Insn::new(JMP_JNE_K, R2, 0, 0, typ));
        }
        if self.access != ACC_ALL {
            // Any requested bit outside the rule's access means no match.
            tests.push(Insn::new(
                JMP_JSET_K,
                R3,
                0,
                0,
                i32::from(ACC_ALL & !self.access),
            ));
        }
        // JNE compares all 64 bits against the sign-extended immediate, so a number
        // above i32::MAX never matches; the kernel's majors (12 bits) and minors
        // (20 bits) never reach it, so that is the right answer.
        if let Some(major) = self.major {
            tests.push(Insn::new(JMP_JNE_K, R4, 0, 0, major as i32));
        }
        if let Some(minor) = self.minor {
            tests.push(Insn::new(JMP_JNE_K, R5, 0, 0, minor as i32));
        }
        tests
    }
}

fn verdict(allow: bool) -> [Insn; 2] {
    [
        Insn::new(ALU64_MOV_K, R0, 0, 0, i32::from(allow)),
        Insn::new(JMP_EXIT, 0, 0, 0, 0),
    ]
}

impl DeviceFilter {
    /// Compile OCI device rules (`linux.resources.devices`, in order). Later rules
    /// override earlier ones, as in cgroup v1; a request no rule matches is denied.
    pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<DeviceFilter, DeviceFilterError> {
        // Every rule is validated, even one a later wildcard makes unreachable, so a
        // typo is reported wherever it is.
        let rules = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| Rule::parse(index, rule))
            .collect::<Result<Vec<_>, _>>()?;
        let mut insns = vec![
            Insn::new(LDX_MEM_W, R2, R1, CTX_ACCESS_TYPE, 0),
            Insn::new(ALU64_AND_K, R2, 0, 0, 0xffff),
            Insn::new(LDX_MEM_W, R3, R1, CTX_ACCESS_TYPE, 0),
            Insn::new(ALU64_RSH_K, R3, 0, 0, 16),
            Insn::new(LDX_MEM_W, R4, R1, CTX_MAJOR, 0),
            Insn::new(LDX_MEM_W, R5, R1, CTX_MINOR, 0),
        ];
        for rule in rules.iter().rev() {
            if rule.access == 0 {
                // `"access": ""` matches no request (each asks for at least one bit).
                continue;
            }
            let mut tests = rule.tests();
            let block_len = tests.len() + 2;
            for (i, test) in tests.iter_mut().enumerate() {
                // Jump targets are relative to the next instruction: skip the rest of
                // the block. A block is at most 6 instructions, so this fits an i16.
                test.off = (block_len - i - 1) as i16;
            }
            let unconditional = tests.is_empty();
            insns.extend(tests);
            insns.extend(verdict(rule.allow));
            if unconditional {
                return DeviceFilter::checked(insns);
            }
        }
        insns.extend(verdict(false));
        DeviceFilter::checked(insns)
    }

    fn checked(insns: Vec<Insn>) -> Result<DeviceFilter, DeviceFilterError> {
        if u32::try_from(insns.len()).is_err() {
            return Err(DeviceFilterError::TooLarge { insns: insns.len() });
        }
        Ok(DeviceFilter { insns })
    }

    /// Number of instructions (tests/diagnostics).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether the program has no instructions; a compiled filter never is empty.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Load the program and attach it to the cgroup v2 directory `cgroup_dir` as a
    /// `BPF_CGROUP_DEVICE` program with `BPF_F_ALLOW_MULTI`. The attachment outlives
    /// our descriptors and ends with the cgroup. Attaching is additive: a program
    /// attached earlier (here or on an ancestor) still applies, and a request must
    /// pass all of them.
    pub fn attach(&self, cgroup_dir: &Path) -> Result<(), DeviceFilterError> {
        // Opened first: a wrong path is cheaper to report before a program load.
        let cgroup = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(cgroup_dir)
            .map_err(|source| DeviceFilterError::OpenCgroup {
                path: cgroup_dir.to_path_buf(),
                source,
            })?;
        let prog = self.load()?;
        let mut attr = BpfAttr::zeroed();
        // Descriptors of open files are never negative.
        attr.attach = ProgAttachAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: BPF_F_ALLOW_MULTI,
            replace_bpf_fd: 0,
        };
        bpf(BPF_PROG_ATTACH, &mut attr).map_err(|source| DeviceFilterError::Attach {
            path: cgroup_dir.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    /// `BPF_PROG_LOAD`; on failure, once more with a verifier log for the error.
    fn load(&self) -> Result<OwnedFd, DeviceFilterError> {
        let first = match prog_load(&self.insns, None) {
            Ok(fd) => return Ok(fd),
            Err(err) => err,
        };
        let mut buf = vec![0u8; LOG_SIZE as usize];
        let retry = prog_load(&self.insns, Some(&mut buf));
        if let Ok(fd) = retry {
            return Ok(fd);
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let mut log = String::from_utf8_lossy(&buf[..end]).trim_end().to_string();
        if matches!(&retry, Err(e) if e.raw_os_error() == Some(libc::ENOSPC)) {
            log.push_str("\n(log truncated)");
        }
        Err(DeviceFilterError::Load {
            insns: self.insns.len(),
            source: first,
            log,
        })
    }
}

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to `prog_name`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Size of `union bpf_attr` in Linux 6.x headers. Older kernels accept a larger
/// attr as long as the bytes they do not know are zero, which ours are.
const ATTR_SIZE: usize = 144;

/// `union bpf_attr`, restricted to the commands used here.
#[repr(C, align(8))]
union BpfAttr {
    load: ProgLoadAttr,
    attach: ProgAttachAttr,
    bytes: [u8; ATTR_SIZE],
}

// The layouts the kernel expects; a mistake here would be a silent misreading.
const _: () = assert!(size_of::<Insn>() == 8);
const _: () = assert!(size_of::<BpfAttr>() == ATTR_SIZE);
const _: () = assert!(size_of::<ProgLoadAttr>() == 64);
const _: () = assert!(std::mem::offset_of!(ProgLoadAttr, prog_name) == 48);
const _: () = assert!(size_of::<ProgAttachAttr>() == 20);

impl BpfAttr {
    /// All zero: the kernel rejects non-zero bytes in fields a command does not use.
    fn zeroed() -> BpfAttr {
        BpfAttr {
            bytes: [0; ATTR_SIZE],
        }
    }
}

fn prog_load(insns: &[Insn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let insn_cnt =
        u32::try_from(insns.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let (log_level, log_size, log_buf) = match log {
        // The caller's buffer is LOG_SIZE long.
        Some(buf) => (
            1,
            buf.len().min(LOG_SIZE as usize) as u32,
            buf.as_mut_ptr() as u64,
        ),
        None => (0, 0, 0),
    };
    let mut attr = BpfAttr::zeroed();
    attr.load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name: PROG_NAME,
    };
    let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bpf(cmd, attr, sizeof(attr))`, returning the non-negative result.
fn bpf(cmd: libc::c_int, attr: &mut BpfAttr) -> io::Result<libc::c_int> {
    // SAFETY: `attr` is a fully initialised union of the size passed. The pointers
    // in it (instructions, license, log buffer) are borrowed by our caller for the
    // whole call, and the kernel writes only within `attr` and the log buffer, whose
    // length it was given.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut BpfAttr,
            ATTR_SIZE as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    libc::c_int::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::ffi::CString;

    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::Pid;

    fn rule(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        minor: Option<i64>,
        access: Option<&str>,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow)
            .set_typ(typ)
            .set_major(major)
            .set_minor(minor)
            .set_access(access.map(String::from));
        r
    }

    /// deny all, allow c 1:3 rw (null), allow c 1:5 r (zero).
    fn sample_rules() -> Vec<LinuxDeviceCgroup> {
        let c = Some(LinuxDeviceType::C);
        vec![
            rule(false, Some(LinuxDeviceType::A), None, None, Some("rwm")),
            rule(true, c, Some(1), Some(3), Some("rw")),
            rule(true, c, Some(1), Some(5), Some("r")),
        ]
    }

    /// Runs the program on a context the way the kernel would, for the opcodes
    /// `compile` emits.
    fn run(filter: &DeviceFilter, typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut reg = [0u64; 11];
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let insn = filter.insns[pc];
            let (dst, src) = ((insn.regs & 0x0f) as usize, (insn.regs >> 4) as usize);
            let imm = insn.imm as i64 as u64;
            pc += 1;
            match insn.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads read the context in r1");
                    reg[dst] = u64::from(ctx[insn.off as usize / 4]);
                }
                ALU64_AND_K => reg[dst] &= imm,
                ALU64_RSH_K => reg[dst] >>= imm,
                ALU64_MOV_K => reg[dst] = imm,
                JMP_JNE_K if reg[dst] != imm => pc = (pc as isize + insn.off as isize) as usize,
                JMP_JSET_K if reg[dst] & imm != 0 => {
                    pc = (pc as isize + insn.off as isize) as usize
                }
                JMP_JNE_K | JMP_JSET_K => {}
                JMP_EXIT => return reg[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
        panic!("program did not exit");
    }

    const CHAR: u32 = DEV_CHAR as u32;
    const BLOCK: u32 = DEV_BLOCK as u32;
    const R: u32 = ACC_READ as u32;
    const W: u32 = ACC_WRITE as u32;
    const M: u32 = ACC_MKNOD as u32;

    #[test]
    fn instruction_encoding_matches_struct_bpf_insn() {
        let ld = Insn::new(LDX_MEM_W, R2, R1, 4, 0);
        assert_eq!(ld.regs, 0x12, "dst in the low nibble, src in the high");
        assert_eq!(size_of::<Insn>(), 8);
    }

    #[test]
    fn sample_rules_compile_to_three_blocks() {
        let f = DeviceFilter::compile(&sample_rules()).unwrap();
        // prologue 6 + zero (4 tests + 2) + null (4 tests + 2) + unconditional deny 2.
        assert_eq!(f.len(), 20);
        assert!(!f.is_empty());
        assert_eq!(&f.insns[18..], &verdict(false));
    }

    #[test]
    fn sample_rules_decide_like_cgroup_v1() {
        let f = DeviceFilter::compile(&sample_rules()).unwrap();
        assert_eq!(run(&f, CHAR, R | W, 1, 3), 1, "null rw");
        assert_eq!(run(&f, CHAR, M, 1, 3), 0, "null mknod");
        assert_eq!(run(&f, CHAR, R, 1, 5), 1, "zero r");
        assert_eq!(run(&f, CHAR, W, 1, 5), 0, "zero w");
        assert_eq!(run(&f, CHAR, R, 1, 7), 0, "full r");
        assert_eq!(run(&f, BLOCK, R, 1, 3), 0, "block 1:3");
    }

    #[test]
    fn no_rules_deny_everything() {
        let f = DeviceFilter::compile(&[]).unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(run(&f, CHAR, R, 1, 3), 0);
    }

    #[test]
    fn wildcards_emit_no_tests() {
        let c = Some(LinuxDeviceType::C);
        // Type only: -1 and a missing number are both wildcards.
        let f = DeviceFilter::compile(&[rule(true, c, Some(-1), None, Some("rwm"))]).unwrap();
        assert_eq!(f.len(), 6 + 3 + 2);
        assert_eq!(run(&f, CHAR, R | W | M, 200, 9), 1);
        assert_eq!(run(&f, BLOCK, R, 8, 0), 0);
        // Missing type and access mean "a" and "rwm": matches everything.
        let f = DeviceFilter::compile(&[rule(true, None, None, None, None)]).unwrap();
        assert_eq!(f.len(), 6 + 2);
        assert_eq!(run(&f, BLOCK, R | W | M, 8, 0), 1);
        // Any major 136 (pts), read only.
        let f = DeviceFilter::compile(&[rule(true, c, Some(136), None, Some("r"))]).unwrap();
        assert_eq!(f.len(), 6 + 5 + 2);
        assert_eq!(run(&f, CHAR, R, 136, 4), 1);
        assert_eq!(run(&f, CHAR, R | W, 136, 4), 0);
        assert_eq!(run(&f, CHAR, R, 137, 4), 0);
    }

    #[test]
    fn later_rules_override_earlier_ones() {
        let c = Some(LinuxDeviceType::C);
        let rules = [
            rule(true, c, Some(1), None, Some("rwm")),
            rule(false, c, Some(1), Some(7), Some("w")),
        ];
        let f = DeviceFilter::compile(&rules).unwrap();
        assert_eq!(run(&f, CHAR, R, 1, 7), 1);
        assert_eq!(run(&f, CHAR, W, 1, 7), 0);
        assert_eq!(run(&f, CHAR, W, 1, 8), 1);
    }

    #[test]
    fn an_unconditional_rule_hides_earlier_ones() {
        let rules = [
            rule(false, Some(LinuxDeviceType::C), Some(1), Some(3), None),
            rule(
                true,
                Some(LinuxDeviceType::A),
                Some(-1),
                Some(-1),
                Some("mwr"),
            ),
        ];
        let f = DeviceFilter::compile(&rules).unwrap();
        assert_eq!(f.len(), 8, "no block for the hidden rule, no epilogue");
        assert_eq!(run(&f, CHAR, R, 1, 3), 1);
    }

    #[test]
    fn empty_access_matches_nothing() {
        let f = DeviceFilter::compile(&[rule(true, None, None, None, Some(""))]).unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(run(&f, CHAR, R, 1, 3), 0);
    }

    #[test]
    fn invalid_rules_name_their_index() {
        let mut rules = sample_rules();
        rules.push(rule(true, Some(LinuxDeviceType::U), None, None, None));
        let err = DeviceFilter::compile(&rules).unwrap_err();
        assert!(matches!(
            err,
            DeviceFilterError::InvalidRule {
                index: 3,
                field: "type",
                ..
            }
        ));
        assert!(
            err.to_string().contains("linux.resources.devices[3].type"),
            "{err}"
        );

        rules[3] = rule(true, None, None, None, Some("rwx"));
        let err = DeviceFilter::compile(&rules).unwrap_err().to_string();
        assert!(
            err.contains("linux.resources.devices[3].access") && err.contains("'x'"),
            "{err}"
        );

        rules[3] = rule(true, None, Some(-2), None, None);
        let err = DeviceFilter::compile(&rules).unwrap_err().to_string();
        assert!(err.contains("linux.resources.devices[3].major"), "{err}");

        rules[3] = rule(true, None, None, Some(1 << 32), None);
        let err = DeviceFilter::compile(&rules).unwrap_err().to_string();
        assert!(err.contains("linux.resources.devices[3].minor"), "{err}");

        // Rules hidden behind an unconditional one are still validated.
        rules.push(rule(true, None, None, None, None));
        rules[1] = rule(true, Some(LinuxDeviceType::P), None, None, None);
        let err = DeviceFilter::compile(&rules).unwrap_err().to_string();
        assert!(err.contains("linux.resources.devices[1].type"), "{err}");
    }

    #[test]
    fn a_rejected_program_reports_the_verifier_log() {
        let mut f = DeviceFilter::compile(&sample_rules()).unwrap();
        f.insns.pop(); // no final exit
        let err = f.load().unwrap_err();
        let DeviceFilterError::Load { log, .. } = &err else {
            panic!("expected a load error, got {err}");
        };
        assert!(!log.is_empty(), "no verifier log in {err}");
        assert!(err.to_string().contains("verifier log:"), "{err}");
    }

    #[test]
    fn attach_to_a_missing_directory_names_it() {
        let f = DeviceFilter::compile(&sample_rules()).unwrap();
        let err = f
            .attach(Path::new("/nonexistent/podrt-cgroup"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/podrt-cgroup"), "{err}");
    }

    /// The cgroup2 mount: `unified` in the hybrid layout, else the root on pure v2.
    fn cgroup2_root() -> &'static str {
        for dir in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            if statfs(dir).is_ok_and(|st| st.filesystem_type() == CGROUP2_SUPER_MAGIC) {
                return dir;
            }
        }
        panic!("neither /sys/fs/cgroup/unified nor /sys/fs/cgroup is a cgroup2 mount: this test needs cgroup v2 (hybrid or unified)");
    }

    /// Kills and reaps the child if the test failed before it did, then removes the
    /// cgroup (which also detaches the filter).
    struct CgroupGuard {
        dir: PathBuf,
        child: Option<libc::pid_t>,
    }

    impl Drop for CgroupGuard {
        fn drop(&mut self) {
            if let Some(pid) = self.child.take() {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
                let _ = waitpid(Pid::from_raw(pid), None);
            }
            for _ in 0..100 {
                match std::fs::remove_dir(&self.dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(10))
                    }
                    _ => return,
                }
            }
        }
    }

    /// What the child saw for one open: 0 opened, 1 EPERM, 2 another error. Two
    /// bits per probe in the exit code; 255 (never a valid set of slots) means the
    /// child could not join the cgroup.
    const OPENED: i32 = 0;
    const EPERM: i32 = 1;
    const JOIN_FAILED: i32 = 255;

    /// Runs in the forked child: only async-signal-safe calls on prepared data.
    fn probe_in_child(procs: &CStr, probes: &[(&CStr, libc::c_int, &str, i32)]) -> ! {
        let mut digits = [0u8; 12];
        // SAFETY: getpid has no preconditions.
        let mut pid = unsafe { libc::getpid() } as u32;
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (pid % 10) as u8;
            pid /= 10;
            if pid == 0 {
                break;
            }
        }
        let pid_text = &digits[start..];
        // SAFETY: `procs` is a NUL-terminated path.
        let fd = unsafe { libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        let written = if fd < 0 {
            -1
        } else {
            // SAFETY: `pid_text` is a live buffer of the given length; fd is ours.
            unsafe { libc::write(fd, pid_text.as_ptr().cast(), pid_text.len()) }
        };
        if written != pid_text.len() as isize {
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(JOIN_FAILED) };
        }
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        let mut code = 0;
        for (i, (path, flags, _, _)) in probes.iter().enumerate() {
            // SAFETY: `path` is a NUL-terminated path.
            let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
            let outcome = if fd >= 0 {
                // SAFETY: fd was just opened by us.
                unsafe { libc::close(fd) };
                OPENED
            } else if io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
                EPERM
            } else {
                2
            };
            code |= outcome << (2 * i);
        }
        // SAFETY: as above.
        unsafe { libc::_exit(code) }
    }

    #[test]
    fn attached_filter_restricts_a_real_cgroup() {
        let root = cgroup2_root();
        let dir = PathBuf::from(format!(
            "{root}/podrt-devfilter-test-{}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let mut guard = CgroupGuard {
            dir: dir.clone(),
            child: None,
        };

        let filter = DeviceFilter::compile(&sample_rules()).unwrap();
        filter.attach(&dir).unwrap_or_else(|e| panic!("{e}"));

        let procs = CString::new(format!("{}/cgroup.procs", dir.display())).unwrap();
        let (null, zero, full) = (c"/dev/null", c"/dev/zero", c"/dev/full");
        let probes = [
            (null, libc::O_RDWR, "open /dev/null O_RDWR", OPENED),
            (zero, libc::O_RDONLY, "open /dev/zero O_RDONLY", OPENED),
            (zero, libc::O_WRONLY, "open /dev/zero O_WRONLY", EPERM),
            (full, libc::O_RDONLY, "open /dev/full O_RDONLY", EPERM),
        ];

        // SAFETY: the child runs only probe_in_child, which makes async-signal-safe
        // calls on data prepared above and ends in _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            probe_in_child(&procs, &probes);
        }
        guard.child = Some(pid);
        let status = waitpid(Pid::from_raw(pid), None).unwrap();
        guard.child = None;

        let code = match status {
            WaitStatus::Exited(_, code) => code,
            other => panic!("probe child did not exit normally: {other:?}"),
        };
        assert_ne!(
            code, JOIN_FAILED,
            "the child could not write its pid to {procs:?}"
        );
        let names = ["opened", "EPERM", "another error"];
        let mut failures = Vec::new();
        for (i, (_, _, what, expected)) in probes.iter().enumerate() {
            let got = (code >> (2 * i)) & 3;
            if got != *expected {
                failures.push(format!(
                    "{what}: expected {}, got {}",
                    names[*expected as usize], names[got as usize]
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "inside the filtered cgroup: {}",
            failures.join("; ")
        );

        // The filter binds only the cgroup: this process, outside it, is unaffected.
        std::fs::File::open("/dev/full").expect("/dev/full outside the cgroup");
        drop(guard);
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}
