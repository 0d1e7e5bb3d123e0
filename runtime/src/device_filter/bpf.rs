//! eBPF instruction encoding: the kernel's `struct bpf_insn`, and the registers and
//! opcodes the device filter uses.

use std::mem::size_of;

// Registers.
pub(super) const R0: u8 = 0;
pub(super) const R1: u8 = 1;
pub(super) const R2: u8 = 2;
pub(super) const R3: u8 = 3;
pub(super) const R4: u8 = 4;
pub(super) const R5: u8 = 5;

// Opcodes: instruction class | operation | operand source.
pub(super) const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
pub(super) const ALU64_AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
pub(super) const ALU64_RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
pub(super) const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
pub(super) const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto +off
pub(super) const JMP_JSET_K: u8 = 0x45; // BPF_JMP | BPF_JSET | BPF_K: if dst & imm goto +off
pub(super) const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// One instruction, laid out as the kernel's `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Insn {
    pub(super) code: u8,
    /// Destination register in the low nibble, source register in the high one.
    pub(super) regs: u8,
    pub(super) off: i16,
    pub(super) imm: i32,
}

impl Insn {
    pub(super) const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
}

// The layout the kernel expects; a mistake here would be a silent misreading.
const _: () = assert!(size_of::<Insn>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_encoding_matches_struct_bpf_insn() {
        let ld = Insn::new(LDX_MEM_W, R2, R1, 4, 0);
        assert_eq!(ld.regs, 0x12, "dst in the low nibble, src in the high");
        assert_eq!(size_of::<Insn>(), 8);
    }
}
