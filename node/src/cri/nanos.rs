//! Times as the CRI carries them: nanoseconds since the Unix epoch, 0 for
//! "not known" (never started, not finished).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// `t` in nanoseconds since the epoch; 0 when absent.
pub(crate) fn of(t: Option<&Time>) -> i64 {
    t.map_or(0, |t| {
        i64::try_from(t.0.as_nanosecond()).unwrap_or(i64::MAX)
    })
}

/// Now, in nanoseconds since the epoch.
pub(crate) fn now() -> i64 {
    i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX)
}
