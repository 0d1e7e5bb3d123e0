//! Kubernetes resource quantities (`128Mi`, `1G`, `500m`, `0.5`, `1e3`).
//!
//! Parsed exactly, as Kubernetes does, never through floats: "0.1" CPU is 100
//! millicores, not 99.99…. Fractions are rounded up to the unit the caller
//! needs (bytes, millicores), which is also what Kubernetes does.

/// The message Kubernetes gives for a quantity that does not parse.
const FORMAT: &str = "quantities must match the regular expression \
     '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Kubernetes caps every quantity at 2^63-1 units.
const MAX: u128 = i64::MAX as u128;

/// Significant digits kept in a mantissa: enough for any quantity below 2^63
/// written with nano precision, and small enough that `u128` arithmetic cannot
/// overflow before the explicit checks.
const MAX_DIGITS: usize = 30;

/// A parsed quantity: `(-1)^negative × mantissa × 10^exp10 × 1024^pow1024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    pow1024: u32,
}

/// A quantity converted to whole units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scaled {
    /// The value in units, rounded up.
    pub(crate) value: u64,
    /// False when rounding up changed the value (e.g. `1500m` bytes).
    pub(crate) exact: bool,
}

/// Parses a memory quantity into bytes, rounding a fraction of a byte up:
/// `128Mi` is 134217728, `1G` is 1000000000 (the unit tests' table has more).
pub(crate) fn parse_memory(q: &str) -> Result<u64, String> {
    scaled(q, 1).map(|s| s.value)
}

/// Parses a CPU quantity into millicores, rounding up (`0.1m` is 1m).
/// Only the tests use it: `resources.rs` reads CPU through [`scaled`] with the
/// same unit.
#[cfg(test)]
fn parse_cpu_millis(q: &str) -> Result<u64, String> {
    scaled(q, 1000).map(|s| s.value)
}

/// Parses a size such as `emptyDir.sizeLimit` into bytes; the same rules as
/// [`parse_memory`].
pub(crate) fn parse_bytes(q: &str) -> Result<u64, String> {
    parse_memory(q)
}

/// Parses `q` and converts it to `1/unit` steps (1 for bytes, 1000 for
/// millicores), refusing negative values and values above 2^63-1.
pub(super) fn scaled(q: &str, unit: u128) -> Result<Scaled, String> {
    let parsed = parse(q)?;
    let (value, exact) = parsed.ceil_times(unit)?;
    if parsed.negative && value != 0 {
        return Err("must be greater than or equal to 0".to_string());
    }
    let value = u64::try_from(value)
        .ok()
        .filter(|v| u128::from(*v) <= MAX)
        .ok_or_else(|| "is too large: quantities must be below 2^63".to_string())?;
    Ok(Scaled { value, exact })
}

fn parse(q: &str) -> Result<Quantity, String> {
    let (negative, rest) = match q.as_bytes().first() {
        Some(b'-') => (true, &q[1..]),
        Some(b'+') => (false, &q[1..]),
        _ => (false, q),
    };
    let number_len = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (mantissa, mut exp10) = parse_number(number)?;
    let (suffix_exp10, pow1024) = parse_suffix(suffix)?;
    exp10 = exp10
        .checked_add(suffix_exp10)
        .ok_or_else(|| FORMAT.to_string())?;
    Ok(Quantity {
        negative,
        mantissa,
        exp10,
        pow1024,
    })
}

/// `digits`, `digits.digits`, `digits.` or `.digits` → (mantissa, exponent).
fn parse_number(number: &str) -> Result<(u128, i32), String> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(FORMAT.to_string());
    }
    let frac = frac.trim_end_matches('0');
    let digits: String = format!("{int}{frac}").trim_start_matches('0').to_string();
    if digits.len() > MAX_DIGITS {
        return Err("has too many digits".to_string());
    }
    let mantissa = if digits.is_empty() {
        0
    } else {
        digits.parse::<u128>().map_err(|_| FORMAT.to_string())?
    };
    // frac.len() <= MAX_DIGITS here, so the cast cannot truncate.
    Ok((mantissa, -(frac.len() as i32)))
}

/// A suffix → (power of ten, power of 1024).
fn parse_suffix(suffix: &str) -> Result<(i32, u32), String> {
    let fixed = match suffix {
        "" => Some((0, 0)),
        "n" => Some((-9, 0)),
        "u" => Some((-6, 0)),
        "m" => Some((-3, 0)),
        "k" => Some((3, 0)),
        "M" => Some((6, 0)),
        "G" => Some((9, 0)),
        "T" => Some((12, 0)),
        "P" => Some((15, 0)),
        "E" => Some((18, 0)),
        "Ki" => Some((0, 1)),
        "Mi" => Some((0, 2)),
        "Gi" => Some((0, 3)),
        "Ti" => Some((0, 4)),
        "Pi" => Some((0, 5)),
        "Ei" => Some((0, 6)),
        _ => None,
    };
    if let Some(f) = fixed {
        return Ok(f);
    }
    // Decimal exponent: e or E, then a signed integer.
    let exponent = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'))
        .ok_or_else(|| FORMAT.to_string())?;
    let digits = exponent.trim_start_matches(['+', '-']);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || exponent.len() - digits.len() > 1
    {
        return Err(FORMAT.to_string());
    }
    let e: i32 = exponent
        .parse()
        .map_err(|_| "has an exponent out of range".to_string())?;
    if !(-1000..=1000).contains(&e) {
        return Err("has an exponent out of range".to_string());
    }
    Ok((e, 0))
}

impl Quantity {
    /// `ceil(|self| × unit)` and whether no rounding happened.
    fn ceil_times(&self, unit: u128) -> Result<(u128, bool), String> {
        let too_large = || "is too large: quantities must be below 2^63".to_string();
        let mut num = self.mantissa.checked_mul(unit).ok_or_else(too_large)?;
        for _ in 0..self.pow1024 {
            num = num.checked_mul(1024).ok_or_else(too_large)?;
        }
        if num == 0 {
            return Ok((0, true));
        }
        let e = self.exp10.unsigned_abs();
        if self.exp10 >= 0 {
            let factor = 10u128.checked_pow(e).ok_or_else(too_large)?;
            let v = num.checked_mul(factor).ok_or_else(too_large)?;
            return Ok((v, true));
        }
        // num < 2^128 < 10^39, so dividing by 10^39 or more leaves a fraction.
        match 10u128.checked_pow(e) {
            Some(den) => Ok((num / den + u128::from(num % den != 0), num % den == 0)),
            None => Ok((1, false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_table() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1", 1),
            ("128Mi", 134_217_728),
            ("1Ki", 1024),
            ("1Gi", 1 << 30),
            ("1Ti", 1 << 40),
            ("1Pi", 1 << 50),
            ("1Ei", 1 << 60),
            ("1k", 1000),
            ("1M", 1_000_000),
            ("1G", 1_000_000_000),
            ("1T", 1_000_000_000_000),
            ("1P", 1_000_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000),
            ("1e3", 1000),
            ("1E3", 1000),
            ("1.5e3", 1500),
            ("2e+2", 200),
            ("5e-1", 1),
            ("1.5Gi", 1_610_612_736),
            ("0.5", 1),
            ("1500m", 2),
            ("1000m", 1),
            ("1n", 1),
            ("1u", 1),
            ("+64Mi", 67_108_864),
            (".5Ki", 512),
            ("5.", 5),
            ("129e6", 129_000_000),
            ("123456789", 123_456_789),
            ("-0", 0),
            ("0.000", 0),
            ("1e-100", 1),
        ];
        for (q, want) in cases {
            assert_eq!(parse_memory(q), Ok(*want), "{q}");
        }
    }

    #[test]
    fn cpu_table() {
        let cases: &[(&str, u64)] = &[
            ("500m", 500),
            ("0.5", 500),
            ("1", 1000),
            ("2", 2000),
            ("0.1", 100),
            ("0.0001", 1),
            ("0.1m", 1),
            ("100u", 1),
            ("1e3", 1_000_000),
            ("250m", 250),
            ("1.5", 1500),
            ("0", 0),
            ("1k", 1_000_000),
        ];
        for (q, want) in cases {
            assert_eq!(parse_cpu_millis(q), Ok(*want), "{q}");
        }
    }

    #[test]
    fn malformed_quantities_are_refused() {
        for q in [
            "", "abc", "1.2.3", "Mi", "1 Mi", "1mi", "1K", "1KiB", "1e", "1e+", "1e1.5", "1ee3",
            "--1", "1Gb", ".", "0x10", "1_000", "1e+-3",
        ] {
            let err = parse_memory(q).expect_err(q);
            assert!(err.contains("regular expression"), "{q}: {err}");
        }
    }

    #[test]
    fn negative_quantities_are_refused() {
        assert_eq!(
            parse_memory("-1Mi"),
            Err("must be greater than or equal to 0".to_string())
        );
        assert!(parse_cpu_millis("-100m").is_err());
    }

    #[test]
    fn huge_quantities_are_refused() {
        assert!(parse_memory("8Ei").is_err(), "2^63 is one past the cap");
        assert!(parse_memory("10E").is_err());
        assert!(parse_memory("1e19").is_err());
        assert!(parse_cpu_millis("1e17").is_err());
        assert!(parse_memory("1e2000").is_err());
        assert!(parse_memory("1234567890123456789012345678901234567890").is_err());
        assert_eq!(parse_memory("9223372036854775807"), Ok(i64::MAX as u64));
    }

    #[test]
    fn exactness_is_reported() {
        assert_eq!(
            scaled("1500m", 1),
            Ok(Scaled {
                value: 2,
                exact: false
            })
        );
        assert_eq!(
            scaled("1.5k", 1),
            Ok(Scaled {
                value: 1500,
                exact: true
            })
        );
        assert_eq!(parse_bytes("1Mi"), parse_memory("1Mi"));
    }
}
