//! YAML text of a rendered manifest that every YAML reader reads back as the same JSON value.
//! kubectl, Argo CD and Flux read YAML 1.1, where plain `yes`, `on`, `n`, `0o17`, `2024_01_15`
//! and `1:20` are booleans and numbers; a YAML 1.2 emitter leaves them unquoted. So a string
//! is written plain only when no reader of either version can take it for anything else, and
//! quoted otherwise. Writes text only; it never decides what goes into a manifest.

use serde_json::{Map, Number, Value};

/// The value as a block-style YAML document (no `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => sequence(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn mapping(out: &mut String, map: &Map<String, Value>, level: usize) {
    for (key, value) in map {
        indent(out, level);
        out.push_str(&key_text(key));
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                mapping(out, m, level + 2);
            }
            // Sequence items sit at the key's indentation, as kubectl prints them.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(out, items, level);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar, level + 2));
                out.push('\n');
            }
        }
    }
}

fn sequence(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => {
                // The first key shares the dash's line; the others align under it.
                let mut nested = String::new();
                mapping(&mut nested, m, level + 2);
                out.push_str(&nested[level + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                sequence(&mut nested, inner, level + 2);
                out.push_str(&nested[level + 2..]);
            }
            scalar => {
                out.push_str(&inline(scalar, level + 2));
                out.push('\n');
            }
        }
    }
}

/// A scalar or empty collection; `block_indent` is where a literal block's lines start.
fn inline(value: &Value, block_indent: usize) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => string(s, block_indent),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Integers as they are; a float always with a `.` and no exponent, the one float form
/// YAML 1.1 readers (which need the dot) and 1.2 readers agree on.
fn number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if !(n.is_i64() || n.is_u64()) => {
            let text = format!("{f}");
            if text.contains('.') {
                text
            } else {
                format!("{text}.0")
            }
        }
        _ => n.to_string(),
    }
}

fn key_text(key: &str) -> String {
    if is_plain_safe(key) {
        key.to_owned()
    } else if is_single_quote_safe(key) {
        single_quoted(key)
    } else {
        double_quoted(key)
    }
}

fn string(s: &str, block_indent: usize) -> String {
    if is_plain_safe(s) {
        s.to_owned()
    } else if is_single_quote_safe(s) {
        single_quoted(s)
    } else if is_literal_block_safe(s) {
        literal_block(s, block_indent)
    } else {
        double_quoted(s)
    }
}

/// Words some YAML reader resolves to a boolean or null (YAML 1.1 and 1.2, any case).
const RETYPED_WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];

/// Plain only when no reader can take it for anything but a string: an ASCII letter or `/`
/// first (so no number, timestamp, `.inf`, `~`, `<<` or indicator), then letters, digits,
/// single spaces and `_ . / - : % + @ = ' , ( )`, no `: `, no trailing `:` or space, and none
/// of [`RETYPED_WORDS`]; or digits then letters only (`30s`, `512Mi`), which no reader takes
/// for a number unless it starts like `0x`, `0o` or `0b`.
fn is_plain_safe(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if first.is_ascii_digit() {
        let letters = s.trim_start_matches(|c: char| c.is_ascii_digit());
        let radix_prefix = first == '0' && letters.starts_with(['x', 'X', 'o', 'O', 'b', 'B']);
        return !letters.is_empty()
            && letters.chars().all(|c| c.is_ascii_alphabetic())
            && !radix_prefix;
    }
    (first.is_ascii_alphabetic() || first == '/')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_./-:%+@=',() ".contains(c))
        && !s.contains(": ")
        && !s.contains("  ")
        && !s.ends_with([':', ' '])
        && !RETYPED_WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// A character every reader takes as itself inside a quoted scalar on one line: no control
/// character, none of YAML 1.1's extra line breaks (U+0085, U+2028, U+2029), no byte-order
/// mark and no noncharacter (PyYAML refuses U+FFFE and U+FFFF).
fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        ))
}

fn is_single_quote_safe(s: &str) -> bool {
    s.chars().all(is_printable)
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Multi-line text (a dashboard's JSON, a long expression) as a `|` block, when its lines
/// need no escape and its first line sets the indentation unambiguously.
fn is_literal_block_safe(s: &str) -> bool {
    let first_line = s.split('\n').find(|l| !l.is_empty());
    s.contains('\n')
        && first_line.is_some_and(|l| !l.starts_with(' '))
        && s.chars()
            .all(|c| c == '\n' || (is_printable(c) && c != '\t'))
}

fn literal_block(s: &str, level: usize) -> String {
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(&mut out, level);
            out.push_str(line);
        }
    }
    out
}

/// Double quotes with every character that is not printable escaped, in escapes YAML 1.1
/// and 1.2 share (`\xHH`, `\uHHHH`).
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if !is_printable(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !is_printable(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_a_yaml_1_1_reader_would_retype_are_quoted() {
        for s in [
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "N",
            "true",
            "False",
            "null",
            "~",
            "",
            "2024_01_15",
            "0o17",
            "017",
            "0x1F",
            "1:20",
            ".inf",
            "-.Inf",
            ".nan",
            "1e3",
            "1_000",
            "2024-01-15",
            "<<",
            "=",
            "- x",
            "a: b",
            "#x",
            "x #y",
            "@x",
            "%x",
            "a:",
            "0x1f",
            "0o7",
            "0b1",
            "1e3",
            "x ",
            " x",
            "'x",
            "1.4.0",
        ] {
            let text = string(s, 0);
            assert!(
                text.starts_with('\'') || text.starts_with('"'),
                "{s:?} written as {text}"
            );
        }
        for s in [
            "fraud-detector",
            "app.kubernetes.io/name",
            "/healthz",
            "http://x:80/a",
            "30s",
            "512Mi",
            "0s",
            "ML services",
            "SLO a/b is burning at 14.4x",
        ] {
            assert_eq!(string(s, 0), s);
        }
    }

    #[test]
    fn layout_matches_kubectl_block_style() {
        let v = json!({"a": {"b": [1, {"c": "yes", "d": []}], "e": {}}, "f": "x\ny\n"});
        assert_eq!(
            to_yaml(&v),
            "a:\n  b:\n  - 1\n  - c: 'yes'\n    d: []\n  e: {}\nf: |\n  x\n  y\n"
        );
    }

    #[test]
    fn unprintable_characters_are_escaped() {
        assert_eq!(
            double_quoted("a\u{85}b\u{2028}\u{7}\"\\"),
            "\"a\\x85b\\u2028\\x07\\\"\\\\\""
        );
        assert_eq!(string(" x\ny", 2), "\" x\\ny\"");
        assert_eq!(number(&Number::from_f64(2.0).unwrap()), "2.0");
    }
}
