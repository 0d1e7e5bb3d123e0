//! Container output in the Kubernetes CRI log format, the one kubelet, crictl and
//! containerd use: the supervisor appends a container's stdout and stderr to one
//! file (`<pod dir>/containers/<name>/log`) in the order written, a line at a time
//! with its time (for `--timestamps`); `podrt logs` turns it back into output.
//!
//! A record: `<time> <stdout|stderr> <F|P> <content>`. `F`: the content ends a line
//! (its newline is not stored); `P`: a chunk of a line longer than [`MAX_LINE`],
//! joined with the next record(s) up to an `F`. Times are UTC with always 9 fractional
//! digits (as CRI-O's conmon writes them), a fixed-width sortable prefix; [`parse`]
//! also reads containerd's (Go's `RFC3339Nano`, trailing zeros trimmed).

use std::fs::File;
use std::io::{self, Write};

/// The longest content of one record; a longer line is split into `P` records.
pub(crate) const MAX_LINE: usize = 16 * 1024;

/// Which of the container's pipes a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// The container's standard output.
    Stdout,
    /// The container's standard error.
    Stderr,
}

impl Stream {
    /// The stream's name in a record: `stdout` or `stderr`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Turns a byte stream from one pipe into CRI log lines appended to a file.
///
/// The file must be opened with `O_APPEND` and each record goes out in one
/// `write(2)`, so the stdout and stderr writers of a container (a `LineWriter` each
/// on the same file) never interleave inside a line. An unfinished line waits in
/// memory for its newline, [`MAX_LINE`] bytes or [`LineWriter::finish`], as in
/// containerd.
#[derive(Debug)]
pub(crate) struct LineWriter {
    sink: Sink,
    /// The start of a line whose newline has not arrived; at most `MAX_LINE` bytes
    /// between calls.
    pending: Vec<u8>,
}

impl LineWriter {
    /// A writer of `stream`'s records to `file` (opened with `O_APPEND`).
    pub(crate) fn new(file: File, stream: Stream) -> LineWriter {
        LineWriter {
            sink: Sink {
                file,
                stream,
                record: Vec::new(),
            },
            pending: Vec::new(),
        }
    }

    /// Append the complete lines in `data` as `F` records; keep an unfinished line
    /// buffered, writing it as `P` records while it exceeds [`MAX_LINE`]. On error,
    /// the line being written is lost; later calls carry on.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&data[..i]);
            data = &data[i + 1..];
            let written = self.sink.line(&self.pending);
            self.pending.clear();
            written?;
        }
        self.pending.extend_from_slice(data);
        let partial = partial_len(self.pending.len());
        let written = self.pending[..partial]
            .chunks(MAX_LINE)
            .try_for_each(|c| self.sink.record(true, c));
        self.pending.drain(..partial);
        written
    }

    /// Write to `file` from now on (the log was rotated: the old file was
    /// renamed and a new one made). An unfinished line goes on in the new one.
    pub(crate) fn reopen(&mut self, file: File) {
        self.sink.file = file;
    }

    /// End of stream: write what is buffered as an `F` record (its content without
    /// a newline, as containerd does). Nothing is written if nothing is buffered.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.sink.record(false, &self.pending);
        self.pending.clear();
        written
    }
}

/// How much of a line of `len` bytes goes out in `P` records: whole `MAX_LINE`
/// chunks, keeping 1 to `MAX_LINE` bytes for the `F` record that ends it, so a line
/// is cut at the same places however its bytes arrived.
fn partial_len(len: usize) -> usize {
    len.saturating_sub(1) / MAX_LINE * MAX_LINE
}

/// Where a [`LineWriter`] puts its records.
#[derive(Debug)]
struct Sink {
    file: File,
    stream: Stream,
    /// Reused to build each record, so it goes out in one write.
    record: Vec<u8>,
}

impl Sink {
    /// One complete line: `P` records while it is longer than `MAX_LINE`, then `F`.
    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        let (partials, last) = line.split_at(partial_len(line.len()));
        partials
            .chunks(MAX_LINE)
            .try_for_each(|c| self.record(true, c))?;
        self.record(false, last)
    }

    fn record(&mut self, partial: bool, content: &[u8]) -> io::Result<()> {
        let r = &mut self.record;
        r.clear();
        write!(r, "{:.9} {} ", jiff::Timestamp::now(), self.stream.as_str())?;
        r.extend_from_slice(if partial { b"P " } else { b"F " });
        r.extend_from_slice(content);
        r.push(b'\n');
        // One write(2) on a regular file, unless the disk fills (then write_all loops).
        self.file.write_all(r)
    }
}

/// One record of a CRI log, borrowed from the line it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// When the record was written, as RFC 3339 text.
    pub(crate) time: &'a str,
    /// The pipe the content came from.
    pub(crate) stream: Stream,
    /// `P`: the content continues in the next record; `F`: it ends a line.
    pub(crate) partial: bool,
    /// The output, without a newline.
    pub(crate) content: &'a [u8],
}

/// Parse one line of a CRI log (a trailing newline is ignored); `None` if it is
/// not a record: no valid time, stream or tag. A missing space after the tag is
/// read as empty content, and a tag may carry `:`-separated extras after `P`/`F`
/// (the CRI's forward-compatible tag list).
pub(crate) fn parse(line: &[u8]) -> Option<Record<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut fields = line.splitn(4, |&b| b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?;
    time.parse::<jiff::Timestamp>().ok()?;
    let stream = match fields.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match fields.next()?.split(|&b| b == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let content = fields.next().unwrap_or_default();
    Some(Record {
        time,
        stream,
        partial,
        content,
    })
}

/// Write the container's output as it was written: `F` records end with "\n", `P`
/// records don't, and records join in file order whatever their stream, as on a
/// terminal. Malformed lines are passed through as they are (so a plain-text log
/// still prints). With `timestamps`, each line of output starts with the time of its
/// first record and a space, as in `kubectl logs --timestamps`. `out` gets many
/// small writes: give it a buffered writer.
#[cfg(test)]
fn decode(log: &[u8], timestamps: bool, out: &mut impl Write) -> io::Result<()> {
    Decoder::new(timestamps).decode(log, out)
}

/// [`decode`] for a log read in pieces (as `podrt logs -f` reads it): remembers
/// whether the last record left a line unfinished, so a timestamp is printed only
/// at the start of each line of output.
#[derive(Debug, Clone)]
pub struct Decoder {
    timestamps: bool,
    mid_line: bool,
}

impl Decoder {
    /// A decoder at the start of a log.
    pub fn new(timestamps: bool) -> Decoder {
        Decoder {
            timestamps,
            mid_line: false,
        }
    }

    /// Decode the next piece of the log, which should end at a line boundary (a
    /// final line without a newline is decoded as it is).
    pub fn decode(&mut self, log: &[u8], out: &mut impl Write) -> io::Result<()> {
        for line in log.split_inclusive(|&b| b == b'\n') {
            let Some(r) = parse(line) else {
                out.write_all(line)?;
                self.mid_line = !line.ends_with(b"\n");
                continue;
            };
            if self.timestamps && !self.mid_line {
                write!(out, "{} ", r.time)?;
            }
            out.write_all(r.content)?;
            out.write_all(if r.partial { b"" } else { b"\n" })?;
            self.mid_line = r.partial;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Stream::{Stderr, Stdout};
    use super::*;
    use std::os::unix::fs::FileExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An unlinked temporary file, for reading back what the writers append.
    fn temp_log() -> File {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("podrt-cri-log-{}-{n}", std::process::id()));
        File::create_new(&path).unwrap();
        let log = File::options().read(true).append(true).open(&path);
        std::fs::remove_file(path).unwrap();
        log.unwrap()
    }

    fn writer(log: &File, stream: Stream) -> LineWriter {
        LineWriter::new(log.try_clone().unwrap(), stream)
    }

    fn read(log: &File) -> Vec<u8> {
        let mut text = vec![0; log.metadata().unwrap().len() as usize];
        log.read_exact_at(&mut text, 0).unwrap();
        text
    }

    /// (stream, partial, content) of each record; panics on a malformed line.
    fn records(log: &File) -> Vec<(Stream, bool, Vec<u8>)> {
        read(log)
            .split_inclusive(|&b| b == b'\n')
            .map(|l| parse(l).unwrap_or_else(|| panic!("malformed {l:?}")))
            .map(|r| (r.stream, r.partial, r.content.to_vec()))
            .collect()
    }

    /// A full and a partial stdout record.
    fn f(content: &[u8]) -> (Stream, bool, Vec<u8>) {
        (Stdout, false, content.to_vec())
    }
    fn p(content: &[u8]) -> (Stream, bool, Vec<u8>) {
        (Stdout, true, content.to_vec())
    }

    fn decoded(log: &[u8], timestamps: bool) -> Vec<u8> {
        let mut out = Vec::new();
        decode(log, timestamps, &mut out).unwrap();
        out
    }

    #[test]
    fn lines_split_across_writes_or_sharing_one() {
        let log = temp_log();
        let mut w = writer(&log, Stdout);
        w.write(b"hel").unwrap();
        assert!(read(&log).is_empty(), "an unfinished line must wait");
        w.write(b"lo\nwor").unwrap();
        w.write(b"ld\na\n\nprompt> ").unwrap();
        assert_eq!(records(&log), [f(b"hello"), f(b"world"), f(b"a"), f(b"")]);
        w.finish().and_then(|()| w.finish()).unwrap();
        assert_eq!(records(&log)[4..], [f(b"prompt> ")]);
    }

    #[test]
    fn a_long_line_becomes_partial_records_then_full() {
        let (log, x) = (temp_log(), vec![b'x'; MAX_LINE]);
        let mut w = writer(&log, Stdout);
        w.write(&[x.as_slice(), &x, b"xxx"].concat()).unwrap();
        assert_eq!(records(&log), [p(&x), p(&x)]);
        w.write(b"yz\n").unwrap();
        // A line of exactly MAX_LINE is one record however it arrives.
        w.write(&x[..10]).unwrap();
        w.write(&[&x[10..], b"\n"].concat()).unwrap();
        // A long complete line in one write is split too.
        w.write(&[x.as_slice(), b"end\n"].concat()).unwrap();
        w.write(&x).unwrap();
        w.finish().unwrap();
        let want = [p(&x), p(&x), f(b"xxxyz"), f(&x), p(&x), f(b"end"), f(&x)];
        assert_eq!(records(&log), want);
    }

    #[test]
    fn stdout_and_stderr_writers_never_interleave_inside_a_line() {
        let log = temp_log();
        let line = |s: Stream, i: usize| format!("{}{i}", s.as_str().repeat(i * 7));
        let threads = [Stdout, Stderr].map(|s| {
            let mut w = writer(&log, s);
            std::thread::spawn(move || {
                for i in 0..300 {
                    let text = line(s, i) + "\n";
                    let (a, b) = text.as_bytes().split_at(i % text.len());
                    w.write(a).and_then(|()| w.write(b)).unwrap();
                }
                w.finish().unwrap();
            })
        });
        threads.into_iter().for_each(|t| t.join().unwrap());
        for s in [Stdout, Stderr] {
            let got: Vec<_> = records(&log).into_iter().filter(|r| r.0 == s).collect();
            let want: Vec<_> = (0..300).map(|i| (s, false, line(s, i).into())).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn parse_reads_records_and_rejects_other_lines() {
        let full: [(&[u8], &[u8]); 4] = [
            (b"2026-11-25T14:00:00.123456789Z stdout F hi\n", b"hi"),
            (b"2026-11-25T15:00:00+01:00 stdout F:x y", b"y"),
            (b"2026-11-25T14:00:00Z stdout F ", b""),
            (b"2026-11-25T14:00:00Z stdout F", b""),
        ];
        for (line, content) in full {
            let r = parse(line).unwrap();
            assert_eq!((r.stream, r.partial, r.content), (Stdout, false, content));
        }
        // containerd's trimmed fractions; spaces in the content are kept.
        let r = parse(b"2026-11-25T14:00:00.1Z stderr P  a  b ").unwrap();
        let want = ("2026-11-25T14:00:00.1Z", Stderr, true, &b" a  b "[..]);
        assert_eq!((r.time, r.stream, r.partial, r.content), want);
        let bad = b"\nhello world\n2026-11-25 stdout F x\n\
                    2026-11-25T14:00:00Z stdin F x\n2026-11-25T14:00:00Z stdout X x\n\
                    2026-11-25T14:00:00Z stdout\n2026-11-25T14:00:00Z\tstdout F x\n\
                    \xff2026-11-25T14:00:00Z stdout F x";
        for line in bad.split(|&b| b == b'\n') {
            assert_eq!(parse(line), None, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn decode_gives_back_what_was_written_or_plain_text() {
        let log = temp_log();
        let mut w = writer(&log, Stdout);
        let mut output = b"plain\n\n\nbin\0ary \xff\xfe\r\n \t spaces \nP F stdout\n".to_vec();
        output.extend_from_slice(&[b'\xfe'; MAX_LINE * 2 + 3]);
        output.extend_from_slice(b"\nlast without newline");
        let pieces = output.chunks(1000).try_for_each(|piece| w.write(piece));
        pieces.and_then(|()| w.finish()).unwrap();
        assert_eq!(decoded(&read(&log), false), [&output[..], b"\n"].concat());
        // Plain text passes through; records are joined in file order.
        let text = b"started\n\nlistening on :80\nno newline";
        assert_eq!(decoded(text, false), text);
        assert_eq!(decoded(text, true), text);
        let mixed = b"raw\n2026-11-25T14:00:00Z stderr F oops\n";
        assert_eq!(decoded(mixed, false), b"raw\noops\n");
        let log = b"2026-11-25T14:00:00Z stdout P ab\n\
                    2026-11-25T14:00:01Z stdout P cd\n\
                    2026-11-25T14:00:02Z stderr F e\n\
                    2026-11-25T14:00:03Z stdout F \n";
        assert_eq!(decoded(log, false), b"abcde\n\n");
    }

    #[test]
    fn timestamps_are_fixed_width_utc_and_printed_per_line() {
        let log = temp_log();
        let mut w = writer(&log, Stderr);
        w.write(b"one\n").unwrap();
        let text = read(&log);
        let time = std::str::from_utf8(&text[..30]).unwrap();
        assert_eq!(&text[30..], b" stderr F one\n");
        assert_eq!((&time[19..20], &time[29..]), (".", "Z"));
        assert!(time[20..29].bytes().all(|b| b.is_ascii_digit()), "{time}");
        assert!(time.parse::<jiff::Timestamp>().is_ok());
        let log = b"2026-11-25T14:00:00.5Z stdout P ab\n\
                    2026-11-25T14:00:01.5Z stdout F cd\n\
                    2026-11-25T14:00:02.5Z stderr F e\n";
        let want = b"2026-11-25T14:00:00.5Z abcd\n2026-11-25T14:00:02.5Z e\n";
        assert_eq!(decoded(log, true), want);
        // Read in pieces, a line's timestamp is still printed once.
        let (mut d, mut out) = (Decoder::new(true), Vec::new());
        d.decode(&log[..35], &mut out).unwrap();
        d.decode(&log[35..], &mut out).unwrap();
        assert_eq!(out, want);
    }
}
