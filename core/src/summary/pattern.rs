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
    /// More than [`MAX_PATTERN_STEPS`] steps once repeats are counted out.
    TooLong,
}

/// Most steps a pattern compiles to (each literal, class or `.` is one, a counted repeat
/// `x{n,m}` is `m` of them): the matcher's state is a bit per step, on the stack.
pub const MAX_PATTERN_STEPS: usize = 128;

/// `re.match(pattern, text) is not None`, in time proportional to `text.len()` times the
/// pattern's steps (no backtracking: every way the pattern can go is followed at once).
pub fn matches_prefix(pattern: &str, text: &str) -> Result<bool, PatternError> {
    let program = Program::compile(pattern)?;
    Ok(program.matches_prefix(pattern, text))
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
            Some((min, max, len)) => {
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
                    // Python: "the repetition number is too large" / "min repeat greater
                    // than max repeat".
                    return Err(PatternError::Invalid);
                }
                (min as usize, max.map_or(usize::MAX, |m| m as usize), len)
            }
            // Python treats a malformed `{` as a literal; so does the atom parser then.
            None => return Ok((1, 1, false, 0)),
        },
        _ => return Ok((1, 1, false, 0)),
    };
    let after = &pattern[len..];
    if after.starts_with('+') {
        // x*+ is Python's possessive repeat.
        return Err(PatternError::Unsupported);
    }
    let lazy = after.starts_with('?');
    let rest = &after[lazy as usize..];
    if rest.starts_with(['*', '+', '?']) || (rest.starts_with('{') && parse_braces(rest).is_some())
    {
        // Python: "multiple repeat".
        return Err(PatternError::Invalid);
    }
    Ok((min, max, lazy, len + lazy as usize))
}

/// Python's largest repeat count (`MAXREPEAT - 1`); a bigger one is an error there.
const MAX_REPEAT: u64 = 4_294_967_294;

/// `{n}`, `{n,}`, `{,m}`, `{n,m}`: `(min, max, byte length)`, `max` `None` when open;
/// `None` when the braces are not a repeat (Python then reads `{` as a literal).
fn parse_braces(pattern: &str) -> Option<(u64, Option<u64>, usize)> {
    let end = pattern.find('}')?;
    let body = &pattern[1..end];
    // Digits beyond u64 saturate: they are over MAX_REPEAT either way.
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            Some(s.parse().unwrap_or(u64::MAX))
        }
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(body)?;
            (n, Some(n))
        }
        Some((lo, hi)) => (
            if lo.is_empty() { 0 } else { number(lo)? },
            if hi.is_empty() {
                None
            } else {
                Some(number(hi)?)
            },
        ),
    };
    Some((min, max, end + 1))
}

/// One step of a compiled pattern.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// Consume one character that the atom at this byte offset of the pattern matches.
    Char(u16),
    /// Go on at both steps (a choice the pattern leaves open).
    Split(u8, u8),
    Jump(u8),
    /// `^`: only at the start of the text.
    Start,
    /// `$`: only at the end of the text, or before a newline that ends it (Python's rule).
    End,
    /// The pattern matched (a prefix match: the rest of the text does not matter).
    Match,
}

/// A pattern compiled to steps, run as a set of live steps per text position.
struct Program {
    steps: heapless::Vec<Step, MAX_PATTERN_STEPS>,
}

impl Program {
    fn compile(pattern: &str) -> Result<Program, PatternError> {
        let mut program = Program {
            steps: heapless::Vec::new(),
        };
        // a|b|c: Split(a, next) a Jump(end) Split(b, next) b Jump(end) c; each Jump is
        // patched to the end once it is known.
        let mut jumps: heapless::Vec<u8, MAX_PATTERN_STEPS> = heapless::Vec::new();
        let mut alternatives = split_alternatives(pattern)?.peekable();
        while let Some(alternative) = alternatives.next() {
            let offset = alternative.as_ptr() as usize - pattern.as_ptr() as usize;
            let last = alternatives.peek().is_none();
            let split = program.here()?;
            if !last {
                program.push(Step::Split(0, 0))?;
            }
            program.sequence(pattern, offset, offset + alternative.len())?;
            if !last {
                jumps
                    .push(program.here()?)
                    .map_err(|_| PatternError::TooLong)?;
                program.push(Step::Jump(0))?;
                let next = program.here()?;
                program.steps[split as usize] = Step::Split(split + 1, next);
            }
        }
        let end = program.here()?;
        program.push(Step::Match)?;
        for &j in &jumps {
            program.steps[j as usize] = Step::Jump(end);
        }
        Ok(program)
    }

    fn here(&self) -> Result<u8, PatternError> {
        u8::try_from(self.steps.len()).map_err(|_| PatternError::TooLong)
    }

    fn push(&mut self, step: Step) -> Result<(), PatternError> {
        self.steps.push(step).map_err(|_| PatternError::TooLong)
    }

    /// Compiles `pattern[start..end]`, a sequence of quantified atoms and anchors.
    fn sequence(&mut self, pattern: &str, start: usize, end: usize) -> Result<(), PatternError> {
        let mut at = start;
        while at < end {
            let rest = &pattern[at..end];
            match rest.as_bytes()[0] {
                b'^' => {
                    self.push(Step::Start)?;
                    at += 1;
                    continue;
                }
                b'$' => {
                    self.push(Step::End)?;
                    at += 1;
                    continue;
                }
                _ => {}
            }
            let atom_len = match rest.as_bytes()[0] {
                // Python reads a `{` that starts no valid repeat as a literal.
                b'{' if parse_braces(rest).is_none() => 1,
                _ => parse_atom(rest)?.1,
            };
            let (min, max, _lazy, q_len) = parse_quantifier(&rest[atom_len..])?;
            let atom = u16::try_from(at).map_err(|_| PatternError::TooLong)?;
            // Greedy and lazy repeats match the same texts; only which match differs, and
            // `re.match` here only asks whether there is one.
            for _ in 0..min {
                self.push(Step::Char(atom))?;
            }
            if max == usize::MAX {
                // x*: Split(x, out) x Jump(split)
                let split = self.here()?;
                self.push(Step::Split(0, 0))?;
                self.push(Step::Char(atom))?;
                self.push(Step::Jump(split))?;
                let out = self.here()?;
                self.steps[split as usize] = Step::Split(split + 1, out);
            } else {
                // Up to max - min more: Split(x, out) x Split(x, out) x …, all to one out.
                let optional = max - min;
                if optional > MAX_PATTERN_STEPS {
                    return Err(PatternError::TooLong);
                }
                let first = self.steps.len();
                for _ in 0..optional {
                    self.push(Step::Split(0, 0))?;
                    self.push(Step::Char(atom))?;
                }
                let out = self.here()?;
                for k in 0..optional {
                    let split = first + 2 * k;
                    self.steps[split] = Step::Split(split as u8 + 1, out);
                }
            }
            at += atom_len + q_len;
        }
        Ok(())
    }

    fn matches_prefix(&self, pattern: &str, text: &str) -> bool {
        let mut live = StepSet::EMPTY;
        self.add(&mut live, 0, text, 0);
        for (i, c) in text.char_indices() {
            if live.contains(self.match_step()) {
                return true;
            }
            let mut next = StepSet::EMPTY;
            for s in live.iter() {
                if let Step::Char(atom) = self.steps[s] {
                    let atom_text = &pattern[atom as usize..];
                    let matched = match atom_text.as_bytes()[0] {
                        b'{' if parse_braces(atom_text).is_none() => c == '{',
                        _ => parse_atom(atom_text).is_ok_and(|(a, _)| a.matches(c)),
                    };
                    if matched {
                        self.add(&mut next, s + 1, text, i + c.len_utf8());
                    }
                }
            }
            if next.is_empty() {
                return false;
            }
            live = next;
        }
        live.contains(self.match_step())
    }

    fn match_step(&self) -> usize {
        self.steps.len() - 1
    }

    /// Adds step `s` and every step reachable from it without consuming a character, at
    /// byte `at` of `text`.
    fn add(&self, set: &mut StepSet, s: usize, text: &str, at: usize) {
        let mut pending: heapless::Vec<u8, MAX_PATTERN_STEPS> = heapless::Vec::new();
        let _ = pending.push(s as u8);
        while let Some(s) = pending.pop() {
            let s = s as usize;
            if set.contains(s) {
                continue;
            }
            set.insert(s);
            let mut follow = |t: u8| {
                if !set.contains(t as usize) {
                    // At most one entry per step: the set has room for every step.
                    let _ = pending.push(t);
                }
            };
            match self.steps[s] {
                Step::Split(a, b) => {
                    follow(b);
                    follow(a);
                }
                Step::Jump(t) => follow(t),
                Step::Start if at == 0 => follow(s as u8 + 1),
                Step::End if at == text.len() || &text[at..] == "\n" => follow(s as u8 + 1),
                Step::Start | Step::End | Step::Char(_) | Step::Match => {}
            }
        }
    }
}

/// A set of steps, one bit each.
#[derive(Clone, Copy)]
struct StepSet([u32; MAX_PATTERN_STEPS / 32]);

impl StepSet {
    const EMPTY: StepSet = StepSet([0; MAX_PATTERN_STEPS / 32]);

    fn contains(&self, s: usize) -> bool {
        self.0[s / 32] & (1 << (s % 32)) != 0
    }

    fn insert(&mut self, s: usize) {
        self.0[s / 32] |= 1 << (s % 32);
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_PATTERN_STEPS).filter(|&s| self.contains(s))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
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
    fn no_backtracking_blow_up() {
        // A backtracking matcher tries about 2^60 ways here (Python's re takes minutes).
        let pattern = "a*a*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!m(pattern, &"a".repeat(64)));
        assert!(m(pattern, &["a".repeat(64), "b".into()].concat()));
        assert!(!m(".*.*.*.*.*.*.*.*=", &"x".repeat(10_000)));
    }

    #[test]
    fn anchors_anywhere() {
        assert!(m("^a|^b", "b"));
        assert!(!m("a^b", "ab"));
        assert!(!m("a$b", "ab"));
        assert!(m("dense$", "dense\n"));
    }

    #[test]
    fn counted_repeats_are_bounded() {
        assert!(m("a{3}", "aaa"));
        assert!(!m("a{3}", "aa"));
        assert!(m(
            &"a".repeat(MAX_PATTERN_STEPS - 1),
            &"a".repeat(MAX_PATTERN_STEPS)
        ));
        assert_eq!(matches_prefix("a{200}", "a"), Err(PatternError::TooLong));
        assert_eq!(matches_prefix("a{0,200}", "a"), Err(PatternError::TooLong));
        assert_eq!(
            matches_prefix("a{0,18446744073709551615}", "a"),
            Err(PatternError::Invalid)
        );
        assert_eq!(matches_prefix("a{3,2}", "a"), Err(PatternError::Invalid));
        assert_eq!(matches_prefix("a**", "a"), Err(PatternError::Invalid));
        assert_eq!(matches_prefix("a*+", "a"), Err(PatternError::Unsupported));
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
