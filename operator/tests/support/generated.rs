//! Generators of hostile but plausible input: PromQL series selectors whose values use every
//! string-literal form and escape PromQL has (and some it refuses), regexes at the edges of
//! RE2's grammar, and label texts a YAML 1.1 reader would retype. Cases are drawn from a
//! fixed seed so that a failure names an input that reproduces.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// `count` values of `strategy`, from a fixed seed.
pub fn sample<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..count)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("strategy yields")
                .current()
        })
        .collect()
}

/// Text that YAML 1.1 readers retype when written plain, and other awkward strings.
pub const YAML_RETYPED: &[&str] = &[
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "False",
    "null",
    "~",
    "2024_01_15",
    "0o17",
    "017",
    "0x1F",
    "1:20",
    "190:20:30",
    ".inf",
    ".NaN",
    "1e3",
    "1.10",
    "1_000",
    "2024-01-15",
    "<<",
    "=",
    "-",
    "0",
    "+1",
    "@x",
    "%x",
];

/// Characters a value is built from: ASCII, both quotes, backslash, unicode, YAML 1.1 line
/// breaks, a byte-order mark and control characters.
fn value_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => proptest::char::range(' ', '~'),
        1 => prop::sample::select(vec![
            'é', 'ñ', '🚨', 'チ', '\u{202e}', '\u{85}', '\u{2028}', '\u{2029}', '\u{feff}',
            '\u{7}', '\t', '\u{1b}', '"', '\'', '`', '\\', '{', '}', '$',
        ]),
    ]
}

/// A label value or regex as PromQL text: the value's characters written raw or through a
/// Go escape, in a double-quoted, single-quoted or raw string, plus now and then an escape
/// Prometheus refuses.
pub fn literal(value: &str) -> impl Strategy<Value = String> + use<> {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    (
        0..3u8,
        prop::collection::vec(0..8u8, n),
        prop::option::weighted(0.15, bad_escape()),
    )
        .prop_map(move |(style, encodings, bad)| {
            let quote = ['"', '\'', '`'][usize::from(style)];
            if quote == '`' && !chars.contains(&'`') && bad.is_none() {
                return format!("`{}`", chars.iter().collect::<String>());
            }
            let quote = if quote == '`' { '"' } else { quote };
            let mut out = String::from(quote);
            for (c, how) in chars.iter().zip(&encodings) {
                out.push_str(&encode(*c, quote, *how));
            }
            if let Some(bad) = &bad {
                out.push_str(bad);
            }
            out.push(quote);
            out
        })
}

fn bad_escape() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r"\q",
        r"\.",
        r"\d",
        r"\x6",
        r"\xzz",
        r"\400",
        r"\18",
        r"\uD800",
        r"\U00110000",
        r"\xff",
        r"\u12",
        r"\'",
        r#"\""#,
        r"\8",
    ])
    .prop_map(str::to_owned)
}

/// `c` inside a `quote`d PromQL string: raw when legal, else escaped; `how` picks among the
/// encodings Go reads back as `c`.
fn encode(c: char, quote: char, how: u8) -> String {
    let code = c as u32;
    let must_escape = c == quote || c == '\\' || c == '\n';
    match how {
        0..=3 if !must_escape => c.to_string(),
        4 if code < 0x80 => format!("\\x{code:02x}"),
        5 if code < 0x80 => format!("\\{code:03o}"),
        6 if code < 0x10000 => format!("\\u{code:04X}"),
        7 => format!("\\U{code:08x}"),
        _ => match c {
            '\n' => "\\n".into(),
            '\\' => "\\\\".into(),
            c if c == quote => format!("\\{c}"),
            '\t' => "\\t".into(),
            _ if must_escape || code < 0x20 => format!("\\u{code:04x}"),
            c => {
                // Multi-byte UTF-8 as `\x` bytes, the form the original bug dropped.
                let mut buf = [0; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("\\x{b:02x}"))
                    .collect()
            }
        },
    }
}

/// A plain label value.
pub fn label_value() -> impl Strategy<Value = String> {
    prop::collection::vec(value_char(), 0..12).prop_map(|v| v.into_iter().collect())
}

/// A regex near the edges of RE2's grammar: mostly valid, sometimes not.
pub fn regex() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "a",
        "5",
        ".",
        r"\d",
        r"\w",
        r"\s",
        r"\.",
        r"\pL",
        r"\p{Greek}",
        r"\PN",
        r"\p{^Han}",
        "[a-z]",
        "[^0-9]",
        "[[:alpha:]]",
        r"[\d\-_]",
        "[]x]",
        r"\x41",
        r"\x{1F6A8}",
        r"\101",
        r"\Q.*\E",
        "^",
        "$",
        r"\b",
        "é",
        "🚨",
        "{",
        "}",
        "(?i:x)",
        "(?P<n>x)",
        "(?:ab|c)",
        "()",
        // refused by Prometheus, or by Tidewatch as meaning something else elsewhere:
        "(?x)a",
        "(?=a)",
        "(?<n>a)",
        "(?#c)",
        r"\1",
        r"\Z",
        "[0-9&&[^4]]",
        r"\p{greek}",
        "[z-a]",
        "(",
        ")",
        "[a",
        "\\",
    ]);
    let repeat = prop::sample::select(vec![
        "",
        "",
        "",
        "*",
        "+",
        "?",
        "*?",
        "{2}",
        "{0,3}",
        "{3,}",
        "{1000}",
        "{1001}",
        "{999,1000}",
        "{5,2}",
        "{,4}",
        "{01}",
        "**",
        "++",
        "{2}{3}",
    ]);
    let flags = prop::sample::select(vec![
        "", "", "", "(?i)", "(?s)", "(?U)", "(?m)", "(?-i)", "(?x)",
    ]);
    (flags, prop::collection::vec((atom, repeat), 0..5), 0..3u8).prop_map(|(f, parts, alt)| {
        let body: String = parts.iter().map(|(a, r)| format!("{a}{r}")).collect();
        match alt {
            0 => format!("{f}{body}"),
            1 => format!("{f}{body}|x"),
            _ => format!("{f}(?:{body}){{10}}"),
        }
    })
}

/// A metric name, now and then a PromQL keyword.
pub fn metric_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        1 => prop::sample::select(vec!["sum", "by", "on", "bool", "inf", "NaN", "offset", "atan2"])
            .prop_map(str::to_owned),
    ]
}

/// A label matcher as PromQL text: name, operator and a literal of a value or regex.
pub fn matcher() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z][a-zA-Z0-9_]{0,8}",
        0..4usize,
        label_value(),
        regex(),
    )
        .prop_flat_map(|(name, op, value, re)| {
            let op_text = ["=", "!=", "=~", "!~"][op];
            let content = if op >= 2 { re } else { value };
            literal(&content).prop_map(move |lit| format!("{name}{op_text}{lit}"))
        })
}

/// A whole series selector.
pub fn selector() -> impl Strategy<Value = String> {
    (
        metric_name(),
        prop::collection::vec(matcher(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(metric, matchers, spaced)| {
            if matchers.is_empty() {
                metric
            } else if spaced {
                format!("{metric} {{ {} }}", matchers.join(" , "))
            } else {
                format!("{metric}{{{}}}", matchers.join(","))
            }
        })
}
