//! kiln's `layer_range` matcher against Python's own `re.match` on 3,000 random patterns
//! (`tests/fixtures/patterns/generate.py`): the same answer for every pattern kiln accepts,
//! an error wherever Python raises, and groups and possessive repeats (`a*+`) the only
//! valid syntax it refuses.

use kiln::summary::pattern::{matches_prefix, PatternError};
use serde_json::Value;

/// Python syntax kiln refuses by design (README): groups and possessive repeats.
fn refusable(pattern: &str) -> bool {
    pattern.contains(['(', ')']) || ["*+", "++", "?+", "}+"].iter().any(|p| pattern.contains(p))
}

#[test]
fn same_answers_as_python_re_match() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/patterns/cases.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (mut compared, mut refused) = (0, 0);
    for case in &cases {
        let pattern = case["pattern"].as_str().unwrap();
        if case["error"].as_bool() == Some(true) {
            assert!(
                matches_prefix(pattern, "dense").is_err(),
                "Python refuses {pattern:?}; kiln accepts it"
            );
            continue;
        }
        let texts = case["texts"].as_array().unwrap();
        let want = case["match"].as_array().unwrap();
        for (text, want) in texts.iter().zip(want) {
            let text = text.as_str().unwrap();
            match matches_prefix(pattern, text) {
                Ok(got) => {
                    assert_eq!(Some(got), want.as_bool(), "re.match({pattern:?}, {text:?})");
                    compared += 1;
                }
                Err(PatternError::Unsupported) if refusable(pattern) => refused += 1,
                Err(e) => panic!("re.match({pattern:?}, {text:?}): kiln says {e:?}"),
            }
        }
    }
    eprintln!("{compared} answers compared with Python, {refused} refused");
    assert!(compared > 15_000, "only {compared} answers compared");
    assert!(refused < compared / 5, "{refused} refused");
}
