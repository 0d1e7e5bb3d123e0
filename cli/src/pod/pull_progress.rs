//! `podrt image pull`'s progress on stderr: on a terminal, one line per layer
//! (bytes, a bar, the rate) and a total line, redrawn at most ten times a second;
//! otherwise one plain line when a layer starts, is skipped or is done, as podman
//! prints them. `--quiet` shows nothing.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use podrt_sandbox::image::registry::{LayerState, Progress};

use super::images::human_size as size;

/// How often the terminal display is redrawn.
const REDRAW: Duration = Duration::from_millis(100);

/// The display for one pull.
pub(crate) struct PullProgress {
    tty: bool,
    state: RefCell<State>,
}

struct State {
    started: Instant,
    layers: Vec<Layer>,
    drawn_lines: usize,
    last_draw: Option<Instant>,
}

struct Layer {
    digest: String,
    size: u64,
    received: u64,
    state: LayerState,
}

impl PullProgress {
    /// A display on stderr, drawn if stderr is a terminal.
    pub(crate) fn new() -> PullProgress {
        PullProgress {
            tty: std::io::stderr().is_terminal(),
            state: RefCell::new(State {
                started: Instant::now(),
                layers: Vec::new(),
                drawn_lines: 0,
                last_draw: None,
            }),
        }
    }

    /// Draw the final state (on a terminal).
    pub(crate) fn finish(&self) {
        if self.tty {
            self.draw(true);
        }
    }

    fn draw(&self, force: bool) {
        let mut st = self.state.borrow_mut();
        let now = Instant::now();
        if !force && st.last_draw.is_some_and(|t| now - t < REDRAW) {
            return;
        }
        st.last_draw = Some(now);
        let secs = (now - st.started).as_secs_f64().max(0.001);
        let mut out = String::new();
        if st.drawn_lines > 0 {
            out.push_str(&format!("\x1b[{}A", st.drawn_lines));
        }
        let (mut got, mut total) = (0, 0);
        for l in &st.layers {
            got += l.received;
            total += l.size;
            let status = match l.state {
                LayerState::Exists => "already exists".to_string(),
                LayerState::Done => format!("done {}", size(l.size)),
                LayerState::Started | LayerState::Bytes(_) => {
                    format!(
                        "{} {} / {}",
                        bar(l.received, l.size),
                        size(l.received),
                        size(l.size)
                    )
                }
            };
            out.push_str(&format!(
                "\x1b[2KCopying blob {} {status}\n",
                short(&l.digest)
            ));
        }
        out.push_str(&format!(
            "\x1b[2KTotal {} / {} at {}/s\n",
            size(got),
            size(total),
            size((got as f64 / secs) as u64)
        ));
        st.drawn_lines = st.layers.len() + 1;
        let _ = std::io::stderr().write_all(out.as_bytes());
    }
}

impl Progress for PullProgress {
    fn resolved(&self, manifest: &str, layers: usize) {
        eprintln!("Resolved manifest {manifest} ({layers} layers)");
    }

    fn layer(&self, digest: &str, size_of: i64, state: LayerState) {
        let total = u64::try_from(size_of).unwrap_or(0);
        {
            let mut st = self.state.borrow_mut();
            let i = match st.layers.iter().position(|l| l.digest == digest) {
                Some(i) => i,
                None => {
                    st.layers.push(Layer {
                        digest: digest.to_string(),
                        size: total,
                        received: 0,
                        state,
                    });
                    st.layers.len() - 1
                }
            };
            let l = &mut st.layers[i];
            l.state = state;
            match state {
                LayerState::Bytes(n) => l.received = n,
                LayerState::Done | LayerState::Exists => l.received = total,
                LayerState::Started => {}
            }
        }
        if self.tty {
            self.draw(matches!(state, LayerState::Done | LayerState::Exists));
            return;
        }
        match state {
            LayerState::Exists => {
                eprintln!("Copying blob {} skipped: already exists", short(digest))
            }
            LayerState::Started => eprintln!("Copying blob {} ({})", short(digest), size(total)),
            LayerState::Done => eprintln!("Copying blob {} done", short(digest)),
            LayerState::Bytes(_) => {}
        }
    }
}

/// `sha256:` and the first 12 hex digits.
fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

/// A 20-cell bar.
fn bar(got: u64, total: u64) -> String {
    let filled = (got.min(total) * 20).checked_div(total).unwrap_or(0) as usize;
    format!("[{}{}]", "=".repeat(filled), " ".repeat(20 - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_digests_are_cut_to_size() {
        assert_eq!(
            bar(5, 10),
            format!("[{}{}]", "=".repeat(10), " ".repeat(10))
        );
        assert_eq!(bar(0, 0).len(), 22);
        assert_eq!(short("sha256:0123456789abcdef"), "sha256:0123456789ab");
    }
}
