//! The README's copy-paste code is the code the tests build: the "Your own firmware"
//! main.rs is `firmware-examples/your-own/src/main.rs`, which tests/run.sh builds and runs
//! on QEMU.

#[test]
fn your_own_firmware_in_the_readme_is_the_one_that_is_tested() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let file =
        std::fs::read_to_string(format!("{root}/firmware-examples/your-own/src/main.rs")).unwrap();
    let block = readme
        .split_once("<!-- your-own/src/main.rs -->\n```rust\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(code, _)| code)
        .expect("README has the your-own main.rs block");
    assert_eq!(
        block, file,
        "README.md and firmware-examples/your-own/src/main.rs differ"
    );
}

/// The README's dependency line takes the features the tested firmware builds with.
#[test]
fn your_own_firmware_dependency_line_in_the_readme_is_the_tested_one() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let manifest =
        std::fs::read_to_string(format!("{root}/firmware-examples/your-own/Cargo.toml")).unwrap();
    let kiln_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("kiln = { path = "))
            .and_then(|l| l.split_once(", ").map(|(_, rest)| rest.to_string()))
    };
    let tested = kiln_line(&manifest).expect("your-own/Cargo.toml depends on kiln");
    assert!(tested.contains("default-features = false"), "{tested}");
    assert_eq!(kiln_line(&readme).as_deref(), Some(tested.as_str()));
}
