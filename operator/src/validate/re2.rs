//! Label-matcher regexes checked against the grammar Prometheus compiles them with: Go's
//! `regexp/syntax` with its Perl flags (RE2), not Rust's `regex` crate, which accepts `(?x)`,
//! class set operations and repeats above 1000 that Prometheus refuses or reads otherwise.
//! A check only: the regex text is passed on unchanged, Prometheus anchors it itself.

/// Unicode general categories Go's `\p{..}` knows in every release since Go 1.21 (`Cn` and
/// `LC` came later and are left out so that older Prometheus builds read the rules too).
const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

/// Unicode scripts of Go's `unicode.Scripts` (Unicode 15.0, Go 1.21 and later), exact case.
const SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cypro_Minoan",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nag_Mundari",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Old_Uyghur",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// POSIX classes Go accepts inside brackets, as `[:name:]` or `[:^name:]`.
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's limit on a repeat count, and on nested counts multiplied together.
const MAX_REPEAT: u64 = 1000;

/// Group nesting refused beyond this: Go refuses past a tree height of 1000, which a regex
/// nested this deep cannot reach (each group adds at most a handful of levels).
const MAX_NESTING: usize = 100;

/// Checks `regex` as Prometheus would compile it; the error names the problem and where.
pub(super) fn check(regex: &str) -> Result<(), String> {
    let mut p = Checker {
        s: regex.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.alternation()?;
    match p.peek() {
        None => Ok(()),
        Some(_) => Err(p.error("unexpected ), no group is open")),
    }
}

struct Checker {
    s: Vec<char>,
    pos: usize,
    depth: usize,
}

/// What the last token of a sequence was: Go refuses a repeat with no operand (`*a`, `(*)`,
/// `a|*`) and a repeat of a repeat (`a**`, the possessive `a++`, `a{2}{3}`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Nothing,
    Operand,
    Repeat,
}

impl Checker {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.s.get(self.pos + offset).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at character {} of the regex", self.pos + 1)
    }

    /// Alternatives up to an unmatched `)` or the end. Returns the largest product of nested
    /// `{n,m}` counts inside, for Go's rule that nested counts multiply to at most 1000.
    fn alternation(&mut self) -> Result<u64, String> {
        let mut weight = 1;
        let mut last = Last::Nothing;
        // The weight of the last operand is folded in only once it can no longer take a
        // repeat: `(?:a{1000}){0}` constrains nothing, as in Go.
        let mut pending: Option<u64> = None;
        while let Some(c) = self.peek() {
            match c {
                ')' => break,
                '|' => {
                    self.pos += 1;
                    weight = weight.max(pending.take().unwrap_or(1));
                    last = Last::Nothing;
                }
                '*' | '+' | '?' => {
                    self.repeat_operand(last)?;
                    self.pos += 1;
                    self.pos += usize::from(self.peek() == Some('?'));
                    last = Last::Repeat;
                }
                '{' => match self.counted_repeat()? {
                    None => {
                        self.pos += 1;
                        weight = weight.max(pending.replace(1).unwrap_or(1));
                        last = Last::Operand;
                    }
                    Some((min, max, end)) => {
                        self.repeat_operand(last)?;
                        // As Go's `repeatIsValid`: `{0}` constrains nothing inside it, `{n,}`
                        // counts as n, and `{0,}` as one.
                        let inner = pending.unwrap_or(1);
                        let product = match max {
                            Some(0) => 0,
                            _ => max.unwrap_or(min).max(1).saturating_mul(inner),
                        };
                        if (min >= 2 || max.is_some_and(|m| m >= 2)) && product > MAX_REPEAT {
                            return Err(self.error(&format!(
                                "nested repeat counts multiply to {product}, above Prometheus' \
                                 limit of {MAX_REPEAT}"
                            )));
                        }
                        pending = Some(product);
                        self.pos = end;
                        self.pos += usize::from(self.peek() == Some('?'));
                        last = Last::Repeat;
                    }
                },
                '(' => {
                    if let Some(inner) = self.group()? {
                        weight = weight.max(pending.replace(inner).unwrap_or(1));
                        last = Last::Operand;
                    } else if last == Last::Repeat {
                        // A flag group `(?i)` ends a run of repeats but is no operand itself.
                        last = Last::Operand;
                    }
                }
                _ => {
                    if self.atom()? {
                        weight = weight.max(pending.replace(1).unwrap_or(1));
                        last = Last::Operand;
                    } else if last == Last::Repeat {
                        last = Last::Operand;
                    }
                }
            }
        }
        Ok(weight.max(pending.unwrap_or(1)))
    }

    fn repeat_operand(&self, last: Last) -> Result<(), String> {
        match last {
            Last::Operand => Ok(()),
            Last::Nothing => Err(self.error("missing argument to repetition operator")),
            Last::Repeat => Err(self.error(
                "invalid nested repetition operator (Prometheus has no possessive `++` or \
                 stacked repeats; group first: (?:a*)*)",
            )),
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at the current position: `Some((min, max, end))`, or `None`
    /// when the brace does not start a repeat and is a literal `{` (Go's rule, e.g. `{,3}`).
    fn counted_repeat(&self) -> Result<Option<(u64, Option<u64>, usize)>, String> {
        let mut i = self.pos + 1;
        let Some(min) = self.int_at(&mut i) else {
            return Ok(None);
        };
        let max = match self.s.get(i) {
            Some('}') => Some(min),
            Some(',') => {
                i += 1;
                if self.s.get(i) == Some(&'}') {
                    None
                } else {
                    let Some(max) = self.int_at(&mut i) else {
                        return Ok(None);
                    };
                    Some(max)
                }
            }
            _ => return Ok(None),
        };
        if self.s.get(i) != Some(&'}') {
            return Ok(None);
        }
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
            return Err(self.error(&format!(
                "invalid repeat count {}: Prometheus allows 0 to {MAX_REPEAT}, minimum first",
                self.s[self.pos..=i].iter().collect::<String>()
            )));
        }
        Ok(Some((min, max, i + 1)))
    }

    /// Decimal digits at `*i` as Go's parser reads them: no leading zero (`{01}` is literal).
    fn int_at(&self, i: &mut usize) -> Option<u64> {
        let start = *i;
        while self.s.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        if *i == start || (*i - start >= 2 && self.s[start] == '0') {
            return None;
        }
        // Anything past eight digits is far beyond the limit; Go reports it as too large.
        let digits: String = self.s[start..*i].iter().take(9).collect();
        Some(digits.parse().unwrap_or(u64::MAX))
    }

    /// A group at `(`: `Some(weight)` for a group, `None` for a flag setting `(?flags)`.
    fn group(&mut self) -> Result<Option<u64>, String> {
        let open = self.pos;
        self.pos += 1;
        if self.peek() == Some('?') {
            self.pos += 1;
            if !self.group_prefix()? {
                return Ok(None);
            }
        }
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(&format!("groups nest deeper than {MAX_NESTING}")));
        }
        let weight = self.alternation()?;
        self.depth -= 1;
        if self.peek() != Some(')') {
            self.pos = open;
            return Err(self.error("missing closing ) of the group"));
        }
        self.pos += 1;
        Ok(Some(weight))
    }

    /// After `(?`: a name `P<name>`, or flags from `imsU` with one optional `-`, ended by
    /// `:` (a group follows: true) or `)` (flags only: false).
    fn group_prefix(&mut self) -> Result<bool, String> {
        let start = self.pos - 2;
        if self.peek() == Some('P') && self.peek_at(1) == Some('<') {
            self.pos += 2;
            let name_start = self.pos;
            while self
                .peek()
                .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
            {
                self.pos += 1;
            }
            if self.pos == name_start || self.peek() != Some('>') {
                self.pos = start;
                return Err(self.error("invalid named capture (names are [A-Za-z0-9_]+)"));
            }
            self.pos += 1;
            return Ok(true);
        }
        if self.peek() == Some('<')
            && self
                .peek_at(1)
                .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
        {
            self.pos = start;
            return Err(self.error(
                "write (?P<name>...): Prometheus releases built with Go before 1.22 refuse \
                 (?<name>...)",
            ));
        }
        let mut negated = false;
        let mut flag_seen = false;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                'i' | 'm' | 's' | 'U' => flag_seen = true,
                '-' if !negated => {
                    negated = true;
                    flag_seen = false;
                }
                ':' | ')' if !negated || flag_seen => return Ok(c == ':'),
                _ => break,
            }
        }
        let text: String = self.s[start..self.pos.min(self.s.len())].iter().collect();
        self.pos = start;
        Err(self.error(&format!(
            "invalid or unsupported Perl syntax {text:?}: Prometheus (RE2) has flags i, m, s \
             and U, (?:...) and (?P<name>...), and no lookaround, atomic groups, comments or \
             (?x)"
        )))
    }

    /// One atom at the current position; false when it consumed text that is no operand
    /// (an empty `\Q\E`).
    fn atom(&mut self) -> Result<bool, String> {
        match self.peek() {
            Some('[') => self.class().map(|()| true),
            Some('\\') => self.escape_outside_class(),
            Some(_) => {
                self.pos += 1;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn escape_outside_class(&mut self) -> Result<bool, String> {
        match self.peek_at(1) {
            Some('A' | 'b' | 'B' | 'z') => {
                self.pos += 2;
                Ok(true)
            }
            Some('C') => Err(self.error("\\C (any byte) is not supported")),
            Some('Q') => {
                // Everything up to `\E` (or the end) is literal text.
                self.pos += 2;
                let start = self.pos;
                while self.pos < self.s.len()
                    && !(self.peek() == Some('\\') && self.peek_at(1) == Some('E'))
                {
                    self.pos += 1;
                }
                let had_text = self.pos > start;
                if self.pos < self.s.len() {
                    self.pos += 2;
                }
                Ok(had_text)
            }
            _ => {
                if !self.unicode_or_perl_class()? {
                    self.escaped_char()?;
                }
                Ok(true)
            }
        }
    }

    /// `\pL`, `\p{Greek}`, `\P{^Greek}`, `\d`, `\s`, `\w` and their negations; false when
    /// the text at the current position is none of them.
    fn unicode_or_perl_class(&mut self) -> Result<bool, String> {
        if self.peek() != Some('\\') {
            return Ok(false);
        }
        match self.peek_at(1) {
            Some('d' | 'D' | 's' | 'S' | 'w' | 'W') => {
                self.pos += 2;
                Ok(true)
            }
            Some('p' | 'P') => {
                let start = self.pos;
                self.pos += 2;
                let name: String = if self.peek() == Some('{') {
                    let close = self.s[self.pos..].iter().position(|&c| c == '}');
                    let Some(close) = close else {
                        self.pos = start;
                        return Err(self.error("\\p{ without a closing }"));
                    };
                    let name = self.s[self.pos + 1..self.pos + close].iter().collect();
                    self.pos += close + 1;
                    name
                } else {
                    let name = self.peek().map(String::from).unwrap_or_default();
                    self.pos += 1;
                    name
                };
                let bare = name.strip_prefix('^').unwrap_or(&name);
                if bare == "Any" || CATEGORIES.contains(&bare) || SCRIPTS.contains(&bare) {
                    Ok(true)
                } else if ["Cn", "LC"].contains(&bare) {
                    self.pos = start;
                    Err(self.error(&format!(
                        "\\p{{{name}}} is known only to Prometheus built with newer Go releases \
                         (1.25 and later)"
                    )))
                } else {
                    self.pos = start;
                    Err(self.error(&format!(
                        "unknown Unicode class {name:?} (Prometheus knows Any, the general \
                         categories such as L or Nd, and scripts such as Greek, exact case)"
                    )))
                }
            }
            _ => Ok(false),
        }
    }

    /// A single-character escape as Go's `parseEscape` reads it (`\.`, `\x41`, `\x{1F6A8}`,
    /// `\101`, `\n`); refuses what Go refuses, such as `\1` (a back reference) or `\Z`.
    fn escaped_char(&mut self) -> Result<char, String> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.peek() else {
            self.pos = start;
            return Err(self.error("trailing backslash at end of expression"));
        };
        self.pos += 1;
        let is_octal = |c: Option<char>| c.is_some_and(|c| ('0'..='7').contains(&c));
        let value = match c {
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Some(c),
            '1'..='7' if !is_octal(self.peek()) => None,
            '0'..='7' => {
                let mut v = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    if !is_octal(self.peek()) {
                        break;
                    }
                    v = v * 8 + self.peek().and_then(|d| d.to_digit(8)).unwrap_or(0);
                    self.pos += 1;
                }
                char::from_u32(v)
            }
            'x' => self.hex_escape(),
            'a' => Some('\u{7}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        value.ok_or_else(|| {
            let text: String = self.s[start..self.pos.min(self.s.len())].iter().collect();
            self.error_at(
                start,
                &format!(
                    "invalid escape {text} (Prometheus (RE2) has no back references, \\Z, \\h, \
                     \\e, \\cX or \\K; escape only punctuation)"
                ),
            )
        })
    }

    fn error_at(&self, pos: usize, what: &str) -> String {
        format!("{what} at character {} of the regex", pos + 1)
    }

    /// After `\x`: two hex digits or `{hex...}` up to U+10FFFF.
    fn hex_escape(&mut self) -> Option<char> {
        if self.peek() == Some('{') {
            let mut v: u32 = 0;
            let mut digits = 0;
            self.pos += 1;
            loop {
                let c = self.peek()?;
                self.pos += 1;
                if c == '}' {
                    break;
                }
                v = v.checked_mul(16)? + c.to_digit(16)?;
                if v > 0x10FFFF {
                    return None;
                }
                digits += 1;
            }
            return if digits == 0 {
                None
            } else {
                // Go takes surrogate values here and matches nothing with them; any value
                // up to U+10FFFF compiles.
                Some(char::from_u32(v).unwrap_or('\u{FFFD}'))
            };
        }
        let hi = self.peek()?.to_digit(16)?;
        self.pos += 1;
        let lo = self.peek()?.to_digit(16)?;
        self.pos += 1;
        char::from_u32(hi * 16 + lo)
    }

    /// A bracketed class at `[`. Go reads `&&` there as two literal `&`, where Rust, Java
    /// and .NET regexes read an intersection: refused, as the two cannot mean the same.
    fn class(&mut self) -> Result<(), String> {
        let open = self.pos;
        self.pos += 1;
        if self.peek() == Some('^') {
            self.pos += 1;
        }
        let mut first = true;
        loop {
            match self.peek() {
                None => {
                    self.pos = open;
                    return Err(self.error("missing closing ] of the character class"));
                }
                Some(']') if !first => break,
                _ => {}
            }
            first = false;
            if self.peek() == Some('&') && self.peek_at(1) == Some('&') {
                return Err(self.error(
                    "`&&` inside a character class: Prometheus (RE2) has no class \
                     intersection and would read two literal `&` (write one, or escape it as \\&)",
                ));
            }
            if self.posix_class()? || self.unicode_or_perl_class()? {
                continue;
            }
            let lo = self.class_char(open)?;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                let range_start = self.pos - 1;
                self.pos += 1;
                let hi = self.class_char(open)?;
                if hi < lo {
                    return Err(self.error_at(range_start, "invalid character class range"));
                }
            }
        }
        self.pos += 1;
        Ok(())
    }

    /// `[:alpha:]` or `[:^alpha:]` inside a class; false when the text is not one (Go then
    /// reads the `[` as a literal).
    fn posix_class(&mut self) -> Result<bool, String> {
        if !(self.peek() == Some('[') && self.peek_at(1) == Some(':')) {
            return Ok(false);
        }
        let rest: String = self.s[self.pos + 2..].iter().collect();
        let Some(end) = rest.find(":]") else {
            return Ok(false);
        };
        let name = &rest[..end];
        let bare = name.strip_prefix('^').unwrap_or(name);
        if !POSIX_CLASSES.contains(&bare) {
            return Err(self.error(&format!("unknown POSIX class [:{name}:]")));
        }
        self.pos += 2 + name.chars().count() + 2;
        Ok(true)
    }

    fn class_char(&mut self, open: usize) -> Result<char, String> {
        match self.peek() {
            None => Err(self.error_at(open, "missing closing ] of the character class")),
            Some('\\') => self.escaped_char(),
            Some(c) => {
                self.pos += 1;
                Ok(c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn regexes_prometheus_compiles_pass() {
        for ok in [
            "",
            "5..",
            "(?i)get|post",
            "(?i:a)(?-s:b)(?U)c(?ms-iU:d)",
            "(?)",
            "a{1000}",
            "a{2,1000}b{0}c{3,}d{,5}e{01}",
            "(?:a{10}){100}",
            "(?:a{1000}){0}",
            "(?:a{1000}){1,}",
            "a*?b+?c??d{2}?",
            "^*",
            "a(?i)*",
            r"\d\D\s\S\w\W\pL\PL\p{Greek}\p{^Han}\PN\p{Any}",
            r"[[:alpha:][:^digit:]\d\p{Lu}a-z\-\]]",
            "[]a]",
            "[^]a]",
            "[a-]",
            "[-a]",
            "[a[b]",
            r"\x41\x{1F6A8}\101\0\n\t\.\_\<\Q.*+\E\A\b\B\z",
            "(?P<code>5..)",
            "}{]",
            r"/v2/models/\{name\}/infer",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn regexes_prometheus_refuses_are_refused() {
        for (bad, says) in [
            ("(?x) 5 . .", "Perl syntax"),
            ("a{1001}", "repeat count"),
            ("a{5,2}", "repeat count"),
            ("(?:a{10}){101}", "multiply"),
            ("(?:(?:a{10}){10}){11}", "multiply"),
            ("[0-9&&[^4]]", "&&"),
            ("(?=a)", "Perl syntax"),
            ("(?!a)", "Perl syntax"),
            ("(?<=a)b", "Perl syntax"),
            ("(?<name>a)", "(?P<name>"),
            ("(?>a)", "Perl syntax"),
            ("(?#c)", "Perl syntax"),
            ("(?-)", "Perl syntax"),
            ("(?i-)", "Perl syntax"),
            ("(?P<>a)", "named capture"),
            ("(a)\\1", "invalid escape"),
            ("a++", "nested repetition"),
            ("a**", "nested repetition"),
            ("a{2}{3}", "nested repetition"),
            ("a*??", "nested repetition"),
            ("*a", "missing argument"),
            ("a|*", "missing argument"),
            ("(*)", "missing argument"),
            ("(?i)*", "missing argument"),
            ("(a", "missing closing )"),
            ("a)", "unexpected )"),
            ("a)|(b", "unexpected )"),
            ("[a", "missing closing ]"),
            ("[z-a]", "range"),
            ("\\", "trailing backslash"),
            ("\\Z", "invalid escape"),
            ("\\q", "invalid escape"),
            ("[\\b]", "invalid escape"),
            ("\\C", "any byte"),
            ("\\p{Foo}", "Unicode class"),
            ("\\p{greek}", "Unicode class"),
            ("\\p{LC}", "newer Go"),
            ("[[:foo:]]", "POSIX"),
            ("\\x{110000}", "invalid escape"),
            ("\\xg", "invalid escape"),
        ] {
            let err = check(bad).expect_err(bad);
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
