//! The mount table as `/proc/<pid>/mountinfo` shows it (proc(5)): a line per mount,
//! fields split at spaces, paths with their spaces, tabs, newlines and backslashes
//! written as octal escapes (`\040` for a space). Every reader of the table parses
//! it here, so no caller splits the lines or forgets the escapes.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One mount of the table: the fields podrt uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted (the 5th field), escapes undone.
    pub mount_point: PathBuf,
    /// The filesystem type (the first field after the ` - ` separator): `cgroup2`,
    /// `tmpfs`, `ext4` ...
    pub(crate) fs_type: String,
}

/// This process's mount table, as text for [`parse`].
pub fn read_own() -> io::Result<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
}

/// The mounts of a mountinfo text, in its order; a line that does not have the
/// fields of one is skipped.
pub fn parse(text: &str) -> impl Iterator<Item = Mount> + '_ {
    text.lines().filter_map(parse_line)
}

/// One line of mountinfo, or `None` if it lacks a field.
pub(crate) fn parse_line(line: &str) -> Option<Mount> {
    // The optional fields (the 7th on) end at a lone "-"; no escaped field holds
    // a space, so " - " is that separator.
    let (left, right) = line.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?;
    let fs_type = right.split(' ').next()?;
    Some(Mount {
        mount_point: unescape(mount_point),
        fs_type: fs_type.to_string(),
    })
}

/// Undo mountinfo's octal escapes (`\040` for a space, `\134` for a backslash).
pub(crate) fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| {
            bytes[i] == b'\\'
                && (b'0'..=b'3').contains(&d[0])
                && d.iter().all(|c| (b'0'..=b'7').contains(c))
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gives_its_mount_point_and_type() {
        let m = parse_line(
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/mnt2"));
        assert_eq!(m.fs_type, "ext3");
    }

    #[test]
    fn a_line_without_optional_fields_parses() {
        let m = parse_line("31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw")
            .unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(m.fs_type, "cgroup2");
    }

    #[test]
    fn escapes_are_undone_in_the_mount_point() {
        let m = parse_line(
            r"31 30 0:27 / /run/my\040dir\011tab\012nl\134back rw shared:6 - tmpfs tmpfs rw",
        )
        .unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/run/my dir\ttab\nnl\\back"));
    }

    #[test]
    fn what_is_not_an_escape_is_kept() {
        assert_eq!(unescape(r"/a\b"), PathBuf::from(r"/a\b"));
        assert_eq!(unescape(r"/a\48"), PathBuf::from(r"/a\48"));
        assert_eq!(unescape(r"/a\400"), PathBuf::from(r"/a\400"));
        assert_eq!(unescape(r"/end\04"), PathBuf::from(r"/end\04"));
        assert_eq!(unescape(r"/end\"), PathBuf::from(r"/end\"));
    }

    #[test]
    fn bytes_that_are_not_utf8_stay_as_they_are() {
        assert_eq!(
            unescape(r"/x\377y").into_os_string().into_vec(),
            b"/x\xffy".to_vec()
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = "\
garbage
22 1 254:0 / / rw - ext4 /dev/vda rw
1 2 3 4
";
        let mounts: Vec<Mount> = parse(text).collect();
        assert_eq!(
            mounts,
            [Mount {
                mount_point: PathBuf::from("/"),
                fs_type: "ext4".into()
            }]
        );
    }
}
