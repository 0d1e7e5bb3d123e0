//! Rule compilation: `linux.resources.devices` to the instructions of a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program. Every rule is validated and a bad one is
//! reported by its index and field.
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

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::bpf::{
    Insn, ALU64_AND_K, ALU64_MOV_K, ALU64_RSH_K, JMP_EXIT, JMP_JNE_K, JMP_JSET_K, LDX_MEM_W, R0,
    R1, R2, R3, R4, R5,
};
use super::{DeviceFilter, DeviceFilterError};

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

/// The two instructions that end the program: return `allow` (1) or deny (0).
fn verdict(allow: bool) -> [Insn; 2] {
    [
        Insn::new(ALU64_MOV_K, R0, 0, 0, i32::from(allow)),
        Insn::new(JMP_EXIT, 0, 0, 0, 0),
    ]
}

impl DeviceFilter {
    /// Compile OCI device rules (`linux.resources.devices`, in order). Later rules
    /// override earlier ones, as in cgroup v1; a request no rule matches is denied.
    pub(crate) fn compile(rules: &[LinuxDeviceCgroup]) -> Result<DeviceFilter, DeviceFilterError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::device_filter::testing::{rule, sample_rules};

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
}
