//! Column alignment as Go's `text/tabwriter` does it, which is what makes kubectl's
//! tables and `describe` pages line up.
//!
//! Input is text whose cells end in `\t`; the text after a line's last tab is not a
//! cell and is never padded. A column is aligned over a *block*: consecutive lines
//! that all have a cell in that column, so a line without tabs (such as
//! `Containers:` in `describe`) starts a fresh alignment below it.

/// Padding settings of one Go `tabwriter.Writer`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TabWriter {
    /// Smallest width of a column, padding included.
    pub min_width: usize,
    /// Spaces added after the widest cell of a column.
    pub padding: usize,
}

/// kubectl `get`'s writer: `tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)`.
pub(crate) const GET: TabWriter = TabWriter {
    min_width: 6,
    padding: 3,
};

/// kubectl `describe`'s writer: `tabwriter.Init(out, 0, 8, 2, ' ', 0)`.
pub(crate) const DESCRIBE: TabWriter = TabWriter {
    min_width: 0,
    padding: 2,
};

impl TabWriter {
    /// Align `text` (lines end in `\n`, cells end in `\t`) and return the result.
    pub(crate) fn format(self, text: &str) -> String {
        let lines: Vec<Vec<&str>> = text
            .split_terminator('\n')
            .map(|l| l.split('\t').collect())
            .collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format_block(&lines, &mut widths, &mut out);
        out
    }

    /// Go's `Writer.format`: find the blocks of the next column within `lines`,
    /// size each one, and recurse; lines outside any block are written as they are.
    fn format_block(self, lines: &[Vec<&str>], widths: &mut Vec<usize>, out: &mut String) {
        let column = widths.len();
        let has_cell = |line: &Vec<&str>| column + 1 < line.len();
        let mut start = 0;
        while start < lines.len() {
            let Some(offset) = lines[start..].iter().position(has_cell) else {
                break;
            };
            let block_start = start + offset;
            write_lines(&lines[start..block_start], widths, out);
            let block_len = lines[block_start..]
                .iter()
                .take_while(|l| has_cell(l))
                .count();
            let block = &lines[block_start..block_start + block_len];
            let widest = block
                .iter()
                .map(|l| cell_width(l[column]))
                .max()
                .unwrap_or(0);
            widths.push((widest + self.padding).max(self.min_width));
            self.format_block(block, widths, out);
            widths.pop();
            start = block_start + block_len;
        }
        write_lines(&lines[start..], widths, out);
    }
}

/// Width of a cell as tabwriter counts it: in characters, not bytes.
fn cell_width(cell: &str) -> usize {
    cell.chars().count()
}

/// Write lines whose first `widths.len()` cells are in sized columns.
fn write_lines(lines: &[Vec<&str>], widths: &[usize], out: &mut String) {
    for line in lines {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                if let Some(&width) = widths.get(j) {
                    out.push_str(&" ".repeat(width.saturating_sub(cell_width(cell))));
                }
            }
        }
        out.push('\n');
    }
}

/// kubectl's terminal escaping of printed values (`printers.EscapeTerminal`): an
/// ESC or CR in a pod's name or annotation must not drive the user's terminal.
pub(crate) fn escape_terminal(s: &str) -> String {
    s.replace('\x1b', "^[").replace('\r', "\\r")
}

/// The start of a listing's text: `NAMESPACE\t` when it has that column (`-A`).
pub(crate) fn namespace_header(namespaces: bool) -> String {
    if namespaces {
        "NAMESPACE\t".to_string()
    } else {
        String::new()
    }
}

/// A row's NAMESPACE cell, when the listing has that column.
pub(crate) fn namespace_cell(text: &mut String, namespaces: bool, namespace: Option<&str>) {
    if namespaces {
        text.push_str(namespace.unwrap_or_default());
        text.push('\t');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_pad_to_widest_cell_plus_padding() {
        let text = "NAME\tREADY\tAGE\nnginx\t1/1\t5m\n";
        assert_eq!(
            GET.format(text),
            "NAME    READY   AGE\nnginx   1/1     5m\n"
        );
    }

    #[test]
    fn min_width_applies_to_narrow_columns() {
        assert_eq!(GET.format("A\tB\nx\ty\n"), "A     B\nx     y\n");
    }

    #[test]
    fn a_line_without_tabs_ends_the_block() {
        let text = "Name:\tp\nNamespace:\tdefault\nIPs:\n  IP:\t10.0.0.1\nContainers:\n";
        let want = "Name:       p\nNamespace:  default\nIPs:\n  IP:  10.0.0.1\nContainers:\n";
        assert_eq!(DESCRIBE.format(text), want);
    }

    #[test]
    fn continuation_lines_with_empty_first_cell_align() {
        let text = "Labels:\ta=1\n\tb=2\nAnnotations:\t<none>\n";
        let want = "Labels:       a=1\n              b=2\nAnnotations:  <none>\n";
        assert_eq!(DESCRIBE.format(text), want);
    }

    #[test]
    fn nested_columns_align_within_their_own_block() {
        let text = "  Type\tStatus\n  Ready \tTrue \n  PodScheduled \tTrue \n";
        let want = "  Type           Status\n  Ready          True \n  PodScheduled   True \n";
        assert_eq!(DESCRIBE.format(text), want);
    }

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape_terminal("a\x1b[2Jb\r"), "a^[[2Jb\\r");
    }
}
