//! What a pull reports as it goes, for a progress display: the CLI draws it on a
//! terminal or prints plain lines; the agent logs it.

/// Where a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerState {
    /// The store has it already; nothing is downloaded.
    Exists,
    /// The download began.
    Started,
    /// This many bytes have arrived.
    Bytes(u64),
    /// Downloaded, verified and in the store.
    Done,
}

/// Receives a pull's progress. Called from the pulling thread only.
pub trait Progress {
    /// The image's manifest was found: its digest and layer count.
    fn resolved(&self, _manifest: &str, _layers: usize) {}
    /// A layer (by blob digest, with its download size) moved on.
    fn layer(&self, _digest: &str, _size: i64, _state: LayerState) {}
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {}
