//! Crony's cron expressions as its parser (robfig/cron of early 2014) reads them, in native
//! schedule terms:
//! - 6 fields, seconds first: as they are (the native 6-field form is the same);
//! - 5 fields: **seconds first too**, the day of the week then being any (`0 5 * * *` is
//!   second 0 of minute 5 of every hour; `* * * * *` fires every second), which is what the
//!   original did with them, unlike classic 5-field cron;
//! - `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`: the
//!   native macros, which mean the same;
//! - `@every <Go duration>` (`@every 1h30m`, `@every 90s`): a fixed interval from creation,
//!   truncated to whole seconds and never under one second, as the original did.
//!
//! Field syntax (lists, ranges, steps, `?`, month and weekday names) is the native parser's,
//! a superset of the original's; an expression it cannot read is refused.

use serde_json::{Value, json};

/// The native `schedule` of `expression` evaluated in `timezone`, or why it is not one.
pub fn schedule(expression: &str, timezone: &str) -> Result<Value, String> {
    let trimmed = expression.trim();
    if let Some(rest) = trimmed.strip_prefix("@every") {
        if !rest.starts_with(char::is_whitespace) {
            return Err(format!("unknown descriptor {trimmed}"));
        }
        let secs = go_duration_secs(rest.trim())?;
        return Ok(json!({"every": format!("{secs}s")}));
    }
    let cron = if trimmed.starts_with('@') {
        trimmed.to_owned()
    } else {
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        match fields.len() {
            6 => fields.join(" "),
            5 => format!("{} *", fields.join(" ")),
            n => return Err(format!("expected 5 or 6 fields, seconds first, got {n}")),
        }
    };
    Ok(json!({"cron": cron, "timezone": timezone}))
}

/// Whole seconds of a Go duration (`1h30m`, `1.5h`, `300ms`, `2h45m30.5s`), at least 1.
fn go_duration_secs(text: &str) -> Result<u64, String> {
    let invalid = || format!("invalid duration {text:?}");
    if text.is_empty() || text.starts_with('-') {
        return Err(invalid());
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Ok(1);
    }
    let mut nanos: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        nanos += value * scale;
        rest = &rest[unit_len..];
    }
    // Go's durations end at about 292 years.
    if !nanos.is_finite() || nanos > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(((nanos / 1e9).trunc() as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_fields_are_seconds_first_as_the_original_read_them() {
        assert_eq!(
            schedule("0 5 * * *", "UTC").unwrap(),
            json!({"cron": "0 5 * * * *", "timezone": "UTC"})
        );
        assert_eq!(
            schedule("  */5  * * * * ?  ", "Europe/Paris").unwrap(),
            json!({"cron": "*/5 * * * * ?", "timezone": "Europe/Paris"})
        );
        assert_eq!(schedule("@daily", "UTC").unwrap()["cron"], "@daily");
        assert!(schedule("* * * *", "UTC").is_err());
        assert!(schedule("", "UTC").is_err());
    }

    #[test]
    fn every_takes_go_durations_in_whole_seconds() {
        for (text, secs) in [
            ("@every 90s", 90),
            ("@every 1h30m", 5400),
            ("@every 1.5h", 5400),
            ("@every 2h45m30.5s", 9930),
            ("@every 300ms", 1),
            ("@every 0", 1),
        ] {
            assert_eq!(
                schedule(text, "UTC").unwrap(),
                json!({"every": format!("{secs}s")}),
                "{text}"
            );
        }
        for bad in [
            "@every",
            "@every -1s",
            "@every 5",
            "@every 1d",
            "@every 1..5s",
            "@everyday",
        ] {
            assert!(schedule(bad, "UTC").is_err(), "{bad}");
        }
    }
}
