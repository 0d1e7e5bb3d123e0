//! Time as kubectl shows it: the approximate ages of `get` (apimachinery's
//! `duration.HumanDuration`) and the RFC 1123 dates of `describe`.
//!
//! Instants are nanoseconds since the Unix epoch as `i128`, so a timestamp in the
//! future gives a negative age, which kubectl shows as `0s` or `<invalid>`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// kubectl's `duration.HumanDuration`: a short, approximate duration such as `45s`,
/// `3m20s`, `5h`, `2d3h` or `3y120d`.
pub fn human_duration(d: Duration) -> String {
    human_duration_nanos(i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// [`human_duration`] of a signed duration in nanoseconds. Go tolerates a clock
/// skew of up to two seconds (shown as `0s`); a larger negative one is `<invalid>`.
pub(crate) fn human_duration_nanos(nanos: i128) -> String {
    // Go's int(d.Seconds()) truncates toward zero, as integer division does here.
    let seconds = nanos / NANOS_PER_SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{years}y")
}

/// `now` as nanoseconds since the epoch (negative before 1970).
pub(crate) fn system_nanos(now: SystemTime) -> i128 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// A Kubernetes timestamp as nanoseconds since the epoch.
pub(crate) fn time_nanos(t: &Time) -> i128 {
    t.0.as_nanosecond()
}

/// kubectl's `translateTimestampSince`: how long ago `t` was, `<unknown>` when unset.
pub(crate) fn since(t: Option<&Time>, now: SystemTime) -> String {
    match t {
        Some(t) => human_duration_nanos(system_nanos(now) - time_nanos(t)),
        None => "<unknown>".to_string(),
    }
}

/// Go's `time.RFC1123Z` layout (`Mon, 02 Jan 2006 15:04:05 -0700`), in UTC; an unset
/// time prints as Go's zero time, as kubectl does.
pub(crate) fn rfc1123z(t: Option<&Time>) -> String {
    match t {
        Some(t) => t.0.strftime("%a, %d %b %Y %H:%M:%S %z").to_string(),
        None => "Mon, 01 Jan 0001 00:00:00 +0000".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> String {
        human_duration(Duration::from_secs(s))
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        let (m, h, d, y) = (60, 3600, 86_400, 365 * 86_400);
        let cases = [
            (0, "0s"),
            (1, "1s"),
            (119, "119s"),
            (2 * m, "2m"),
            (3 * m + 20, "3m20s"),
            (9 * m + 59, "9m59s"),
            (10 * m + 30, "10m"),
            (179 * m, "179m"),
            (3 * h, "3h"),
            (3 * h + 25 * m, "3h25m"),
            (7 * h + 59 * m, "7h59m"),
            (8 * h + 30 * m, "8h"),
            (47 * h, "47h"),
            (2 * d, "2d"),
            (2 * d + 5 * h, "2d5h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d, "8d"),
            (729 * d, "729d"),
            (2 * y, "2y"),
            (3 * y + 120 * d, "3y120d"),
            (8 * y + 100 * d, "8y"),
        ];
        for (input, want) in cases {
            assert_eq!(secs(input), want, "{input}s");
        }
    }

    #[test]
    fn negative_durations_tolerate_small_skew() {
        assert_eq!(human_duration_nanos(-1_500_000_000), "0s");
        assert_eq!(human_duration_nanos(-2_000_000_000), "<invalid>");
    }

    #[test]
    fn since_and_rfc1123z() {
        let t: Time = serde_json::from_str("\"2026-11-25T14:00:00Z\"").unwrap();
        let now = UNIX_EPOCH + Duration::from_nanos(t.0.as_nanosecond() as u64);
        assert_eq!(since(Some(&t), now + Duration::from_secs(300)), "5m");
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(rfc1123z(Some(&t)), "Wed, 25 Nov 2026 14:00:00 +0000");
        assert_eq!(rfc1123z(None), "Mon, 01 Jan 0001 00:00:00 +0000");
    }
}
