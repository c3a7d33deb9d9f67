//! PromQL string literals read exactly as Prometheus reads them: its lexer's escape grammar
//! and `strutil.Unquote` (Go's string-literal rules). A value must mean here what it means to
//! Prometheus, so an escape is either decoded the same way or refused; nothing is kept
//! verbatim "just in case". Parsing only: printing a value back is `promql::quote`'s job.

/// Reads the string literal that starts at `chars[start]` (a `"`, `'` or `` ` ``) and returns
/// its value and the index just past its closing quote.
///
/// Double- and single-quoted strings take Go's escapes: `\a \b \f \n \r \t \v \\`, the
/// string's own quote, `\xHH` and `\OOO` (one byte each), `\uHHHH` and `\UHHHHHHHH` (a code
/// point). Raw (backtick) strings take none. The bytes must form UTF-8: Prometheus would take
/// `"\xff"` as a byte no series carries, so it is refused rather than silently never matching.
pub(super) fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let quote = match chars.get(start) {
        Some(&q @ ('"' | '\'' | '`')) => q,
        _ => {
            return Err(format!(
                "expected a quoted value at character {}",
                start + 1
            ));
        }
    };
    let mut bytes = Vec::new();
    let mut pos = start + 1;
    loop {
        let Some(&c) = chars.get(pos) else {
            return Err(format!(
                "unterminated string starting at character {}",
                start + 1
            ));
        };
        pos += 1;
        if c == quote {
            break;
        }
        if quote == '`' {
            // Prometheus keeps a raw string's text as it is, line breaks included; a carriage
            // return is refused because Go's own unquoting would drop it.
            if c == '\r' {
                return Err("a carriage return inside a raw string".into());
            }
            push_char(&mut bytes, c);
            continue;
        }
        match c {
            '\n' => return Err("a line break inside a quoted string (write \\n)".into()),
            '\\' => pos = escape(chars, pos, quote, &mut bytes)?,
            c => push_char(&mut bytes, c),
        }
    }
    let value = String::from_utf8(bytes).map_err(|_| {
        format!(
            "the string starting at character {} holds bytes that are not UTF-8 (\\x and octal \
             escapes are single bytes: write \\u00e9, not \\xe9)",
            start + 1
        )
    })?;
    Ok((value, pos))
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Decodes the escape after a backslash at `chars[pos - 1]`; returns the index past it.
fn escape(chars: &[char], pos: usize, quote: char, bytes: &mut Vec<u8>) -> Result<usize, String> {
    let Some(&e) = chars.get(pos) else {
        return Err("escape sequence not terminated".into());
    };
    let simple = match e {
        'a' => Some(0x07),
        'b' => Some(0x08),
        'f' => Some(0x0c),
        'n' => Some(b'\n'),
        'r' => Some(b'\r'),
        't' => Some(b'\t'),
        'v' => Some(0x0b),
        '\\' => Some(b'\\'),
        c if c == quote => Some(c as u8),
        _ => None,
    };
    if let Some(byte) = simple {
        bytes.push(byte);
        return Ok(pos + 1);
    }
    let (digits, radix, first) = match e {
        '0'..='7' => (3, 8, pos),
        'x' => (2, 16, pos + 1),
        'u' => (4, 16, pos + 1),
        'U' => (8, 16, pos + 1),
        other => {
            return Err(format!(
                "unknown escape sequence \\{other} in a string: PromQL knows \\a \\b \\f \\n \\r \
                 \\t \\v \\\\ \\{quote} \\xHH \\OOO \\uHHHH \\UHHHHHHHH; a regular expression's \
                 \\{other} is written \\\\{other} or inside `backticks`"
            ));
        }
    };
    let mut value: u32 = 0;
    for i in 0..digits {
        let d = chars
            .get(first + i)
            .and_then(|c| c.to_digit(radix))
            .ok_or_else(|| {
                format!(
                    "\\{e} needs {} {} digits",
                    if e.is_ascii_digit() { 3 } else { digits },
                    if radix == 8 { "octal" } else { "hex" }
                )
            })?;
        value = value * radix + d;
    }
    let end = first + digits;
    match e {
        'x' | '0'..='7' => {
            let byte = u8::try_from(value)
                .map_err(|_| format!("octal escape \\{value:o} is above \\377"))?;
            bytes.push(byte);
        }
        _ => {
            let c = char::from_u32(value)
                .ok_or_else(|| format!("\\{e}{value:X} is not a valid Unicode code point"))?;
            push_char(bytes, c);
        }
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::string_literal;

    fn read(text: &str) -> Result<String, String> {
        let chars: Vec<char> = text.chars().collect();
        string_literal(&chars, 0).and_then(|(v, end)| {
            if end == chars.len() {
                Ok(v)
            } else {
                Err(format!("trailing text at {end}"))
            }
        })
    }

    #[test]
    fn go_escapes_decode_to_what_prometheus_reads() {
        assert_eq!(read(r#""\x63anary""#).unwrap(), "canary");
        assert_eq!(read(r#""\143anary""#).unwrap(), "canary");
        assert_eq!(read(r#""\u00e9\U0001F6A8""#).unwrap(), "é🚨");
        assert_eq!(read(r#""\xc3\xa9""#).unwrap(), "é", "two bytes of UTF-8");
        assert_eq!(
            read(r#""\a\b\f\n\r\t\v\\\"""#).unwrap(),
            "\u{7}\u{8}\u{c}\n\r\t\u{b}\\\""
        );
        assert_eq!(read(r"'it\'s'").unwrap(), "it's");
        assert!(
            read(r#"'say \"hi\"'"#)
                .unwrap_err()
                .contains("unknown escape")
        );
        assert_eq!(
            read("`5\\d\\d`").unwrap(),
            "5\\d\\d",
            "raw strings take no escapes"
        );
        assert_eq!(read("`a\nb`").unwrap(), "a\nb");
    }

    #[test]
    fn escapes_prometheus_refuses_are_refused() {
        for bad in [
            r#""\q""#,
            r#""\.""#,
            r#""\d""#,
            r#""\'""#,
            r#""\x6""#,
            r#""\xg0""#,
            r#""\400""#,
            r#""\18""#,
            r#""\uD800""#,
            r#""\U00110000""#,
            r#""\xff""#,
            r#""\"#,
            "\"a\nb\"",
            "`a\rb`",
            "\"open",
        ] {
            assert!(read(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
