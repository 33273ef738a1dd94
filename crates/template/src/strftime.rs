//! `strftime_now(format)`: Python's `datetime.now().strftime(format)` in the C locale.

use std::fmt::Write as _;

use time::PrimitiveDateTime;

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats a naive date-time like Python's `datetime.strftime` with glibc in the C locale.
///
/// Supports `%a %A %b %h %B %c %d %e %f %H %I %j %m %M %p %S %u %w %y %Y %D %F %T %R %n %t %%`,
/// `%z`/`%Z` (empty, as for a naive `datetime`), and glibc's `-` flag (no padding, `%-d`).
/// Anything else is an error naming the directive.
pub(crate) fn strftime(dt: &PrimitiveDateTime, format: &str) -> Result<String, String> {
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut directive = chars.next();
        let unpadded = directive == Some('-');
        if unpadded {
            directive = chars.next();
        }
        let Some(directive) = directive else {
            return Err(format!(
                "strftime format {format:?} ends with an incomplete directive"
            ));
        };
        write_directive(&mut out, dt, directive, unpadded)
            .map_err(|()| format!("unsupported strftime directive %{directive} in {format:?}"))?;
    }
    Ok(out)
}

fn write_directive(
    out: &mut String,
    dt: &PrimitiveDateTime,
    directive: char,
    unpadded: bool,
) -> Result<(), ()> {
    let num = |out: &mut String, n: u32, width: usize, pad: char| {
        if unpadded {
            let _ = write!(out, "{n}");
        } else if pad == ' ' {
            let _ = write!(out, "{n:>width$}");
        } else {
            let _ = write!(out, "{n:0width$}");
        }
    };
    let weekday = WEEKDAYS
        .get(usize::from(dt.weekday().number_days_from_monday()))
        .copied()
        .unwrap_or("");
    let month = MONTHS
        .get(usize::from(u8::from(dt.month())).saturating_sub(1))
        .copied()
        .unwrap_or("");
    let hour12 = match dt.hour() % 12 {
        0 => 12,
        h => h,
    };
    match directive {
        'a' => out.push_str(weekday.get(..3).unwrap_or(weekday)),
        'A' => out.push_str(weekday),
        'b' | 'h' => out.push_str(month.get(..3).unwrap_or(month)),
        'B' => out.push_str(month),
        'c' => {
            let day = format!("{:>2}", dt.day());
            let _ = write!(
                out,
                "{} {} {} {:02}:{:02}:{:02} {}",
                weekday.get(..3).unwrap_or(weekday),
                month.get(..3).unwrap_or(month),
                day,
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.year()
            );
        }
        'd' => num(out, u32::from(dt.day()), 2, '0'),
        'e' => num(out, u32::from(dt.day()), 2, ' '),
        'f' => num(out, dt.microsecond(), 6, '0'),
        'H' => num(out, u32::from(dt.hour()), 2, '0'),
        'I' => num(out, u32::from(hour12), 2, '0'),
        'j' => num(out, u32::from(dt.ordinal()), 3, '0'),
        'm' => num(out, u32::from(u8::from(dt.month())), 2, '0'),
        'M' => num(out, u32::from(dt.minute()), 2, '0'),
        'p' => out.push_str(if dt.hour() < 12 { "AM" } else { "PM" }),
        'S' => num(out, u32::from(dt.second()), 2, '0'),
        'u' => num(out, u32::from(dt.weekday().number_from_monday()), 1, '0'),
        'w' => num(
            out,
            u32::from(dt.weekday().number_days_from_sunday()),
            1,
            '0',
        ),
        'y' => num(out, dt.year().rem_euclid(100).unsigned_abs(), 2, '0'),
        'Y' => {
            let _ = write!(out, "{}", dt.year());
        }
        'D' => {
            let _ = write!(
                out,
                "{:02}/{:02}/{:02}",
                u8::from(dt.month()),
                dt.day(),
                dt.year().rem_euclid(100)
            );
        }
        'F' => {
            let _ = write!(
                out,
                "{}-{:02}-{:02}",
                dt.year(),
                u8::from(dt.month()),
                dt.day()
            );
        }
        'T' => {
            let _ = write!(
                out,
                "{:02}:{:02}:{:02}",
                dt.hour(),
                dt.minute(),
                dt.second()
            );
        }
        'R' => {
            let _ = write!(out, "{:02}:{:02}", dt.hour(), dt.minute());
        }
        'z' | 'Z' => {}
        'n' => out.push('\n'),
        't' => out.push('\t'),
        '%' => out.push('%'),
        _ => return Err(()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_like_python_in_the_c_locale() {
        // Expected strings from Python: datetime(2025, 3, 9, 14, 5, 7).strftime(fmt)
        let dt = datetime!(2025-03-09 14:05:07);
        let cases = [
            ("%d %b %Y", "09 Mar 2025"),
            ("%-d %B %Y", "9 March 2025"),
            ("%A %a %e|%j|%u %w", "Sunday Sun  9|068|7 0"),
            ("%H:%M:%S %I%p %f", "14:05:07 02PM 000000"),
            (
                "%D %F %T %R %y %%",
                "03/09/25 2025-03-09 14:05:07 14:05 25 %",
            ),
            ("%c", "Sun Mar  9 14:05:07 2025"),
            ("Today is %Y-%m-%d%z%Z.", "Today is 2025-03-09."),
        ];
        for (format, want) in cases {
            assert_eq!(strftime(&dt, format).unwrap(), want, "{format}");
        }
    }

    #[test]
    fn unknown_or_incomplete_directives_are_errors() {
        let dt = datetime!(2025-03-09 00:00:00);
        assert!(strftime(&dt, "%Q").unwrap_err().contains("%Q"));
        assert!(strftime(&dt, "100%").is_err());
        assert_eq!(strftime(&dt, "%I %p").unwrap(), "12 AM");
    }
}
