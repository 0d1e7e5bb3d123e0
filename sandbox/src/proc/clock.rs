//! Now, written as Kubernetes writes its timestamps (RFC 3339, UTC).

/// Now as RFC 3339 with whole seconds, as Kubernetes writes `creationTimestamp`.
pub(crate) fn now_seconds() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// Now as RFC 3339 with nanoseconds.
pub(crate) fn now_nanos() -> String {
    jiff::Timestamp::now().to_string()
}
