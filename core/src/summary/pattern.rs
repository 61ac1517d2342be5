//! The part of Python's `re.match` that `summary(layer_range=…)` needs, without allocation.
//!
//! Keras matches each end of `layer_range` with `re.match(pattern, layer.name)`: a match
//! anchored at the start of the name, not the whole name (`"dense"` matches `dense_3`).
//! Supported: literals, `.`, classes `[a-z_]` / `[^0-9]`, escapes `\d \w \s \D \W \S` and
//! escaped punctuation, quantifiers `* + ? {n} {n,} {n,m}` (greedy, or lazy with `?`),
//! anchors `^` and `$`, and top-level alternation `a|b`. Groups are rejected with an error
//! rather than matched wrongly.

/// Why a pattern cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// Valid Python syntax that kiln's matcher does not implement (groups, lookaround, …).
    Unsupported,
    /// Not a valid regular expression (unbalanced `[`, dangling `\`, nothing to repeat).
    Invalid,
}

/// `re.match(pattern, text) is not None`.
pub fn matches_prefix(pattern: &str, text: &str) -> Result<bool, PatternError> {
    let mut any = false;
    for alternative in split_alternatives(pattern)? {
        let alternative = alternative.strip_prefix('^').unwrap_or(alternative);
        if match_here(alternative, text)? {
            any = true;
        }
    }
    Ok(any)
}

/// Splits at `|` outside classes and escapes. Groups are rejected first.
fn split_alternatives(pattern: &str) -> Result<impl Iterator<Item = &str>, PatternError> {
    let mut in_class = false;
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' | ')' if !in_class => return Err(PatternError::Unsupported),
            _ => {}
        }
    }
    let mut rest = Some(pattern);
    Ok(core::iter::from_fn(move || {
        let text = rest?;
        let (mut in_class, mut escaped) = (false, false);
        for (i, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '[' if !in_class => in_class = true,
                ']' if in_class => in_class = false,
                '|' if !in_class => {
                    rest = Some(&text[i + 1..]);
                    return Some(&text[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    }))
}

/// One thing that matches one character.
#[derive(Clone, Copy)]
enum Atom<'p> {
    Any,
    Literal(char),
    /// `\d`, `\w`, `\s` and their negations.
    Escape(char),
    /// The body of `[...]`, without the brackets.
    Class(&'p str),
}

impl Atom<'_> {
    fn matches(&self, c: char) -> bool {
        match *self {
            Atom::Any => c != '\n',
            Atom::Literal(l) => l == c,
            Atom::Escape(e) => escape_matches(e, c),
            Atom::Class(body) => class_matches(body, c),
        }
    }
}

fn escape_matches(e: char, c: char) -> bool {
    match e {
        'd' => c.is_ascii_digit(),
        'D' => !c.is_ascii_digit(),
        'w' => c.is_alphanumeric() || c == '_',
        'W' => !(c.is_alphanumeric() || c == '_'),
        's' => c.is_whitespace(),
        'S' => !c.is_whitespace(),
        other => other == c,
    }
}

fn class_matches(body: &str, c: char) -> bool {
    let (negated, body) = match body.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let mut chars = body.chars().peekable();
    let mut found = false;
    let mut first = true;
    while let Some(mut lo) = chars.next() {
        let mut is_escape = false;
        if lo == '\\' {
            lo = chars.next().unwrap_or('\\');
            is_escape = true;
            if matches!(lo, 'd' | 'D' | 'w' | 'W' | 's' | 'S') {
                found |= escape_matches(lo, c);
                first = false;
                continue;
            }
        }
        let _ = (first, is_escape);
        first = false;
        let mut lookahead = chars.clone();
        if lookahead.next() == Some('-') {
            if let Some(hi) = lookahead.next() {
                let hi = if hi == '\\' {
                    lookahead.next().unwrap_or('\\')
                } else {
                    hi
                };
                chars = lookahead;
                found |= (lo..=hi).contains(&c);
                continue;
            }
        }
        found |= lo == c;
    }
    found != negated
}

/// Reads the atom at the start of `pattern`; returns it and the byte length it used.
fn parse_atom(pattern: &str) -> Result<(Atom<'_>, usize), PatternError> {
    let mut chars = pattern.chars();
    let c = chars.next().ok_or(PatternError::Invalid)?;
    match c {
        '.' => Ok((Atom::Any, 1)),
        '\\' => {
            let e = chars.next().ok_or(PatternError::Invalid)?;
            if e.is_ascii_alphanumeric() && !matches!(e, 'd' | 'D' | 'w' | 'W' | 's' | 'S') {
                // \b, \A, \1, … have meanings kiln does not implement.
                return Err(PatternError::Unsupported);
            }
            Ok((Atom::Escape(e), 1 + e.len_utf8()))
        }
        '[' => {
            // A `]` right after `[` or `[^` is a literal member, as in Python.
            let start = if pattern[1..].starts_with('^') { 2 } else { 1 };
            let mut escaped = false;
            for (i, ch) in pattern[start..].char_indices() {
                let at = start + i;
                match ch {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    ']' if at > start => return Ok((Atom::Class(&pattern[1..at]), at + 1)),
                    _ => {}
                }
            }
            Err(PatternError::Invalid)
        }
        '*' | '+' | '?' | '{' => Err(PatternError::Invalid),
        other => Ok((Atom::Literal(other), other.len_utf8())),
    }
}

/// A quantifier after an atom: `(min, max, lazy, byte length)`.
fn parse_quantifier(pattern: &str) -> Result<(usize, usize, bool, usize), PatternError> {
    let (min, max, len) = match pattern.chars().next() {
        Some('*') => (0, usize::MAX, 1),
        Some('+') => (1, usize::MAX, 1),
        Some('?') => (0, 1, 1),
        Some('{') => match parse_braces(pattern) {
            Some(q) => q,
            // Python treats a malformed `{` as a literal; so does the atom parser then.
            None => return Ok((1, 1, false, 0)),
        },
        _ => return Ok((1, 1, false, 0)),
    };
    if pattern[len..].starts_with(['*', '+']) {
        return Err(PatternError::Unsupported);
    }
    let lazy = pattern[len..].starts_with('?');
    Ok((min, max, lazy, len + lazy as usize))
}

fn parse_braces(pattern: &str) -> Option<(usize, usize, usize)> {
    let end = pattern.find('}')?;
    let body = &pattern[1..end];
    let number = |s: &str| -> Option<usize> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(body)?;
            (n, n)
        }
        Some((lo, hi)) => (
            if lo.is_empty() { 0 } else { number(lo)? },
            if hi.is_empty() {
                usize::MAX
            } else {
                number(hi)?
            },
        ),
    };
    Some((min, max, end + 1))
}

fn match_here(pattern: &str, text: &str) -> Result<bool, PatternError> {
    if pattern.is_empty() {
        return Ok(true);
    }
    if pattern == "$" {
        return Ok(text.is_empty() || text == "\n");
    }
    let (atom, atom_len) = match pattern.as_bytes()[0] {
        b'{' if parse_braces(pattern).is_none() => (Atom::Literal('{'), 1),
        _ => parse_atom(pattern)?,
    };
    let (min, max, lazy, q_len) = parse_quantifier(&pattern[atom_len..])?;
    let rest = &pattern[atom_len + q_len..];

    // Byte offsets in `text` after 0, 1, 2, … repetitions of the atom.
    let mut ends: heapless::Vec<usize, 128> = heapless::Vec::new();
    let _ = ends.push(0);
    for (i, c) in text.char_indices() {
        if ends.len() > max || !atom.matches(c) {
            break;
        }
        if ends.push(i + c.len_utf8()).is_err() {
            return Err(PatternError::Unsupported);
        }
    }
    let count = ends.len() - 1;
    if count < min {
        return Ok(false);
    }
    let upper = count.min(max);
    if lazy {
        for n in min..=upper {
            if match_here(rest, &text[ends[n]..])? {
                return Ok(true);
            }
        }
    } else {
        for n in (min..=upper).rev() {
            if match_here(rest, &text[ends[n]..])? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        matches_prefix(p, t).unwrap()
    }

    #[test]
    fn prefix_semantics_like_re_match() {
        assert!(m("dense", "dense_3"));
        assert!(m("dense_1", "dense_1"));
        assert!(!m("dense_1", "dense"));
        assert!(!m("ense", "dense"));
        assert!(m("dense$", "dense"));
        assert!(!m("dense$", "dense_1"));
    }

    #[test]
    fn keras_notes_examples() {
        assert!(m("drop.*", "dropout"));
        assert!(m("dense_[34]", "dense_3"));
        assert!(m("dense_[34]", "dense_4"));
        assert!(!m("dense_[34]", "dense_2"));
        assert!(!m("nope", "dense"));
    }

    #[test]
    fn quantifiers_classes_and_alternation() {
        assert!(m(r"conv\d+", "conv2d"));
        assert!(!m(r"conv\d+", "conv_2d"));
        assert!(m("a{2,3}b", "aaab"));
        assert!(!m("a{2,3}b", "ab"));
        assert!(m("[^x]+_1$", "dense_1"));
        assert!(m("max|dense", "dense_1"));
        assert!(m("de?n", "dn"));
        assert!(m("^d.*?_", "dense_1"));
        assert!(m("[a-c]", "b"));
        assert!(!m("[a-c]", "d"));
    }

    #[test]
    fn unsupported_and_invalid_are_errors() {
        assert_eq!(
            matches_prefix("(dense)", "dense"),
            Err(PatternError::Unsupported)
        );
        assert_eq!(matches_prefix("[abc", "a"), Err(PatternError::Invalid));
        assert_eq!(matches_prefix("*a", "a"), Err(PatternError::Invalid));
    }
}
